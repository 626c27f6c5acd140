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
import {
  ApiError, buttonsOf, TelegramState, type ApiErrorBody, type ApiRequest, type FloodLimit, type RecordedFile,
  type SentMessage, type TgMessage, type TgUpdate, type TgUser, type UserInput,
} from './bot-api-state.js';
import { UPDATE_METHODS, UpdateSource } from './bot-api-updates.js';
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

export interface BotApiStandInOptions {
  token: string;
  botUsername?: string;
  /** false: a webhook the bot sets is never called; the test delivers updates itself. Default true. */
  webhookDelivery?: boolean;
  /** Flood limits (TelegramStateOptions.rateLimit): Telegram's 30/s overall and 1/s per chat by default. */
  rateLimit?: Partial<FloodLimit> | false;
  /** false: the bot may message users who never wrote to it (only for tests without users). Default true. */
  requireStartedChat?: boolean;
  /** Default 15 000 ms, as Telegram. */
  callbackAnswerTimeoutMs?: number;
}

const METHODS = [...UPDATE_METHODS, 'getMe', 'getChat', 'sendMessage', 'sendPhoto', 'sendDocument', 'editMessageText', 'answerCallbackQuery', 'setMyCommands'];
const METHOD_BY_LOWER = new Map(METHODS.map((m) => [m.toLowerCase(), m]));
/** Form fields that stay strings even when they look like JSON (an all-digit callback query id). */
const TEXT_FIELDS = new Set(['text', 'caption', 'callback_query_id', 'secret_token', 'url', 'parse_mode', 'photo', 'document']);

export class BotApiStandIn {
  readonly token: string;
  readonly bot: TgUser;
  readonly state: TelegramState;
  readonly calls: RecordedCall[] = [];
  private readonly updates: UpdateSource;
  private server: http.Server | null = null;
  private port = 0;
  private waiters: { predicate: (c: RecordedCall) => boolean; since: number; settle: (c: RecordedCall | Error) => void }[] = [];
  private late: { method: string; ms: number; chatId: number | undefined }[] = [];

