// Test-side handle on a BotApiStandIn running in its own process (bot-api-process.ts), usually
// inside the network namespace where the bot runs:
//
//   const api = await StandInClient.start({ netns: lab.serverNs, token });
//   // start the bot in lab.serverNs with apiRoot = api.apiRoot
//   await api.sendText(alice, '/start');
//   const call = await api.waitFor((c) => c.method === 'sendMessage');
//   await api.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Message, Update } from 'grammy/types';
import type { ApiErrorBody, MessageRef, RecordedCall, SentMessage, UserInput } from './bot-api.js';
import type { WebhookDelivery } from './bot-api-updates.js';
import { filesFromWire, type WireCall, type WireSentMessage } from './bot-api-wire.js';

export interface StandInStartOptions {
  token: string;
  /** Run inside this network namespace (`ip netns exec <netns> node …`). */
  netns?: string;
  /** Control socket path; a fresh one under os.tmpdir() by default. */
  socketPath?: string;
  /** Bot API port inside the namespace; 0 (default) picks a free one. */
  port?: number;
  startTimeoutMs?: number;
  /** false: webhooks the bot sets are not called; the test delivers updates itself (deliver()). */
  webhookDelivery?: boolean;
  /** PEM file of the CA an https:// webhook must chain to; back-off (`[base, cap]` ms) and timeout of webhook POSTs. */
  webhookCaFile?: string;
  webhookRetryMs?: [number, number];
  webhookTimeoutMs?: number;
  /**
   * Flood limits (BotApiStandInOptions.rateLimit): Telegram's 30 a second over all chats and 1 a
   * second per chat by default; a field left out keeps its default; false turns both off (only for
   * measuring something other than pacing).
   */
  rateLimit?: { perSecond?: number; perChatPerSecond?: number } | false;
  /** false: the bot may message users who never wrote to it (BotApiStandInOptions.requireStartedChat). Default true. */
  requireStartedChat?: boolean;
}

/** StandInStartOptions.rateLimit → STANDIN_RATE_LIMIT (bot-api-process.ts); undefined: the default. */
function rateLimitEnv(rateLimit: StandInStartOptions['rateLimit']): string | undefined {
  if (rateLimit === undefined) return undefined;
  if (rateLimit === false) return 'off';
  return `${rateLimit.perSecond ?? ''},${rateLimit.perChatPerSecond ?? ''}`;
}

const SCRIPT = fileURLToPath(new URL('./bot-api-process.ts', import.meta.url));
const PROJECT_ROOT = path.resolve(path.dirname(SCRIPT), '..', '..');
const MAX_LOG = 64 * 1024;

