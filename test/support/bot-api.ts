// A Telegram Bot API stand-in for tests: an HTTP server answering /bot<token>/<method> the way
// api.telegram.org does, recording every call. Telegram's rules live in bot-api-state.ts (shared
// with the in-process recorder), the update queue and webhook in bot-api-updates.ts.
//
//   const api = new BotApiStandIn({ token });
//   await api.listen();
//   const bot = new Bot(token, { client: { apiRoot: api.apiRoot } });
//   api.sendText(alice, '/start');
//   const reply = await api.waitForMessage(alice.id);
//   await api.close();
//
// Sent messages keep the rendered text in `message.text` (HTML parsed, as Telegram stores it) and
// the raw request in `params.text`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Message, Update } from 'grammy/types';
import {
  ApiError, buttonsOf, TelegramState, type ApiErrorBody, type ApiRequest, type MessageRef, type RecordedFile,
  type SentMessage, type TelegramStateOptions, type UserInput,
} from './bot-api-state.js';
import { UPDATE_METHODS, UpdateSource, type WebhookOptions } from './bot-api-updates.js';
import { parseMultipart } from './multipart.js';

export * from './bot-api-state.js';

export interface RecordedCall {
  method: string;
  /** Request parameters, JSON-valued form fields decoded. */
  params: Record<string, unknown>;
  /** Uploaded files by the field that references them (`document`, `photo`). */
  files: Record<string, RecordedFile>;
  at: number;
  /** Filled in once answered (a long poll is recorded when it arrives). */
  ok?: boolean;
  result?: unknown;
  error?: ApiErrorBody;
}

export interface BotApiStandInOptions extends Omit<TelegramStateOptions, 'bot'> {
  /** Its number before the colon is the bot's user id, as in Telegram. */
  token: string;
  botUsername?: string;
  /** false: a webhook the bot sets is never called; the test delivers updates itself. Default true. */
  webhookDelivery?: boolean;
  /** How the webhook is called: the CA to trust for https://, back-off and timeout (small in tests). */
  webhook?: Omit<WebhookOptions, 'delivery'>;
}

/** Form fields that stay strings even when they look like JSON (an all-digit callback query id). */
const TEXT_FIELDS = new Set(['text', 'caption', 'callback_query_id', 'secret_token', 'url', 'parse_mode', 'photo', 'document']);

/** Telegram's chat state (the inspection methods are TelegramState's), answered over HTTP. */
export class BotApiStandIn extends TelegramState {
  readonly token: string;
  readonly calls: RecordedCall[] = [];
  private readonly updates: UpdateSource;
  private server: http.Server | null = null;
  private waiters: { predicate: (c: RecordedCall) => boolean; since: number; settle: (c: RecordedCall | Error) => void }[] = [];
  private late: { method: string; ms: number; chatId: number | undefined }[] = [];

