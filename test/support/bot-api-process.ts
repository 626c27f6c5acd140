// Runs a BotApiStandIn as its own process, typically inside a network namespace:
//   ip netns exec NS node --import tsx test/support/bot-api-process.ts
// env: STANDIN_TOKEN, STANDIN_PORT (0 = random), STANDIN_CONTROL_SOCKET (unix socket path),
//      STANDIN_EXIT_ON_STDIN_END=1 to exit when the parent closes our stdin (orphan guard),
//      STANDIN_WEBHOOK_DELIVERY=off when the test delivers updates itself (POST /deliver),
//      STANDIN_RATE_LIMIT: `off`, or `<global>,<perChat>` messages a second (e.g. `30,1`, an empty
//        part keeps its default, `Infinity` lifts it); unset: Telegram's limits (DEFAULT_RATE_LIMIT),
//      STANDIN_REQUIRE_STARTED=off to let the bot message users who never wrote to it,
//      STANDIN_WEBHOOK_CA: PEM file of the CA an https:// webhook must chain to,
//      STANDIN_WEBHOOK_RETRY_MS: `<base>,<cap>` back-off of webhook retries, STANDIN_WEBHOOK_TIMEOUT_MS.
// The Bot API listens on 127.0.0.1 of the namespace; the control API listens on the unix
// socket, which the test process outside the namespace can reach (unix sockets are not
// network-namespaced). Prints one line `{"port":N}` on stdout once both are listening.
import fs from 'node:fs';
import http from 'node:http';
import { BotApiStandIn, type BotApiStandInOptions } from './bot-api.js';
import { filesToWire, type WireCall, type WireSentMessage } from './bot-api-wire.js';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const parsed = JSON.parse(text) as unknown;
  if (typeof parsed !== 'object' || parsed === null) throw new HttpError(400, 'body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** STANDIN_RATE_LIMIT → BotApiStandInOptions.rateLimit (undefined: the stand-in's default). */
function parseRateLimit(value: string | undefined): BotApiStandInOptions['rateLimit'] {
  if (value === undefined || value.trim() === '') return undefined;
  if (value.trim().toLowerCase() === 'off') return false;
  const parts = value.split(',').map((x) => x.trim());
  const [global, perChat] = parts.map((x) => (x === '' ? undefined : Number(x)));
  if (parts.length > 2 || [global, perChat].some((n) => n !== undefined && !(n >= 1))) {
    throw new Error(`STANDIN_RATE_LIMIT must be "off" or "<global>,<perChat>" messages a second (e.g. "30,1"), got ${JSON.stringify(value)}`);
  }
  return { ...(global !== undefined ? { perSecond: global } : {}), ...(perChat !== undefined ? { perChatPerSecond: perChat } : {}) };
}