function controlRequest(socketPath: string, method: 'GET' | 'POST', urlPath: string, body?: unknown, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath,
        path: urlPath,
        method,
        agent: false,
        headers: data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`stand-in control ${method} ${urlPath} → ${res.statusCode}: ${text}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as unknown);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`stand-in control ${method} ${urlPath} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

function fromWireCall(c: WireCall): RecordedCall {
  return { ...c, files: filesFromWire(c.files) };
}

export class StandInClient {
  private cache: RecordedCall[] = [];
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private stderrText = '';
  private stdoutText = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly socketPath: string,
    readonly netns: string | undefined,
    exitPromise: Promise<void>,
  ) {
    this.exitPromise = exitPromise;
  }

  /** `http://127.0.0.1:<port>` — valid inside the namespace the stand-in runs in. */
  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** What the process wrote to stderr so far (capped). */
  get stderr(): string {
    return this.stderrText;
  }

  static async start(opts: StandInStartOptions): Promise<StandInClient> {
    const socketPath =
      opts.socketPath ?? path.join(os.tmpdir(), `standin-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
    const nodeArgv = [process.execPath, '--import', 'tsx', SCRIPT];
    const argv = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...nodeArgv] : nodeArgv;
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        STANDIN_TOKEN: opts.token,
        STANDIN_PORT: String(opts.port ?? 0),
        STANDIN_CONTROL_SOCKET: socketPath,
        STANDIN_EXIT_ON_STDIN_END: '1',
        ...(opts.webhookDelivery === false ? { STANDIN_WEBHOOK_DELIVERY: 'off' } : {}),
        ...(opts.webhookCaFile ? { STANDIN_WEBHOOK_CA: opts.webhookCaFile } : {}),
        ...(opts.webhookRetryMs ? { STANDIN_WEBHOOK_RETRY_MS: opts.webhookRetryMs.join(',') } : {}),
        ...(opts.webhookTimeoutMs !== undefined ? { STANDIN_WEBHOOK_TIMEOUT_MS: String(opts.webhookTimeoutMs) } : {}),
        STANDIN_RATE_LIMIT: rateLimitEnv(opts.rateLimit) ?? '',
        STANDIN_REQUIRE_STARTED: opts.requireStartedChat === false ? 'off' : 'on',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    let client: StandInClient | null = null;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      if (client) client.stderrText = (client.stderrText + d).slice(-MAX_LOG);
      else stderr = (stderr + d).slice(-MAX_LOG);
    });
    child.stdin?.on('error', () => undefined);
    const exitPromise = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });

    const port = await new Promise<number>((resolve, reject) => {
      const timeoutMs = opts.startTimeoutMs ?? 20_000;
      const fail = (why: string): void => {
        cleanup();
        reject(new Error(`stand-in process ${why}\nargv: ${argv.join(' ')}\nstderr:\n${stderr}\nstdout:\n${stdout}`));
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(`did not report its port within ${timeoutMs} ms`);
      }, timeoutMs);
      const onData = (d: string): void => {
        stdout = (stdout + d).slice(-MAX_LOG);
        for (const line of stdout.split('\n')) {
          const m = /^\{"port":(\d+)\}\s*$/.exec(line.trim());
          if (m) {
            cleanup();
            resolve(Number(m[1]));
            return;
          }
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        fail(`exited before it was ready (code ${code}, signal ${signal})`);
      const onError = (err: Error): void => fail(`could not be spawned: ${err.message}`);
      const cleanup = (): void => {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
      child.once('error', onError);
    });

    client = new StandInClient(child, port, socketPath, opts.netns, exitPromise);
    client.stderrText = stderr;
    client.stdoutText = stdout;
    const c = client;
    // Keep draining stdout so the child never blocks on a full pipe.
    child.stdout?.on('data', (d: string) => {
      c.stdoutText = (c.stdoutText + d).slice(-MAX_LOG);
    });
    void exitPromise.then(() => {
      c.exited = true;
    });
    return client;
  }

  private control(method: 'GET' | 'POST', urlPath: string, body?: unknown, timeoutMs?: number): Promise<unknown> {
    if (this.exited) {
      return Promise.reject(new Error(`stand-in process has exited\nstderr:\n${this.stderrText}`));
    }
    return controlRequest(this.socketPath, method, urlPath, body, timeoutMs);
  }

  async sendText(from: UserInput, text: string): Promise<Update> {
    return (await this.control('POST', '/sendText', { from, text })) as Update;
  }

  async pressButton(from: UserInput, message: MessageRef | SentMessage, data: string): Promise<Update> {
    return (await this.control('POST', '/pressButton', { from, message: toMessage(message), data })) as Update;
  }

  /** Presses the inline button with exactly this text (rejects listing the buttons if none). */
  async clickButton(from: UserInput, message: Message | SentMessage, text: string): Promise<Update> {
    return (await this.control('POST', '/clickButton', { from, message: toMessage(message), text })) as Update;
  }

  async pushUpdate(update: object): Promise<Update> {
    return (await this.control('POST', '/pushUpdate', { update })) as Update;
  }

  /**
   * POSTs an update to a webhook URL from inside the stand-in's namespace, with the secret header:
   * the test playing Telegram, or the load balancer in front of several replicas.
   */
  async deliver(url: string, update: Update, secret?: string): Promise<{ status: number; body: string }> {
    return (await this.control('POST', '/deliver', { url, update, secret }, 70_000)) as { status: number; body: string };
  }

  /** The webhook POSTs made so far and the most that were in flight at once. */
  async webhook(): Promise<{ deliveries: WebhookDelivery[]; peakInFlight: number }> {
    return (await this.control('GET', '/webhook')) as { deliveries: WebhookDelivery[]; peakInFlight: number };
  }

  async failNext(method: string, error: ApiErrorBody, times = 1): Promise<void> {
    await this.control('POST', '/failNext', { method, error, times });
  }

  /** See BotApiStandIn.answerLate. */
  async answerLate(method: string, ms: number, chatId?: number): Promise<void> {
    await this.control('POST', '/answerLate', { method, ms, chatId });
  }

  /** This user started the bot before the test began: the bot may message them. No update is queued. */
  async knowUser(user: UserInput): Promise<void> {
    await this.control('POST', '/knowUser', { user });
  }

  async unansweredCallbackQueries(): Promise<string[]> {
    return (await this.control('GET', '/unansweredCallbackQueries')) as string[];
  }

  /** All calls so far (files decoded to Buffers). Finished calls are cached; pending polls refetched. */
  async calls(): Promise<RecordedCall[]> {
    let since = this.cache.findIndex((c) => c.ok === undefined);
    if (since < 0) since = this.cache.length;
    const res = (await this.control('GET', `/calls?since=${since}`)) as { since: number; calls: WireCall[] };
    this.cache = [...this.cache.slice(0, res.since), ...res.calls.map(fromWireCall)];
    return [...this.cache];
  }

  /** Index for `since`: only calls made after this point are considered by waitFor. */
  async mark(): Promise<number> {
    return (await this.calls()).length;
  }

  async messagesTo(chatId: number): Promise<SentMessage[]> {
    const list = (await this.control('GET', `/messages?chatId=${chatId}`)) as WireSentMessage[];
    return list.map((m) => ({ ...m, files: filesFromWire(m.files) }));
  }

  /** Polls (~100 ms) until a finished call from index `since` on matches. */
  async waitFor(predicate: (call: RecordedCall) => boolean, timeoutMs = 10_000, since = 0): Promise<RecordedCall> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const calls = await this.calls();
      const hit = calls.slice(since).find((c) => c.ok !== undefined && predicate(c));
      if (hit) return hit;
      if (Date.now() >= deadline) {
        const recent = calls
          .filter((c) => c.method !== 'getUpdates')
          .slice(-15)
          .map((c) => `  ${c.method} ${JSON.stringify(c.params).slice(0, 300)}${c.ok === false ? ` -> ${c.error?.description}` : ''}`);
        throw new Error(
          `waitFor: no matching Bot API call within ${timeoutMs} ms (${calls.length} calls).\n` +
            `${recent.join('\n') || '  (none besides getUpdates)'}\nstand-in stderr:\n${this.stderrText}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Waits for a message sent to `chatId` by a call at index >= `since` for which `predicate`
   * (applied to the message as sent) holds; returns its live state (edits applied).
   */
  async waitForMessage(
    chatId: number,
    predicate: (m: SentMessage) => boolean = () => true,
    timeoutMs = 10_000,
    since = 0,
  ): Promise<SentMessage> {
    let found: SentMessage | undefined;
    await this.waitFor(
      (c) => {
        found = sentFromCall(c).find((m) => m.chatId === chatId && predicate(m));
        return found !== undefined;
      },
      timeoutMs,
      since,
    );
    const hit = found as SentMessage | undefined;
    if (!hit) throw new Error('waitForMessage: lost the match');
    const live = (await this.messagesTo(chatId)).find((m) => m.sent.message_id === hit.sent.message_id);
    return live ?? hit;
  }

  /** SIGTERM, then SIGKILL after 3 s; removes the control socket. Safe to call twice. */
  async stop(): Promise<void> {
    if (!this.exited && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const killed = await Promise.race([
        this.exitPromise.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), 3000)),
      ]);
      if (killed) {
        this.child.kill('SIGKILL');
        await this.exitPromise;
      }
    }
    this.child.stdin?.destroy();
    fs.rmSync(this.socketPath, { force: true });
  }
}

function toMessage(m: MessageRef | SentMessage): MessageRef {
  return 'chatId' in m ? m.message : m;
}

const SEND_METHODS = new Set(['sendMessage', 'sendPhoto', 'sendDocument', 'sendMediaGroup']);

function sentFromCall(c: RecordedCall): SentMessage[] {
  if (c.ok !== true || !SEND_METHODS.has(c.method)) return [];
  const results = (Array.isArray(c.result) ? c.result : [c.result]) as Message[];
  return results.map((message) => ({
    method: c.method,
    chatId: message.chat.id,
    message,
    sent: message,
    params: c.params,
    files: c.files,
    at: c.at,
  }));
}
