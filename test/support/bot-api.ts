// A Telegram Bot API stand-in for tests: an HTTP server answering /bot<token>/<method> the way
// api.telegram.org does, recording every call, with update injection and fault injection.
//
//   const api = new BotApiStandIn({ token });
//   await api.listen();
//   const bot = new Bot(token, { client: { apiRoot: api.apiRoot } });
//   api.sendText(alice, '/start');
//   const call = await api.waitFor((c) => c.method === 'sendMessage' && c.params.chat_id === alice.id);
//   await api.close();
//
// Sent messages keep the rendered text in `text` (HTML tags removed, as Telegram stores it) and
// the raw request in `params.text`. parse_mode HTML is validated strictly (see telegram-html.ts).
//
// It is as strict as Telegram by default, so that what only a lenient stand-in accepts fails here:
// flood limits (30 messages a second over all chats, 1 a second per chat: 429), no message to a
// user who never wrote to the bot (403; `knowUser` for one who did before the test), one action
// per inline button, callback queries that expire 15 s after the press.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseMultipart } from './multipart.js';
import { HtmlParseError, parseTelegramHtml, type TgEntity } from './telegram-html.js';

export type { TgEntity } from './telegram-html.js';

export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
  [key: string]: unknown;
}

/** A user as a test describes them; `is_bot` defaults to false. */
export interface UserInput {
  id: number;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
  is_bot?: boolean;
}

export interface TgChat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  first_name?: string;
  last_name?: string;
  username?: string;
  title?: string;
}

export interface TgPhotoSize {
  file_id: string;
  file_unique_id: string;
  width: number;
  height: number;
  file_size: number;
}

export interface TgDocument {
  file_id: string;
  file_unique_id: string;
  file_name: string;
  mime_type: string;
  file_size: number;
}

export interface TgMessage {
  message_id: number;
  date: number;
  chat: TgChat;
  from?: TgUser;
  text?: string;
  entities?: TgEntity[];
  caption?: string;
  caption_entities?: TgEntity[];
  photo?: TgPhotoSize[];
  document?: TgDocument;
  reply_markup?: InlineKeyboardMarkupLike | Record<string, unknown>;
  edit_date?: number;
  media_group_id?: string;
  [key: string]: unknown;
}

export interface InlineButtonLike {
  text: string;
  callback_data?: string;
  url?: string;
  [key: string]: unknown;
}

export interface InlineKeyboardMarkupLike {
  inline_keyboard: InlineButtonLike[][];
}

export interface TgCallbackQuery {
  id: string;
  from: TgUser;
  chat_instance: string;
  message?: TgMessage;
  data?: string;
}

export interface TgUpdate {
  update_id: number;
  message?: TgMessage;
  callback_query?: TgCallbackQuery;
  [key: string]: unknown;
}

export interface RecordedFile {
  name: string;
  data: Buffer;
  mimeType?: string;
}

export interface ApiErrorBody {
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

export interface RecordedCall {
  method: string;
  /** Request parameters; JSON-valued form fields decoded, numeric ids as numbers. */
  params: Record<string, unknown>;
  /** Uploaded files by the field that references them (`document`, `photo`, or an attach id). */
  files: Record<string, RecordedFile>;
  at: number;
  /** Filled in once answered (a long poll is recorded when it arrives). */
  ok?: boolean;
  result?: unknown;
  error?: ApiErrorBody;
  /** The call came back in a webhook response body rather than over HTTP. */
  viaWebhookReply?: boolean;
}

/** A message the bot sent; `message` is the live state (edits applied). */
export interface SentMessage {
  method: string;
  chatId: number;
  message: TgMessage;
  /** The message as returned by the send call. */
  sent: TgMessage;
  params: Record<string, unknown>;
  files: Record<string, RecordedFile>;
  at: number;
  deleted: boolean;
}

export interface BotApiStandInOptions {
  token: string;
  botFirstName?: string;
  botUsername?: string;
  /**
   * Telegram answers an older pending getUpdates with 409 "Conflict: terminated by other
   * getUpdates request" when a second one arrives. Off by default: the older poll then gets
   * an empty result instead, which is kinder to bots that restart polling.
   */
  conflictOnConcurrentPolls?: boolean;
  /**
   * false: a webhook the bot sets is recorded but never called; the test delivers the updates
   * itself, as the load balancer in front of several replicas would. Default true.
   */
  webhookDelivery?: boolean;
  /**
   * Telegram's flood limits. Messages (send*, edit*, copy*, forward* except sendChatAction): at
   * most `perSecond` over all chats and at most `perChatPerSecond` to one chat_id in any sliding
   * second. Past either, a call answers 429 "Too Many Requests: retry after N" with
   * parameters.retry_after N (whole seconds ≥ 1, from when the oldest message of the full window
   * leaves it, like Telegram) and is not performed; a refused call counts in neither window.
   *
   * Default (omitted): `{ perSecond: 30, perChatPerSecond: 1 }` (DEFAULT_RATE_LIMIT); a field
   * left out of an object keeps its default, `Infinity` lifts that one limit.
   * `false` turns both off: only for tests and benchmarks that measure something other than the
   * bot's pacing (e.g. raw update throughput with the bot's reply throttle off).
   */
  rateLimit?: { perSecond?: number; perChatPerSecond?: number } | false;
  /**
   * Telegram answers 403 "Forbidden: bot can't initiate conversation with a user" to a message
   * (send*, edit*, copy*, forward*, sendChatAction) for a private chat (positive chat_id) whose
   * user never wrote to the bot. A user has written once an update from them was queued
   * (sendText, pressButton, clickButton, pushUpdate with a `from` or a private `chat`) or
   * `knowUser` declared they started the bot before the test. Default true; false lets the bot
   * message anyone (for tests that have no users, e.g. benchmarks of raw throughput).
   */
  requireStartedChat?: boolean;
  /**
   * How long after the press (pressButton / clickButton) answerCallbackQuery is accepted; later
   * it answers 400 "query is too old and response timeout expired or query ID is invalid", as
   * Telegram does. Default 15 000 ms (DEFAULT_CALLBACK_ANSWER_TIMEOUT_MS).
   */
  callbackAnswerTimeoutMs?: number;
}

/** Telegram's flood limits, the stand-in's default (BotApiStandInOptions.rateLimit). */
export const DEFAULT_RATE_LIMIT: Readonly<{ perSecond: number; perChatPerSecond: number }> = Object.freeze({
  perSecond: 30,
  perChatPerSecond: 1,
});

/** How long Telegram accepts the answer to a callback query (BotApiStandInOptions.callbackAnswerTimeoutMs). */
export const DEFAULT_CALLBACK_ANSWER_TIMEOUT_MS = 15_000;

/** Methods that send or change a message: flood-limited (except sendChatAction) and 403 to blocked/unknown users. */
const MESSAGE_METHOD = /^(send|edit|copy|forward)/;

/** Inline keyboard button fields naming what the button does: exactly one per button. */
const BUTTON_ACTIONS = [
  'callback_data', 'url', 'web_app', 'login_url', 'switch_inline_query', 'switch_inline_query_current_chat',
  'switch_inline_query_chosen_chat', 'copy_text', 'callback_game', 'pay',
] as const;

class ApiError extends Error {
  constructor(readonly body: ApiErrorBody) {
    super(body.description);
  }
}

const bad = (description: string): ApiError => new ApiError({ error_code: 400, description: `Bad Request: ${description}` });

const NUMERIC_FIELDS = new Set([
  'chat_id', 'message_id', 'offset', 'limit', 'timeout', 'reply_to_message_id', 'cache_time', 'user_id',
  'from_chat_id', 'message_thread_id', 'max_connections', 'duration', 'width', 'height', 'until_date',
]);
const BOOLEAN_FIELDS = new Set([
  'disable_notification', 'protect_content', 'show_alert', 'drop_pending_updates', 'disable_web_page_preview',
  'has_spoiler', 'disable_content_type_detection', 'allow_sending_without_reply', 'is_personal',
  'supports_streaming', 'show_caption_above_media', 'revoke_messages',
]);
const TEXT_FIELDS = new Set([
  'text', 'caption', 'data', 'description', 'short_description', 'name', 'query', 'url', 'secret_token',
  'callback_query_id', 'inline_message_id', 'file_id', 'action', 'parse_mode',
]);

function decodeField(key: string, value: string): unknown {
  const t = value.trim();
  if (!TEXT_FIELDS.has(key) && ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']')))) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      /* not JSON after all */
    }
  }
  if (NUMERIC_FIELDS.has(key) && /^-?\d+$/.test(t)) return Number(t);
  if (BOOLEAN_FIELDS.has(key) && (t === 'true' || t === 'false')) return t === 'true';
  return value;
}