  constructor(opts: BotApiStandInOptions) {
    this.token = opts.token;
    const idPart = Number(opts.token.split(':')[0]);
    this.bot = { id: Number.isSafeInteger(idPart) && idPart > 0 ? idPart : 7_000_000_001, is_bot: true, first_name: 'Test Bot', username: opts.botUsername ?? 'test_standin_bot' };
    this.state = new TelegramState({ bot: this.bot, ...pick(opts, 'rateLimit', 'requireStartedChat', 'callbackAnswerTimeoutMs') });
    this.updates = new UpdateSource(opts.webhookDelivery ?? true);
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    if (this.server) throw new Error('BotApiStandIn is already listening');
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
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  get apiRoot(): string {
    if (!this.server) throw new Error('BotApiStandIn is not listening');
    return `http://127.0.0.1:${this.port}`;
  }

  get webhookDeliveries(): UpdateSource['webhookDeliveries'] {
    return this.updates.webhookDeliveries;
  }

  async close(): Promise<void> {
    this.updates.close();
    for (const w of this.waiters.splice(0)) w.settle(new Error('BotApiStandIn closed while waiting for a call'));
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
  pushUpdate(update: object): TgUpdate {
    this.state.noteUpdate(update);
    return this.updates.push(update);
  }

  /** A private-chat text message from `from` (with a bot_command entity for /commands). */
  sendText(from: UserInput, text: string): TgUpdate {
    return this.pushUpdate({ message: this.state.userMessage(from, text) });
  }

  /** A press of a button under `message` with this data (not checked against the keyboard: stale or forged data can be tested). */
  pressButton(from: UserInput, message: TgMessage | SentMessage, data: string): TgUpdate {
    return this.pushUpdate({ callback_query: this.state.callbackQuery(from, messageOf(message), data) });
  }

  /** Presses the callback button whose text matches; throws listing the buttons if none does. */
  clickButton(from: UserInput, message: TgMessage | SentMessage, text: string | RegExp): TgUpdate {
    const m = messageOf(message);
    const current = this.state.messageIn(m.chat.id, m.message_id) ?? m;
    const button = buttonsOf(current).find((b) => (typeof text === 'string' ? b.text === text : text.test(b.text)));
    if (button?.callback_data === undefined) {
      throw new Error(`no callback button ${String(text)} under message ${m.message_id}; buttons: ${JSON.stringify(buttonsOf(current).map((b) => [b.text, b.callback_data ?? b.url]))}`);
    }
    return this.pressButton(from, current, button.callback_data);
  }

  knowUser(user: UserInput): void {
    this.state.knowUser(user);
  }

  unansweredCallbackQueries(): string[] {
    return this.state.unansweredCallbackQueries();
  }

  messagesTo(chatId: number): SentMessage[] {
    return this.state.messagesTo(chatId);
  }

  lastMessageTo(chatId: number): SentMessage | undefined {
    return this.state.lastMessageTo(chatId);
  }

  messageIn(chatId: number, messageId: number): TgMessage | undefined {
    return this.state.messageIn(chatId, messageId);
  }

  /** The next `times` calls of `method` ('*': any) whose params match `when` fail with `error`. */
  failNext(method: string, error: ApiErrorBody, times = 1, when?: (params: Record<string, unknown>) => boolean): void {
    this.state.failNext(method, error, times, when);
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
      const waiter = {
        predicate,
        since,
        settle: (c: RecordedCall | Error) => {
          clearTimeout(timer);
          if (c instanceof Error) reject(c);
          else resolve(c);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`waitFor: no matching Bot API call within ${timeoutMs} ms.\n${describeCalls(this.calls)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves with a message sent to the chat (by a call from index `since` on) that matches; its live state. */
  async waitForMessage(chatId: number, predicate: (m: SentMessage) => boolean = () => true, timeoutMs = 10_000, since = 0): Promise<SentMessage> {
    const matching = (c: RecordedCall) => this.state.messagesTo(chatId).find((m) => m.params === c.params && predicate(m));
    return matching(await this.waitFor((c) => c.ok === true && matching(c) !== undefined, timeoutMs, since))!;
  }

  // ------------------------------------------------------------ HTTP

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const route = /^\/bot([^/]*)\/([^/]*)\/?$/.exec(url.pathname);
    const body = await readBody(req);
    if (!route) return writeJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    if (route[1] !== this.token) return writeJson(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = METHOD_BY_LOWER.get((route[2] ?? '').toLowerCase());
    if (!method) return writeJson(res, 404, { ok: false, error_code: 404, description: 'Not Found: method not found' });
    let request: ApiRequest;
    try {
      request = parseRequest(method, url, req.headers['content-type'] ?? '', body);
    } catch (err) {
      return writeJson(res, 400, { ok: false, error_code: 400, description: `Bad Request: ${String(err)}` });
    }
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
      call.result = await this.state.perform(r, delegate);
      call.ok = true;
    } catch (err) {
      call.ok = false;
      call.error = err instanceof ApiError ? err.body : { error_code: 500, description: `Internal Server Error: ${String(err)}` };
    }
    const index = isPoll ? this.calls.indexOf(call) : this.calls.push(call) - 1;
    for (const w of [...this.waiters]) {
      if (index >= w.since && w.predicate(call)) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.settle(call);
      }
    }
    const late = this.late.findIndex((l) => l.method === r.method && (l.chatId === undefined || l.chatId === r.params.chat_id));
    if (late >= 0) await new Promise((resolve) => setTimeout(resolve, this.late.splice(late, 1)[0]!.ms));
    return call;
  }
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<Pick<T, K>>;
}

function messageOf(m: TgMessage | SentMessage): TgMessage {
  return 'sent' in m && 'chatId' in m ? (m as SentMessage).message : (m as TgMessage);
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

/** Query string, JSON, urlencoded or multipart parameters; a file part is recorded under the field that says `attach://<part>`. */
function parseRequest(method: string, url: URL, contentType: string, body: Buffer): ApiRequest {
  const params: Record<string, unknown> = {};
  const files: Record<string, RecordedFile> = {};
  for (const [k, v] of url.searchParams) params[k] = decodeField(k, v);
  const ct = contentType.toLowerCase();
  if (body.length > 0 && ct.startsWith('application/json')) {
    Object.assign(params, JSON.parse(body.toString('utf8')) as object);
  } else if (body.length > 0 && ct.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = decodeField(k, v);
  } else if (body.length > 0 && ct.startsWith('multipart/form-data')) {
    const mp = parseMultipart(body, contentType);
    for (const [k, v] of mp.fields) params[k] = decodeField(k, v);
    for (const [part, file] of mp.files) files[Object.keys(params).find((k) => params[k] === `attach://${part}`) ?? part] = file;
  }
  return { method, params, files };
}

function describeCalls(calls: RecordedCall[]): string {
  const polls = calls.filter((c) => c.method === 'getUpdates').length;
  const lines = calls
    .filter((c) => c.method !== 'getUpdates')
    .slice(-15)
    .map((c) => {
      const outcome = c.ok === false ? ` -> ${c.error?.error_code} ${c.error?.description}` : '';
      const files = Object.keys(c.files).length ? ` files=${Object.keys(c.files).join(',')}` : '';
      return `  ${c.method} ${JSON.stringify(c.params).slice(0, 400)}${files}${outcome}`;
    });
  return `Recent calls (${calls.length} total, ${polls} getUpdates not listed):\n${lines.join('\n') || '  (none)'}`;
}