/** The webhook's CA, back-off and timeout from STANDIN_WEBHOOK_*; unset ones keep their defaults. */
function webhookOptions(env: NodeJS.ProcessEnv): BotApiStandInOptions['webhook'] {
  const [retryBaseMs, retryCapMs] = (env.STANDIN_WEBHOOK_RETRY_MS ?? '').split(',').map((x) => (x.trim() === '' ? undefined : Number(x)));
  const timeoutMs = env.STANDIN_WEBHOOK_TIMEOUT_MS ? Number(env.STANDIN_WEBHOOK_TIMEOUT_MS) : undefined;
  return {
    ...(env.STANDIN_WEBHOOK_CA ? { ca: fs.readFileSync(env.STANDIN_WEBHOOK_CA) } : {}),
    ...(retryBaseMs !== undefined ? { retryBaseMs } : {}),
    ...(retryCapMs !== undefined ? { retryCapMs } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

async function main(): Promise<void> {
  const token = process.env.STANDIN_TOKEN;
  const socketPath = process.env.STANDIN_CONTROL_SOCKET;
  const port = Number(process.env.STANDIN_PORT ?? '0');
  if (!token || !socketPath || !Number.isInteger(port)) {
    throw new Error('STANDIN_TOKEN and STANDIN_CONTROL_SOCKET are required; STANDIN_PORT must be an integer');
  }

  const rateLimit = parseRateLimit(process.env.STANDIN_RATE_LIMIT);
  const api = new BotApiStandIn({
    token,
    webhookDelivery: process.env.STANDIN_WEBHOOK_DELIVERY !== 'off',
    webhook: webhookOptions(process.env),
    ...(rateLimit !== undefined ? { rateLimit } : {}),
    requireStartedChat: process.env.STANDIN_REQUIRE_STARTED !== 'off',
  });
  const apiPort = await api.listen(port, '127.0.0.1');

  const route = async (req: http.IncomingMessage): Promise<unknown> => {
    const url = new URL(req.url ?? '/', 'http://control');
    const key = `${req.method ?? 'GET'} ${url.pathname}`;
    switch (key) {
      case 'GET /health':
        return { port: apiPort };
      case 'POST /sendText': {
        const b = await readJson(req);
        return api.sendText(b.from as Parameters<BotApiStandIn['sendText']>[0], String(b.text));
      }
      case 'POST /pressButton': {
        const b = await readJson(req);
        return api.pressButton(
          b.from as Parameters<BotApiStandIn['pressButton']>[0],
          b.message as Parameters<BotApiStandIn['pressButton']>[1],
          String(b.data),
        );
      }
      case 'POST /clickButton': {
        const b = await readJson(req);
        try {
          return api.clickButton(
            b.from as Parameters<BotApiStandIn['clickButton']>[0],
            b.message as Parameters<BotApiStandIn['clickButton']>[1],
            String(b.text),
          );
        } catch (err) {
          throw new HttpError(404, err instanceof Error ? err.message : String(err));
        }
      }
      case 'GET /webhook':
        return { deliveries: api.webhookDeliveries, peakInFlight: api.webhookPeakInFlight };
      case 'POST /pushUpdate': {
        const b = await readJson(req);
        return api.pushUpdate((b.update ?? {}) as object);
      }
      case 'POST /failNext': {
        const b = await readJson(req);
        api.failNext(String(b.method), b.error as Parameters<BotApiStandIn['failNext']>[1], Number(b.times ?? 1));
        return true;
      }
      case 'POST /answerLate': {
        const b = await readJson(req);
        api.answerLate(String(b.method), Number(b.ms), b.chatId === undefined ? undefined : Number(b.chatId));
        return true;
      }
      case 'POST /knowUser': {
        const b = await readJson(req);
        const user = b.user as Parameters<BotApiStandIn['knowUser']>[0] | undefined;
        if (typeof user?.id !== 'number' || typeof user.first_name !== 'string') {
          throw new HttpError(400, 'knowUser: body must be {user: {id, first_name, ...}}');
        }
        api.knowUser(user);
        return true;
      }
      case 'GET /calls': {
        const since = Math.max(0, Number(url.searchParams.get('since') ?? '0') || 0);
        const calls: WireCall[] = api.calls.slice(since).map((c) => ({ ...c, files: filesToWire(c.files) }));
        return { since, total: api.calls.length, calls };
      }
      case 'GET /messages': {
        const chatId = Number(url.searchParams.get('chatId'));
        const messages: WireSentMessage[] = api.messagesTo(chatId).map((m) => ({ ...m, files: filesToWire(m.files) }));
        return messages;
      }
      case 'POST /deliver': {
        // POSTs an update to a webhook URL from inside this namespace, as Telegram (or a load balancer) would.
        const b = await readJson(req);
        const res = await fetch(String(b.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(b.secret ? { 'x-telegram-bot-api-secret-token': String(b.secret) } : {}) },
          body: JSON.stringify(b.update),
          signal: AbortSignal.timeout(60_000),
        });
        return { status: res.status, body: await res.text() };
      }
      case 'GET /unansweredCallbackQueries':
        return api.unansweredCallbackQueries();
      default:
        throw new HttpError(404, `no control route ${key}`);
    }
  };

  const control = http.createServer((req, res) => {
    route(req).then(
      (result) => {
        const text = JSON.stringify(result ?? null);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500;
        const text = JSON.stringify({ error: err instanceof Error ? err.message : String(err) });
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    );
  });

  fs.rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    control.listen(socketPath, () => {
      control.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(socketPath, 0o600);

  let stopping = false;
  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.race([
      Promise.all([
        api.close(),
        new Promise<void>((resolve) => {
          control.close(() => resolve());
          control.closeAllConnections();
        }),
      ]),
      new Promise((resolve) => setTimeout(resolve, 2000)),
    ]);
    fs.rmSync(socketPath, { force: true });
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));
  if (process.env.STANDIN_EXIT_ON_STDIN_END === '1') {
    process.stdin.on('end', () => void shutdown(0));
    process.stdin.on('error', () => void shutdown(0));
    process.stdin.resume();
  }

  process.stdout.write(`${JSON.stringify({ port: apiPort })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bot-api-process: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