// Lower-case name → canonical name, for every method the stand-in answers.
const METHODS = [
  'getMe', 'logOut', 'close', 'getUpdates', 'setWebhook', 'deleteWebhook', 'getWebhookInfo',
  'sendMessage', 'sendPhoto', 'sendDocument', 'sendMediaGroup', 'sendChatAction', 'editMessageText',
  'editMessageCaption', 'editMessageReplyMarkup', 'deleteMessage', 'deleteMessages', 'answerCallbackQuery',
  'setMyCommands', 'getMyCommands', 'deleteMyCommands', 'setMyDescription', 'getMyDescription',
  'setMyShortDescription', 'getMyShortDescription', 'setMyName', 'getMyName', 'setChatMenuButton',
  'getChatMenuButton', 'getChat', 'getFile', 'pinChatMessage', 'unpinChatMessage',
] as const;
type Method = (typeof METHODS)[number];
const METHOD_BY_LOWER = new Map<string, Method>(METHODS.map((m) => [m.toLowerCase(), m]));

const MIME_BY_EXT: Record<string, string> = {
  txt: 'text/plain', conf: 'application/octet-stream', json: 'application/json', png: 'image/png',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', pdf: 'application/pdf', zip: 'application/zip', csv: 'text/csv',
};

function pngSize(data: Buffer): { width: number; height: number } | null {
  const sig = '89504e470d0a1a0a';
  if (data.length < 24 || data.subarray(0, 8).toString('hex') !== sig) return null;
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const clone = <T>(v: T): T => structuredClone(v);

interface StoredFile {
  file_id: string;
  file_unique_id: string;
  file_path: string;
  name: string;
  data: Buffer;
  mimeType: string;
}

interface PollWaiter {
  limit: number;
  finish: (outcome: 'updates' | 'superseded' | 'closed') => void;
}

interface CallWaiter {
  predicate: (call: RecordedCall) => boolean;
  since: number;
  resolve: (call: RecordedCall) => void;
  reject: (err: Error) => void;
}

interface FaultRule {
  method: string;
  error: ApiErrorBody;
  times: number;
  when?: (params: Record<string, unknown>) => boolean;
}

interface Request {
  method: Method;
  params: Record<string, unknown>;
  files: Record<string, RecordedFile>;
  /** Attached files by part name (attach:// ids and direct fields). */
  attachments: Map<string, RecordedFile>;
}

export class BotApiStandIn {
  readonly token: string;
  readonly bot: TgUser;
  readonly calls: RecordedCall[] = [];
  /** Webhook POSTs made by pushUpdate while a webhook is set. */
  readonly webhookDeliveries: { update_id: number; status: number | null; error?: string }[] = [];

  private server: http.Server | null = null;
  private port = 0;
  private readonly conflictOnConcurrentPolls: boolean;
  private readonly webhookDelivery: boolean;
  private readonly rateLimit: { perSecond: number; perChatPerSecond: number } | null;
  private readonly requireStartedChat: boolean;
  private readonly callbackAnswerTimeoutMs: number;
  /**
   * Messages accepted within the last second (rateLimit), oldest first from `sendLogHead`: when
   * and to which chat (null when the chat is not tracked). Its length from the head is the global
   * count; expiring an entry also drops it from its chat's window.
   */
  private sendLog: { at: number; chat: number | string | null }[] = [];
  private sendLogHead = 0;
  /** Per chat: times of its messages within the last second, oldest first; chats with none are dropped. */
  private readonly chatWindows = new Map<number | string, number[]>();
  /** Private chats whose user wrote to the bot (or was declared with knowUser). */
  private readonly startedChats = new Set<number>();
  private nextUpdateId = 100_000 + Math.floor(Math.random() * 1000);
  private queue: TgUpdate[] = [];
  private pollWaiters: PollWaiter[] = [];
  private callWaiters: CallWaiter[] = [];
  private faults: FaultRule[] = [];
  private late: { method: string; ms: number; chatId: number | undefined }[] = [];
  private readonly blocked = new Set<number>();
  private readonly users = new Map<number, TgUser>();
  private readonly chats = new Map<number, { nextId: number; messages: Map<number, TgMessage> }>();
  private readonly sent: SentMessage[] = [];
  private readonly files = new Map<string, StoredFile>();
  private fileCounter = 0;
  private callbackCounter = 0;
  private mediaGroupCounter = 0;
  /** Callback queries not answered yet: id → when pressed (ms). */
  private readonly openCallbackQueries = new Map<string, number>();
  private readonly callbackAnswers = new Map<string, Record<string, unknown>>();
  private readonly commands = new Map<string, unknown[]>();
  private readonly settings = new Map<string, unknown>();
  private webhook: { url: string; secretToken?: string; pumping: boolean } | null = null;
  private closed = false;

  constructor(opts: BotApiStandInOptions) {
    this.token = opts.token;
    const idPart = Number(opts.token.split(':')[0]);
    this.bot = {
      id: Number.isSafeInteger(idPart) && idPart > 0 ? idPart : 7_000_000_001,
      is_bot: true,
      first_name: opts.botFirstName ?? 'Test Bot',
      username: opts.botUsername ?? 'test_standin_bot',
    };
    this.conflictOnConcurrentPolls = opts.conflictOnConcurrentPolls ?? false;
    this.webhookDelivery = opts.webhookDelivery ?? true;
    if (opts.rateLimit === false) {
      this.rateLimit = null;
    } else {
      const limit = { ...DEFAULT_RATE_LIMIT, ...stripUndefined(opts.rateLimit ?? {}) };
      for (const [key, value] of Object.entries(limit)) {
        if (!(value >= 1)) throw new Error(`BotApiStandIn: rateLimit.${key} must be ≥ 1 or Infinity (or rateLimit: false), got ${value}`);
      }
      this.rateLimit = limit;
    }
    this.requireStartedChat = opts.requireStartedChat ?? true;
    this.callbackAnswerTimeoutMs = opts.callbackAnswerTimeoutMs ?? DEFAULT_CALLBACK_ANSWER_TIMEOUT_MS;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    if (this.server) throw new Error('BotApiStandIn is already listening');
    const server = http.createServer((req, res) => {
      this.handleHttp(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          this.writeJson(res, 500, { ok: false, error_code: 500, description: `Internal Server Error: ${String(err)}` });
        } else {
          res.destroy();
        }
      });
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  get apiRoot(): string {
    if (!this.server) throw new Error('BotApiStandIn is not listening');
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.pollWaiters]) w.finish('closed');
    const waiters = this.callWaiters;
    this.callWaiters = [];
    for (const w of waiters) w.reject(new Error('BotApiStandIn closed while waiting for a call'));
    this.webhook = null;
    const server = this.server;
    if (!server) return;
    // Let the released polls' empty answers go out before the sockets are cut.
    await new Promise((r) => setTimeout(r, 20));
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------- updates

  /**
   * Queues an update (update_id assigned here) and wakes a pending long poll. The users it comes
   * from (`from` of its payload, a private `chat`) count as having written to the bot.
   */
  pushUpdate(update: object): TgUpdate {
    const u = { ...(update as Record<string, unknown>), update_id: this.nextUpdateId++ } as TgUpdate;
    this.noteWriters(u);
    this.queue.push(u);
    for (const w of [...this.pollWaiters]) w.finish('updates');
    if (this.webhook) void this.pumpWebhook();
    return u;
  }

  /** A private-chat text message from `from` (with a bot_command entity for /commands). */
  sendText(from: UserInput, text: string): TgUpdate {
    const user = this.rememberUser(from);
    const chat = this.chatFor(user.id);
    const message: TgMessage = {
      message_id: this.nextMessageId(user.id),
      from: clone(user),
      chat,
      date: nowSeconds(),
      text,
    };
    const cmd = /^\/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]+)?/.exec(text);
    if (cmd) message.entities = [{ type: 'bot_command', offset: 0, length: cmd[0].length }];
    this.storeMessage(message);
    return this.pushUpdate({ message: clone(message) });
  }

  /**
   * A callback_query for a button under `message` (a sent message or its record). The query
   * carries the message's current state, as Telegram does. The data is not checked against
   * the keyboard, so forged or stale data can be tested; `clickButton` checks.
   */
  pressButton(from: UserInput, message: TgMessage | SentMessage, data: string): TgUpdate {
    const msg = isSentMessage(message) ? message.message : message;
    const user = this.rememberUser(from);
    const current = this.chats.get(msg.chat.id)?.messages.get(msg.message_id) ?? msg;
    const id = `${this.bot.id}${String(++this.callbackCounter).padStart(6, '0')}`;
    this.openCallbackQueries.set(id, Date.now());
    const callback_query: TgCallbackQuery = {
      id,
      from: clone(user),
      chat_instance: `${-(4_000_000_000_000 + Math.abs(msg.chat.id))}`,
      message: clone(current),
      data,
    };
    return this.pushUpdate({ callback_query });
  }

  /** Presses the inline button whose text matches; throws listing the buttons if none does. */
  clickButton(from: UserInput, message: TgMessage | SentMessage, text: string | RegExp): TgUpdate {
    const msg = isSentMessage(message) ? message.message : message;
    const current = this.chats.get(msg.chat.id)?.messages.get(msg.message_id) ?? msg;
    const buttons = buttonsOf(current);
    const button = buttons.find((b) => (typeof text === 'string' ? b.text === text : text.test(b.text)));
    if (!button || button.callback_data === undefined) {
      throw new Error(
        `no callback button ${String(text)} under message ${msg.message_id}; buttons: ` +
          JSON.stringify(buttons.map((b) => [b.text, b.callback_data ?? b.url])),
      );
    }
    return this.pressButton(from, current, button.callback_data);
  }

  /** Callback queries handed out that the bot has not answered yet (expired ones included). */
  unansweredCallbackQueries(): string[] {
    return [...this.openCallbackQueries.keys()];
  }

  /**
   * This user started the bot before the test began: the bot may message them (see
   * requireStartedChat). No update is queued.
   */
  knowUser(user: UserInput): void {
    this.rememberUser(user);
    this.startedChats.add(user.id);
  }

  callbackAnswer(callbackQueryId: string): Record<string, unknown> | undefined {
    return this.callbackAnswers.get(callbackQueryId);
  }

  // ---------------------------------------------------------------- recording

  /** Messages the bot sent to a chat, oldest first (includes deleted ones, flagged). */
  messagesTo(chatId: number): SentMessage[] {
    return this.sent.filter((m) => m.chatId === chatId);
  }

  lastMessageTo(chatId: number): SentMessage | undefined {
    return this.messagesTo(chatId).at(-1);
  }

  /** Current state of any message in a chat (user's or bot's), edits applied. */
  messageIn(chatId: number, messageId: number): TgMessage | undefined {
    const m = this.chats.get(chatId)?.messages.get(messageId);
    return m ? clone(m) : undefined;
  }

  /** Index to pass as `since` so waitFor only considers calls made from now on. */
  mark(): number {
    return this.calls.length;
  }

  /** Resolves with the first call (from index `since` on, past or future) that matches. */
  waitFor(predicate: (call: RecordedCall) => boolean, timeoutMs = 10_000, since = 0): Promise<RecordedCall> {
    for (let i = since; i < this.calls.length; i++) {
      const c = this.calls[i];
      if (c && c.ok !== undefined && predicate(c)) return Promise.resolve(c);
    }
    return new Promise((resolve, reject) => {
      const waiter: CallWaiter = {
        predicate,
        since,
        resolve: (call) => {
          clearTimeout(timer);
          resolve(call);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.callWaiters = this.callWaiters.filter((w) => w !== waiter);
        reject(new Error(`waitFor: no matching Bot API call within ${timeoutMs} ms.\n${describeCalls(this.calls)}`));
      }, timeoutMs);
      this.callWaiters.push(waiter);
    });
  }

  /** Resolves with the next (or an earlier, from `since`) message sent to the chat that matches. */
  async waitForMessage(
    chatId: number,
    predicate: (m: SentMessage) => boolean = () => true,
    timeoutMs = 10_000,
    since = 0,
  ): Promise<SentMessage> {
    const call = await this.waitFor(
      (c) => c.ok === true && this.sentFromCall(c).some((m) => m.chatId === chatId && predicate(m)),
      timeoutMs,
      since,
    );
    const found = this.sentFromCall(call).find((m) => m.chatId === chatId && predicate(m));
    if (!found) throw new Error('waitForMessage: message vanished');
    return found;
  }

  // ---------------------------------------------------------------- faults

  /** The next `times` calls of `method` ('*' = any method) fail with `error`; only those whose params match `when`, if given. */
  failNext(method: string, error: ApiErrorBody, times = 1, when?: (params: Record<string, unknown>) => boolean): void {
    this.faults.push({ method: method.toLowerCase(), error: clone(error), times, ...(when ? { when } : {}) });
  }

  /**
   * The next call of `method` (to `chatId`, when given) is performed and recorded at once, but
   * its answer leaves only after `ms`: the bot is caught with the call in flight (a test kills it
   * then, when Telegram already has the message and the bot does not know yet).
   */
  answerLate(method: string, ms: number, chatId?: number): void {
    this.late.push({ method: method.toLowerCase(), ms, chatId });
  }

  /** Every send/edit to this chat answers 403 "bot was blocked by the user" until unblocked. */
  blockUser(chatId: number): void {
    this.blocked.add(chatId);
  }

  unblockUser(chatId: number): void {
    this.blocked.delete(chatId);
  }

  // ---------------------------------------------------------------- HTTP

  private writeJson(res: http.ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const fileRoute = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (fileRoute) {
      req.resume();
      const file = [...this.files.values()].find((f) => f.file_path === decodeURIComponent(fileRoute[2] ?? ''));
      if (fileRoute[1] !== this.token || !file) {
        this.writeJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
        return;
      }
      res.writeHead(200, { 'content-type': file.mimeType, 'content-length': file.data.length });
      res.end(file.data);
      return;
    }
    const route = /^\/bot([^/]*)\/([^/]*)\/?$/.exec(url.pathname);
    if (!route) {
      req.resume();
      this.writeJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    const body = await readBody(req);
    if (route[1] !== this.token) {
      this.writeJson(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
      return;
    }
    const method = METHOD_BY_LOWER.get((route[2] ?? '').toLowerCase());
    if (!method) {
      this.writeJson(res, 404, { ok: false, error_code: 404, description: 'Not Found: method not found' });
      return;
    }

    let request: Request;
    try {
      request = parseRequest(method, url, req.headers['content-type'] ?? '', body);
    } catch (err) {
      this.writeJson(res, 400, { ok: false, error_code: 400, description: `Bad Request: ${String(err)}` });
      return;
    }

    const aborted = new Promise<void>((resolve) => {
      res.on('close', () => resolve());
    });
    const call = await this.execute(request, aborted);
    if (call.ok) this.writeJson(res, 200, { ok: true, result: call.result });
    else this.writeJson(res, call.error?.error_code ?? 500, { ok: false, ...call.error });
  }

  /** Runs one API call, records it and notifies waiters. */
  private async execute(request: Request, aborted: Promise<void>, viaWebhookReply = false): Promise<RecordedCall> {
    const call: RecordedCall = {
      method: request.method,
      params: request.params,
      files: request.files,
      at: Date.now(),
      ...(viaWebhookReply ? { viaWebhookReply } : {}),
    };
    const isPoll = request.method === 'getUpdates';
    let index = isPoll ? this.calls.push(call) - 1 : -1;
    try {
      const fault = this.takeFault(request.method, request.params);
      if (fault) throw new ApiError(fault);
      call.result = await this.dispatch(request, aborted);
      call.ok = true;
    } catch (err) {
      call.ok = false;
      call.error =
        err instanceof ApiError
          ? err.body
          : { error_code: 500, description: `Internal Server Error: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (!isPoll) index = this.calls.push(call) - 1;
    this.notify(call, index);
    const late = this.late.findIndex((l) => l.method === request.method.toLowerCase() && (l.chatId === undefined || l.chatId === request.params.chat_id));
    if (late >= 0) await new Promise((r) => setTimeout(r, this.late.splice(late, 1)[0]!.ms));
    return call;
  }

  /** `index`: the call's place in `calls` (known, so a benchmark's thousands of calls are not searched for each). */
  private notify(call: RecordedCall, index: number): void {
    for (const w of [...this.callWaiters]) {
      if (index >= w.since && w.predicate(call)) {
        this.callWaiters = this.callWaiters.filter((x) => x !== w);
        w.resolve(call);
      }
    }
  }

  /**
   * Counts a message to `chat` against the flood limits, or throws 429 (counting nothing) when the
   * global or the chat's sliding second is full. Amortized O(1): expired entries leave the global
   * log in order, each taking its chat's oldest time along (and the chat, once it has none).
   */
  private takeSendSlot(limit: { perSecond: number; perChatPerSecond: number }, chatId: number | string | undefined): void {
    const now = Date.now();
    this.expireSends(now);
    const chat = chatId !== undefined && Number.isFinite(limit.perChatPerSecond) ? chatId : null;
    const window = chat === null ? undefined : this.chatWindows.get(chat);
    const globalFull = this.sendLog.length - this.sendLogHead >= limit.perSecond;
    const chatFull = window !== undefined && window.length >= limit.perChatPerSecond;
    if (globalFull || chatFull) {
      const waitMs = Math.max(
        globalFull ? this.sendLog[this.sendLogHead]!.at + 1000 - now : 0,
        chatFull ? window[0]! + 1000 - now : 0,
      );
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError({ error_code: 429, description: `Too Many Requests: retry after ${retryAfter}`, parameters: { retry_after: retryAfter } });
    }
    this.sendLog.push({ at: now, chat });
    if (chat !== null) {
      if (window) window.push(now);
      else this.chatWindows.set(chat, [now]);
    }
  }

  private expireSends(now: number): void {
    const log = this.sendLog;
    let head = this.sendLogHead;
    while (head < log.length && log[head]!.at <= now - 1000) {
      const { chat } = log[head++]!;
      if (chat === null) continue;
      const window = this.chatWindows.get(chat);
      window?.shift();
      if (window?.length === 0) this.chatWindows.delete(chat);
    }
    if (head === log.length) {
      this.sendLog = [];
      head = 0;
    } else if (head > 1024 && head * 2 > log.length) {
      this.sendLog = log.slice(head);
      head = 0;
    }
    this.sendLogHead = head;
  }

  private takeFault(method: string, params: Record<string, unknown>): ApiErrorBody | null {
    const lower = method.toLowerCase();
    const rule = this.faults.find((f) => (f.method === lower || f.method === '*') && (!f.when || f.when(params)));
    if (!rule) return null;
    rule.times--;
    if (rule.times <= 0) this.faults = this.faults.filter((f) => f !== rule);
    return clone(rule.error);
  }

  // ---------------------------------------------------------------- methods

  private async dispatch(r: Request, aborted: Promise<void>): Promise<unknown> {
    const p = r.params;
    if (MESSAGE_METHOD.test(r.method)) {
      const chatId = num(p, 'chat_id');
      if (chatId !== undefined && this.blocked.has(chatId)) {
        throw new ApiError({ error_code: 403, description: 'Forbidden: bot was blocked by the user' });
      }
      if (this.requireStartedChat && chatId !== undefined && chatId > 0 && !this.startedChats.has(chatId)) {
        throw new ApiError({ error_code: 403, description: "Forbidden: bot can't initiate conversation with a user" });
      }
      if (this.rateLimit && r.method !== 'sendChatAction') {
        this.takeSendSlot(this.rateLimit, chatId ?? (typeof p.chat_id === 'string' && p.chat_id !== '' ? p.chat_id : undefined));
      }
    }
    switch (r.method) {
      case 'getMe':
        return {
          ...clone(this.bot),
          can_join_groups: true,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
          can_connect_to_business: false,
          has_main_web_app: false,
        };
      case 'logOut':
      case 'close':
      case 'sendChatAction':
      case 'pinChatMessage':
      case 'unpinChatMessage':
      case 'setMyName':
        return true;
      case 'getUpdates':
        return this.getUpdates(p, aborted);
      case 'setWebhook': {
        const url = str(p, 'url');
        if (!url) {
          this.webhook = null;
          return true;
        }
        if (!/^https?:\/\//.test(url)) throw bad('bad webhook: An HTTPS URL must be provided for webhook');
        const secret = str(p, 'secret_token');
        if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw bad('secret token contains unallowed characters');
        if (p.drop_pending_updates === true) this.queue = [];
        this.webhook = { url, ...(secret ? { secretToken: secret } : {}), pumping: false };
        for (const w of [...this.pollWaiters]) w.finish('superseded');
        void this.pumpWebhook();
        return true;
      }
      case 'deleteWebhook':
        this.webhook = null;
        if (p.drop_pending_updates === true) this.queue = [];
        return true;
      case 'getWebhookInfo':
        return {
          url: this.webhook?.url ?? '',
          has_custom_certificate: false,
          pending_update_count: this.queue.length,
        };
      case 'sendMessage':
        return this.sendMessage(r);
      case 'sendPhoto':
      case 'sendDocument':
        return this.sendMedia(r, r.method === 'sendPhoto' ? 'photo' : 'document');
      case 'sendMediaGroup':
        return this.sendMediaGroup(r);
      case 'editMessageText':
      case 'editMessageCaption':
      case 'editMessageReplyMarkup':
        return this.editMessage(r);
      case 'deleteMessage': {
        const chatId = requireChatId(p);
        const id = num(p, 'message_id');
        const chat = this.chats.get(chatId);
        if (id === undefined || !chat?.messages.has(id)) throw bad('message to delete not found');
        this.deleteStored(chatId, id);
        return true;
      }
      case 'deleteMessages': {
        const chatId = requireChatId(p);
        const ids = Array.isArray(p.message_ids) ? p.message_ids : [];
        for (const id of ids) if (typeof id === 'number') this.deleteStored(chatId, id);
        return true;
      }
      case 'answerCallbackQuery': {
        const id = str(p, 'callback_query_id') ?? String(p.callback_query_id ?? '');
        const pressedAt = this.openCallbackQueries.get(id);
        if (pressedAt === undefined || Date.now() - pressedAt > this.callbackAnswerTimeoutMs) {
          throw bad('query is too old and response timeout expired or query ID is invalid');
        }
        const text = str(p, 'text');
        if (text !== undefined && text.length > 200) throw bad('MESSAGE_TOO_LONG');
        this.openCallbackQueries.delete(id);
        this.callbackAnswers.set(id, clone(p));
        return true;
      }
      case 'setMyCommands': {
        const commands = p.commands;
        if (!Array.isArray(commands)) throw bad('parameter "commands" is required');
        if (commands.length > 100) throw bad('too many commands');
        for (const c of commands as Record<string, unknown>[]) {
          if (typeof c.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(c.command)) throw bad('BOT_COMMAND_INVALID');
          if (typeof c.description !== 'string' || c.description.length < 1 || c.description.length > 256) {
            throw bad('command description is invalid');
          }
        }
        this.commands.set(commandsKey(p), clone(commands));
        return true;
      }
      case 'getMyCommands':
        return clone(this.commands.get(commandsKey(p)) ?? []);
      case 'deleteMyCommands':
        this.commands.delete(commandsKey(p));
        return true;
      case 'setMyDescription':
      case 'setMyShortDescription':
      case 'setChatMenuButton': {
        const key = `${r.method}:${str(p, 'language_code') ?? ''}:${String(p.chat_id ?? '')}`;
        this.settings.set(key, clone(p));
        return true;
      }
      case 'getMyDescription':
        return { description: str(this.getSetting('setMyDescription', p), 'description') ?? '' };
      case 'getMyShortDescription':
        return { short_description: str(this.getSetting('setMyShortDescription', p), 'short_description') ?? '' };
      case 'getMyName':
        return { name: this.bot.first_name };
      case 'getChatMenuButton': {
        const set = this.getSetting('setChatMenuButton', p);
        return set.menu_button ?? { type: 'commands' };
      }
      case 'getChat': {
        const chatId = requireChatId(p);
        if (chatId > 0 && !this.users.has(chatId) && !this.chats.has(chatId)) throw bad('chat not found');
        return this.chatFor(chatId);
      }
      case 'getFile': {
        const f = this.files.get(str(p, 'file_id') ?? '');
        if (!f) throw bad('invalid file_id');
        return { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.data.length, file_path: f.file_path };
      }
    }
  }

  private getSetting(method: string, p: Record<string, unknown>): Record<string, unknown> {
    const key = `${method}:${str(p, 'language_code') ?? ''}:${String(p.chat_id ?? '')}`;
    return (this.settings.get(key) as Record<string, unknown> | undefined) ?? {};
  }

  private getUpdates(p: Record<string, unknown>, aborted: Promise<void>): Promise<TgUpdate[]> | TgUpdate[] {
    if (this.webhook) {
      throw new ApiError({
        error_code: 409,
        description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      });
    }
    const offset = num(p, 'offset');
    const limit = Math.min(100, Math.max(1, num(p, 'limit') ?? 100));
    const timeout = Math.max(0, num(p, 'timeout') ?? 0);
    if (offset !== undefined && offset < 0) {
      this.queue = this.queue.slice(offset);
    } else if (offset !== undefined) {
      this.queue = this.queue.filter((u) => u.update_id >= offset);
    }
    for (const w of [...this.pollWaiters]) w.finish('superseded');
    if (this.queue.length > 0 || timeout === 0 || this.closed) return clone(this.queue.slice(0, limit));

    return new Promise<TgUpdate[]>((resolve, reject) => {
      const waiter: PollWaiter = {
        limit,
        finish: (outcome) => {
          clearTimeout(timer);
          this.pollWaiters = this.pollWaiters.filter((w) => w !== waiter);
          if (outcome === 'superseded' && this.conflictOnConcurrentPolls) {
            reject(
              new ApiError({
                error_code: 409,
                description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
              }),
            );
          } else if (outcome === 'updates') {
            resolve(clone(this.queue.slice(0, limit)));
          } else {
            resolve([]);
          }
        },
      };
      const timer = setTimeout(() => waiter.finish('closed'), timeout * 1000);
      this.pollWaiters.push(waiter);
      // The client went away (bot.stop() aborts its poll): forget the waiter.
      void aborted.then(() => {
        if (this.pollWaiters.includes(waiter)) waiter.finish('closed');
      });
    });
  }

  private async pumpWebhook(): Promise<void> {
    const hook = this.webhook;
    if (!hook || hook.pumping || !this.webhookDelivery) return;
    hook.pumping = true;
    try {
      let failures = 0;
      while (this.webhook === hook && !this.closed && this.queue.length > 0) {
        const update = this.queue[0];
        if (!update) break;
        let status: number | null = null;
        let error: string | undefined;
        let replyText = '';
        let replyType = '';
        try {
          const res = await fetch(hook.url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(hook.secretToken ? { 'x-telegram-bot-api-secret-token': hook.secretToken } : {}),
            },
            body: JSON.stringify(update),
            signal: AbortSignal.timeout(60_000),
          });
          status = res.status;
          replyType = res.headers.get('content-type') ?? '';
          replyText = await res.text();
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        this.webhookDeliveries.push({ update_id: update.update_id, status, ...(error ? { error } : {}) });
        if (status !== null && status >= 200 && status < 300) {
          failures = 0;
          this.queue = this.queue.filter((u) => u !== update);
          if (replyType.includes('json') && replyText.trim().startsWith('{')) await this.webhookReply(replyText);
        } else {
          failures++;
          await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** failures)));
        }
      }
    } finally {
      hook.pumping = false;
    }
  }

  private async webhookReply(text: string): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const { method: name, ...params } = body;
    const method = typeof name === 'string' ? METHOD_BY_LOWER.get(name.toLowerCase()) : undefined;
    if (!method) return;
    await this.execute({ method, params, files: {}, attachments: new Map() }, new Promise(() => undefined), true);
  }

  // --- sending

  private sendMessage(r: Request): TgMessage {
    const p = r.params;
    const chatId = requireChatId(p);
    const raw = p.text;
    if (typeof raw !== 'string' || raw.trim() === '') throw bad('message text is empty');
    const parsed = parseText(raw, p.parse_mode, p.entities);
    if (parsed.text.trim() === '') throw bad('message text is empty');
    if (parsed.text.length > 4096) throw bad('message is too long');
    const markup = checkMarkup(p.reply_markup);
    const message: TgMessage = this.newBotMessage(chatId);
    message.text = parsed.text;
    if (parsed.entities.length > 0) message.entities = parsed.entities;
    if (markup) message.reply_markup = markup;
    return this.recordSent(r, message);
  }

  private sendMedia(r: Request, kind: 'photo' | 'document'): TgMessage {
    const p = r.params;
    const chatId = requireChatId(p);
    const caption = this.captionOf(p);
    const markup = checkMarkup(p.reply_markup);
    const message = this.newBotMessage(chatId);
    Object.assign(message, this.mediaPayload(kind, p[kind], r, kind));
    if (caption) {
      message.caption = caption.text;
      if (caption.entities.length > 0) message.caption_entities = caption.entities;
    }
    if (markup) message.reply_markup = markup;
    return this.recordSent(r, message);
  }

  private sendMediaGroup(r: Request): TgMessage[] {
    const p = r.params;
    const chatId = requireChatId(p);
    const media = p.media;
    if (!Array.isArray(media) || media.length < 2 || media.length > 10) {
      throw bad('wrong number of media specified; must be 2-10');
    }
    const groupId = String(13_000_000_000_000_000 + ++this.mediaGroupCounter);
    return media.map((item: unknown) => {
      const m = (item ?? {}) as Record<string, unknown>;
      const kind = m.type === 'photo' ? 'photo' : m.type === 'document' ? 'document' : null;
      if (!kind) throw bad('unsupported media type in the stand-in');
      const caption = this.captionOf(m);
      const message = this.newBotMessage(chatId);
      Object.assign(message, this.mediaPayload(kind, m.media, r, 'media'));
      message.media_group_id = groupId;
      if (caption) {
        message.caption = caption.text;
        if (caption.entities.length > 0) message.caption_entities = caption.entities;
      }
      return this.recordSent(r, message);
    });
  }

  private captionOf(p: Record<string, unknown>): { text: string; entities: TgEntity[] } | null {
    const raw = p.caption;
    if (raw === undefined || raw === null || raw === '') return null;
    if (typeof raw !== 'string') throw bad('caption must be a string');
    const parsed = parseText(raw, p.parse_mode, p.caption_entities);
    if (parsed.text.length > 1024) throw bad('message caption is too long');
    return parsed;
  }

  private mediaPayload(
    kind: 'photo' | 'document',
    ref: unknown,
    r: Request,
    field: string,
  ): { photo: TgPhotoSize[] } | { document: TgDocument } {
    let stored: StoredFile | undefined;
    const direct = r.attachments.get(kind);
    if (typeof ref === 'string' && ref.startsWith('attach://')) {
      const file = r.attachments.get(ref.slice('attach://'.length));
      if (!file) throw bad(`wrong HTTP URL specified or file not found in the request: ${ref}`);
      stored = this.storeFile(file, kind);
    } else if (direct && field === kind) {
      stored = this.storeFile(direct, kind);
    } else if (typeof ref === 'string' && ref !== '') {
      stored = this.files.get(ref);
      if (!stored && /^https?:\/\//.test(ref)) {
        const name = ref.split('/').pop() || `${kind}.dat`;
        stored = this.storeFile({ name, data: Buffer.alloc(0) }, kind);
      }
      if (!stored) throw bad('wrong file identifier/HTTP URL specified');
    } else {
      throw bad(`there is no ${kind} in the request`);
    }
    if (kind === 'photo') {
      const size = pngSize(stored.data) ?? { width: 320, height: 320 };
      return {
        photo: [
          { file_id: stored.file_id, file_unique_id: stored.file_unique_id, ...size, file_size: stored.data.length },
        ],
      };
    }
    return {
      document: {
        file_id: stored.file_id,
        file_unique_id: stored.file_unique_id,
        file_name: stored.name,
        mime_type: stored.mimeType,
        file_size: stored.data.length,
      },
    };
  }

  private storeFile(file: RecordedFile, kind: string): StoredFile {
    const n = ++this.fileCounter;
    const ext = (file.name.split('.').pop() ?? '').toLowerCase();
    const mimeType =
      file.mimeType && file.mimeType !== 'application/octet-stream'
        ? file.mimeType
        : (MIME_BY_EXT[ext] ?? 'application/octet-stream');
    const stored: StoredFile = {
      file_id: `${kind === 'photo' ? 'AgAC' : 'BQAC'}AgIAAxkBAAI${n}${randomBytes(12).toString('base64url')}`,
      file_unique_id: `AQAD${n}${randomBytes(4).toString('base64url')}`,
      file_path: `${kind === 'photo' ? 'photos' : 'documents'}/file_${n}.${ext || 'dat'}`,
      name: file.name,
      data: file.data,
      mimeType,
    };
    this.files.set(stored.file_id, stored);
    return stored;
  }

  private recordSent(r: Request, message: TgMessage): TgMessage {
    this.storeMessage(message);
    const sent = clone(message);
    this.sent.push({
      method: r.method,
      chatId: message.chat.id,
      message,
      sent,
      params: r.params,
      files: r.files,
      at: Date.now(),
      deleted: false,
    });
    return clone(message);
  }

  private sentFromCall(call: RecordedCall): SentMessage[] {
    const results = Array.isArray(call.result) ? call.result : [call.result];
    const ids = new Set(
      results
        .filter((m): m is TgMessage => typeof m === 'object' && m !== null && 'message_id' in m)
        .map((m) => `${m.chat.id}:${m.message_id}`),
    );
    return this.sent.filter((s) => s.params === call.params && ids.has(`${s.chatId}:${s.sent.message_id}`));
  }

  // --- editing

  private editMessage(r: Request): TgMessage | true {
    const p = r.params;
    const markup = checkMarkup(p.reply_markup);
    let parsed: { text: string; entities: TgEntity[] } | null = null;
    if (r.method === 'editMessageText') {
      const raw = p.text;
      if (typeof raw !== 'string' || raw.trim() === '') throw bad('message text is empty');
      parsed = parseText(raw, p.parse_mode, p.entities);
      if (parsed.text.trim() === '') throw bad('message text is empty');
      if (parsed.text.length > 4096) throw bad('MESSAGE_TOO_LONG');
    } else if (r.method === 'editMessageCaption') {
      parsed = this.captionOf(p) ?? { text: '', entities: [] };
    }
    if (p.inline_message_id !== undefined) return true;

    const chatId = requireChatId(p);
    const id = num(p, 'message_id');
    const stored = id === undefined ? undefined : this.chats.get(chatId)?.messages.get(id);
    if (!stored) throw bad('message to edit not found');
    if (stored.from?.id !== this.bot.id) throw bad("message can't be edited");

    const before = JSON.stringify([stored.text, stored.entities ?? [], stored.caption, stored.caption_entities ?? [], stored.reply_markup ?? null]);
    const next = clone(stored);
    if (r.method === 'editMessageText' && parsed) {
      if (stored.text === undefined) throw bad('there is no text in the message to edit');
      next.text = parsed.text;
      if (parsed.entities.length > 0) next.entities = parsed.entities;
      else delete next.entities;
    } else if (r.method === 'editMessageCaption' && parsed) {
      if (stored.text !== undefined) throw bad('there is no caption in the message to edit');
      if (parsed.text) next.caption = parsed.text;
      else delete next.caption;
      if (parsed.entities.length > 0) next.caption_entities = parsed.entities;
      else delete next.caption_entities;
    }
    // Telegram drops an inline keyboard that an edit does not repeat.
    if (markup) next.reply_markup = markup;
    else delete next.reply_markup;
    const after = JSON.stringify([next.text, next.entities ?? [], next.caption, next.caption_entities ?? [], next.reply_markup ?? null]);
    if (before === after) {
      throw bad(
        'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
      );
    }
    next.edit_date = nowSeconds();
    // Mutate in place so SentMessage.message (the same object) sees the edit.
    for (const key of Object.keys(stored)) delete stored[key];
    Object.assign(stored, next);
    return clone(stored);
  }

  // --- chats and messages

  private rememberUser(from: UserInput): TgUser {
    const user: TgUser = { ...from, is_bot: from.is_bot ?? false };
    this.users.set(user.id, user);
    return user;
  }

  /** The users an update comes from have written to the bot: `from` of its payload, a private `chat`. */
  private noteWriters(update: TgUpdate): void {
    for (const [key, value] of Object.entries(update)) {
      if (key === 'update_id' || typeof value !== 'object' || value === null) continue;
      const payload = value as { from?: unknown; chat?: unknown };
      const from = payload.from as Partial<TgUser> | undefined;
      if (typeof from?.id === 'number' && from.id > 0) {
        this.startedChats.add(from.id);
        if (!this.users.has(from.id) && typeof from.first_name === 'string') {
          this.users.set(from.id, { ...(from as TgUser), is_bot: from.is_bot ?? false });
        }
      }
      const chat = payload.chat as Partial<TgChat> | undefined;
      if (chat?.type === 'private' && typeof chat.id === 'number' && chat.id > 0) this.startedChats.add(chat.id);
    }
  }

  private chatFor(chatId: number): TgChat {
    if (chatId < 0) return { id: chatId, type: 'supergroup', title: 'Test group' };
    const user = this.users.get(chatId);
    const chat: TgChat = { id: chatId, type: 'private' };
    if (user) {
      chat.first_name = user.first_name;
      if (user.last_name !== undefined) chat.last_name = user.last_name;
      if (user.username !== undefined) chat.username = user.username;
    }
    return chat;
  }

  private chatState(chatId: number): { nextId: number; messages: Map<number, TgMessage> } {
    let chat = this.chats.get(chatId);
    if (!chat) {
      chat = { nextId: 1, messages: new Map() };
      this.chats.set(chatId, chat);
    }
    return chat;
  }

  private nextMessageId(chatId: number): number {
    return this.chatState(chatId).nextId++;
  }

  private newBotMessage(chatId: number): TgMessage {
    return {
      message_id: this.nextMessageId(chatId),
      from: clone(this.bot),
      chat: this.chatFor(chatId),
      date: nowSeconds(),
    };
  }

  private storeMessage(message: TgMessage): void {
    this.chatState(message.chat.id).messages.set(message.message_id, message);
  }

  private deleteStored(chatId: number, messageId: number): void {
    this.chats.get(chatId)?.messages.delete(messageId);
    for (const s of this.sent) if (s.chatId === chatId && s.sent.message_id === messageId) s.deleted = true;
  }
}

// ------------------------------------------------------------------ helpers

function isSentMessage(m: TgMessage | SentMessage): m is SentMessage {
  return typeof (m as SentMessage).method === 'string' && typeof (m as SentMessage).message === 'object';
}

/** All inline buttons under a message, row by row. */
export function buttonsOf(message: TgMessage | SentMessage): InlineButtonLike[] {
  const m = isSentMessage(message) ? message.message : message;
  const kb = (m.reply_markup as Partial<InlineKeyboardMarkupLike> | undefined)?.inline_keyboard;
  return Array.isArray(kb) ? kb.flat() : [];
}

/** The object without its undefined fields (so spreading it over defaults keeps them). */
function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function str(p: Record<string, unknown>, key: string): string | undefined {
  const v = p[key];
  return typeof v === 'string' ? v : undefined;
}

function num(p: Record<string, unknown>, key: string): number | undefined {
  const v = p[key];
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

function requireChatId(p: Record<string, unknown>): number {
  if (p.chat_id === undefined || p.chat_id === '') throw bad('chat_id is empty');
  const id = num(p, 'chat_id');
  if (id === undefined || id === 0) throw bad('chat not found');
  return id;
}

function commandsKey(p: Record<string, unknown>): string {
  return `${JSON.stringify(p.scope ?? { type: 'default' })}:${str(p, 'language_code') ?? ''}`;
}

function parseText(raw: string, parseMode: unknown, entities: unknown): { text: string; entities: TgEntity[] } {
  if (parseMode === undefined || parseMode === null || parseMode === '') {
    return { text: raw, entities: Array.isArray(entities) ? (entities as TgEntity[]) : [] };
  }
  if (typeof parseMode !== 'string') throw bad('unsupported parse_mode');
  const mode = parseMode.toLowerCase();
  if (mode === 'html') {
    try {
      return parseTelegramHtml(raw);
    } catch (err) {
      if (err instanceof HtmlParseError) throw bad(err.message);
      throw err;
    }
  }
  if (mode === 'markdown' || mode === 'markdownv2') return { text: raw, entities: [] };
  throw bad('unsupported parse_mode');
}

function checkMarkup(markup: unknown): TgMessage['reply_markup'] | undefined {
  if (markup === undefined || markup === null) return undefined;
  if (typeof markup !== 'object') throw bad("can't parse reply keyboard markup JSON object");
  const kb = (markup as { inline_keyboard?: unknown }).inline_keyboard;
  if (kb === undefined) return clone(markup as Record<string, unknown>);
  if (!Array.isArray(kb) || !kb.every((row) => Array.isArray(row))) {
    throw bad('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays');
  }
  for (const row of kb as unknown[][]) {
    for (const b of row) {
      const button = (b ?? {}) as Record<string, unknown>;
      if (typeof button.text !== 'string') throw bad("can't find field \"text\"");
      const actions = BUTTON_ACTIONS.filter((k) => button[k] !== undefined);
      if (actions.length === 0) throw bad('text buttons are unallowed in the inline keyboard');
      if (actions.length > 1) {
        throw bad(`can't parse inline keyboard button: a button must have exactly one of ${BUTTON_ACTIONS.join(', ')}; "${button.text}" has ${actions.join(' and ')}`);
      }
      if (button.callback_data !== undefined) {
        const data = button.callback_data;
        if (typeof data !== 'string' || data === '' || Buffer.byteLength(data, 'utf8') > 64) {
          throw bad('BUTTON_DATA_INVALID');
        }
      }
      if (button.url !== undefined && (typeof button.url !== 'string' || button.url.trim() === '')) {
        throw bad("can't parse inline keyboard button: the url of a url button must not be empty");
      }
    }
  }
  return clone(markup as InlineKeyboardMarkupLike);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseRequest(method: Method, url: URL, contentType: string, body: Buffer): Request {
  const params: Record<string, unknown> = {};
  const files: Record<string, RecordedFile> = {};
  const attachments = new Map<string, RecordedFile>();
  for (const [k, v] of url.searchParams) params[k] = decodeField(k, v);
  const ct = contentType.toLowerCase();
  if (body.length > 0) {
    if (ct.startsWith('application/json')) {
      const parsed = JSON.parse(body.toString('utf8')) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) Object.assign(params, parsed);
    } else if (ct.startsWith('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = decodeField(k, v);
    } else if (ct.startsWith('multipart/form-data')) {
      const mp = parseMultipart(body, contentType);
      for (const [k, v] of mp.fields) params[k] = decodeField(k, v);
      for (const [k, f] of mp.files) attachments.set(k, f);
    }
  }
  for (const [id, file] of attachments) {
    const field = Object.keys(params).find((k) => params[k] === `attach://${id}`);
    files[field ?? id] = file;
  }
  return { method, params, files, attachments };
}

function describeCalls(calls: RecordedCall[]): string {
  const polls = calls.filter((c) => c.method === 'getUpdates').length;
  const recent = calls.filter((c) => c.method !== 'getUpdates').slice(-15);
  const lines = recent.map((c) => {
    const p = { ...c.params };
    for (const k of Object.keys(p)) {
      const s = JSON.stringify(p[k]) ?? '';
      if (s.length > 120) p[k] = `${s.slice(0, 117)}...`;
    }
    const outcome = c.ok === false ? ` -> ${c.error?.error_code} ${c.error?.description}` : '';
    const files = Object.keys(c.files).length ? ` files=${Object.keys(c.files).join(',')}` : '';
    return `  ${c.method} ${JSON.stringify(p)}${files}${outcome}`;
  });
  return `Recent calls (${calls.length} total, ${polls} getUpdates not listed):\n${lines.join('\n') || '  (none)'}`;
}