  constructor(opts: BotApiStandInOptions) {
    const bot = { id: Number(opts.token.split(':')[0]), is_bot: true, first_name: 'Test Bot', username: opts.botUsername ?? 'test_standin_bot' };
    super({ ...opts, bot });
    this.token = opts.token;
    this.updates = new UpdateSource({ ...opts.webhook, delivery: opts.webhookDelivery ?? true });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    const server = http.createServer((req, res) => {
      this.handleHttp(req, res).catch((err: unknown) => {
        if (res.headersSent) res.destroy();
        else writeJson(res, 500, { ok: false, error_code: 500, description: `Internal Server Error: ${String(err)}` });
      });
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  get apiRoot(): string {
    if (!this.server) throw new Error('BotApiStandIn is not listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get webhookDeliveries(): UpdateSource['webhookDeliveries'] {
    return this.updates.webhookDeliveries;
  }

  /** The most webhook POSTs that were in flight at once. */
  get webhookPeakInFlight(): number {
    return this.updates.peakInFlight;
  }

  async close(): Promise<void> {
    this.updates.close();
    for (const w of this.waiters) w.settle(new Error('BotApiStandIn closed while waiting for a call'));
    const server = this.server;
    if (!server) return;
    this.server = null;
    // Let the released polls' empty answers go out before the sockets are cut.
    await new Promise((r) => setTimeout(r, 20));
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ------------------------------------------------------------ driving the bot

  /** Queues an update; the users it comes from count as having written to the bot. */
  pushUpdate(update: object): Update {
    const queued = this.updates.push(update);
    this.noteUpdate(queued);
    return queued;
  }

  /** A private-chat text message from `from` (with a bot_command entity for /commands). */
  sendText(from: UserInput, text: string): Update {
    return this.pushUpdate({ message: this.userMessage(from, text) });
  }

  /** A press of a button under `message` with this data (not checked against the keyboard: stale or forged data can be tested). */
  pressButton(from: UserInput, message: MessageRef | SentMessage, data: string): Update {
    return this.pushUpdate({ callback_query: this.callbackQuery(from, 'chatId' in message ? message.message : message, data) });
  }

  /** Presses the callback button whose text matches; throws listing the buttons if none does. */
  clickButton(from: UserInput, message: Message | SentMessage, text: string | RegExp): Update {
    const m = 'chatId' in message ? message.message : message;
    const current = this.messageIn(m.chat.id, m.message_id) ?? m;
    const button = buttonsOf(current).find((b) => (typeof text === 'string' ? b.text === text : text.test(b.text)));
    if (button?.callback_data === undefined) {
      throw new Error(`no callback button ${String(text)} under message ${m.message_id}; buttons: ${JSON.stringify(buttonsOf(current).map((b) => [b.text, b.callback_data ?? b.url]))}`);
    }
    return this.pressButton(from, current, button.callback_data);
  }

  /**
   * The next call of `method` (to `chatId`, when given) is performed and recorded at once, but its
   * answer leaves only after `ms`: a test can kill the bot while Telegram has the message and the bot does not know.
   */
  answerLate(method: string, ms: number, chatId?: number): void {
    this.late.push({ method, ms, chatId });
  }

  // ------------------------------------------------------------ inspecting calls

  /** Index to pass as `since` so waitFor only considers calls made from now on. */
  mark(): number {
    return this.calls.length;
  }

  /** Resolves with the first finished call from index `since` on (past or future) that matches. */
  waitFor(predicate: (call: RecordedCall) => boolean, timeoutMs = 10_000, since = 0): Promise<RecordedCall> {
    const hit = this.calls.slice(since).find((c) => c.ok !== undefined && predicate(c));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error(`waitFor: no matching Bot API call within ${timeoutMs} ms.\n${describeCalls(this.calls)}`)), timeoutMs);
      const settle = (c: RecordedCall | Error): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w.settle !== settle);
        if (c instanceof Error) reject(c);
        else resolve(c);
      };
      this.waiters.push({ predicate, since, settle });
    });
  }

  /** Resolves with a message sent to the chat (by a call from index `since` on) that matches; its live state. */
  async waitForMessage(chatId: number, predicate: (m: SentMessage) => boolean = () => true, timeoutMs = 10_000, since = 0): Promise<SentMessage> {
    const matching = (c: RecordedCall) => this.messagesTo(chatId).find((m) => m.params === c.params && predicate(m));
    return matching(await this.waitFor((c) => c.ok === true && matching(c) !== undefined, timeoutMs, since))!;
  }

  // ------------------------------------------------------------ HTTP

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const route = /^\/bot([^/]*)\/([^/]*)\/?$/.exec(url.pathname);
    const body = await readBody(req);
    if (!route) return writeJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    if (route[1] !== this.token) return writeJson(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const request = parseRequest(route[2]!, url, req.headers['content-type'] ?? '', body);
    const aborted = new Promise<void>((resolve) => res.on('close', () => resolve()));
    const call = await this.execute(request, aborted);
    if (call.ok) writeJson(res, 200, { ok: true, result: call.result });
    else writeJson(res, call.error!.error_code, { ok: false, ...call.error });
  }

  private async execute(r: ApiRequest, aborted: Promise<void>): Promise<RecordedCall> {
    const call: RecordedCall = { method: r.method, params: r.params, files: r.files, at: Date.now() };
    // A long poll is recorded when it arrives, so a test sees the bot waiting.
    const isPoll = r.method === 'getUpdates';
    if (isPoll) this.calls.push(call);
    try {
      const delegate = UPDATE_METHODS.has(r.method) ? (q: ApiRequest) => this.updates.handle(q.method, q.params, aborted) : undefined;
      call.result = await this.perform(r, delegate);
      call.ok = true;
    } catch (err) {
      call.ok = false;
      call.error = err instanceof ApiError ? err.body : { error_code: 500, description: `Internal Server Error: ${String(err)}` };
    }
    const index = isPoll ? this.calls.indexOf(call) : this.calls.push(call) - 1;
    for (const w of this.waiters) {
      if (index >= w.since && w.predicate(call)) w.settle(call);
    }
    const late = this.late.findIndex((l) => l.method === r.method && (l.chatId === undefined || l.chatId === r.params.chat_id));
    if (late >= 0) await new Promise((resolve) => setTimeout(resolve, this.late.splice(late, 1)[0]!.ms));
    return call;
  }
}

function writeJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function decodeField(key: string, value: string): unknown {
  if (TEXT_FIELDS.has(key)) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** Query string, JSON or multipart parameters (what grammY sends); a file part is recorded under the field that says `attach://<part>`. */
function parseRequest(method: string, url: URL, contentType: string, body: Buffer): ApiRequest {
  const params: Record<string, unknown> = {};
  const files: Record<string, RecordedFile> = {};
  for (const [k, v] of url.searchParams) params[k] = decodeField(k, v);
  const ct = contentType.toLowerCase();
  if (body.length > 0 && ct.startsWith('application/json')) {
    Object.assign(params, JSON.parse(body.toString('utf8')) as object);
  } else if (body.length > 0 && ct.startsWith('multipart/form-data')) {
    const mp = parseMultipart(body, contentType);
    for (const [k, v] of mp.fields) params[k] = decodeField(k, v);
    for (const [part, file] of mp.files) files[Object.keys(params).find((k) => params[k] === `attach://${part}`) ?? part] = file;
  }
  return { method, params, files };
}

function describeCalls(calls: RecordedCall[]): string {
  const lines = calls
    .filter((c) => c.method !== 'getUpdates')
    .slice(-15)
    .map((c) => {
      const outcome = c.ok === false ? ` -> ${c.error?.error_code} ${c.error?.description}` : '';
      const files = Object.keys(c.files).length ? ` files=${Object.keys(c.files).join(',')}` : '';
      return `  ${c.method} ${JSON.stringify(c.params).slice(0, 400)}${files}${outcome}`;
    });
  return `Recent calls (${calls.length} in all, getUpdates not listed):\n${lines.join('\n') || '  (none)'}`;
}
