// Telegram's side of the conversation, shared by the HTTP stand-in (bot-api.ts) and the in-process
// recorder (recorder.ts), so both refuse what Telegram refuses: bad parse_mode HTML, text over 4096
// and captions over 1024 characters after parsing, callback data outside 1–64 bytes, a button with
// other than one action, an edit that changes nothing, a message to a user who never wrote to the
// bot (403), a callback query answered twice or late, and (when on) the flood limits (429).
import { randomBytes } from 'node:crypto';
import { HtmlParseError, parseTelegramHtml, type TgEntity } from './telegram-html.js';

export type { TgEntity } from './telegram-html.js';

export interface TgUser { id: number; is_bot: boolean; first_name: string; last_name?: string; username?: string; language_code?: string }
/** A user as a test describes them; `is_bot` defaults to false. */
export type UserInput = Omit<TgUser, 'is_bot'> & { is_bot?: boolean };
export interface TgChat { id: number; type: 'private' | 'supergroup'; first_name?: string; last_name?: string; username?: string; title?: string }
export interface InlineButtonLike { text: string; callback_data?: string; url?: string; [key: string]: unknown }
type FileIds = { file_id: string; file_unique_id: string; file_size: number };

export interface TgMessage {
  message_id: number;
  date: number;
  chat: TgChat;
  from?: TgUser;
  text?: string;
  entities?: TgEntity[];
  caption?: string;
  caption_entities?: TgEntity[];
  photo?: (FileIds & { width: number; height: number })[];
  document?: FileIds & { file_name: string; mime_type: string };
  reply_markup?: { inline_keyboard?: InlineButtonLike[][]; [key: string]: unknown };
  edit_date?: number;
  [key: string]: unknown;
}

export interface TgCallbackQuery { id: string; from: TgUser; chat_instance: string; message?: TgMessage; data?: string }
export interface TgUpdate { update_id: number; message?: TgMessage; callback_query?: TgCallbackQuery; [key: string]: unknown }
export interface RecordedFile { name: string; data: Buffer; mimeType?: string }
export interface ApiErrorBody { error_code: number; description: string; parameters?: { retry_after?: number } }
/** One Bot API call: parameters as JSON values, uploaded files by the field that names them. */
export interface ApiRequest { method: string; params: Record<string, unknown>; files: Record<string, RecordedFile> }

/** A message the bot sent; `message` is its live state (edits applied), `sent` as the send call returned it. */
export interface SentMessage {
  method: string;
  chatId: number;
  message: TgMessage;
  sent: TgMessage;
  params: Record<string, unknown>;
  files: Record<string, RecordedFile>;
  at: number;
}

export class ApiError extends Error {
  /** `injected`: a fault the test asked for (failNext), not a refusal of the bot's request. */
  constructor(readonly body: ApiErrorBody, readonly injected = false) {
    super(body.description);
  }
}

export const bad = (description: string): ApiError => new ApiError({ error_code: 400, description: `Bad Request: ${description}` });
const forbidden = (description: string): ApiError => new ApiError({ error_code: 403, description: `Forbidden: ${description}` });

export interface FloodLimit { perSecond: number; perChatPerSecond: number }

/** Telegram's flood limits: 30 messages a second over all chats, 1 a second to one chat. */
export const DEFAULT_RATE_LIMIT: Readonly<FloodLimit> = Object.freeze({ perSecond: 30, perChatPerSecond: 1 });

export interface TelegramStateOptions {
  bot: TgUser;
  /** Flood limits; a field left out keeps Telegram's, `Infinity` lifts one, false both. Default Telegram's. */
  rateLimit?: Partial<FloodLimit> | false;
  /** false: the bot may message users who never wrote to it. Default true. */
  requireStartedChat?: boolean;
  /** How long after the press a callback query may be answered. Default 15 s, as Telegram. */
  callbackAnswerTimeoutMs?: number;
}

/** Methods that send or change a message: refused to users who never wrote, and flood-limited. */
const MESSAGE_METHODS = new Set(['sendMessage', 'sendPhoto', 'sendDocument', 'editMessageText']);

/** Inline keyboard button fields naming what the button does: exactly one per button. */
const BUTTON_ACTIONS = [
  'callback_data', 'url', 'web_app', 'login_url', 'switch_inline_query', 'switch_inline_query_current_chat',
  'switch_inline_query_chosen_chat', 'copy_text', 'callback_game', 'pay',
] as const;

const MIME_BY_EXT: Record<string, string> = { conf: 'application/octet-stream', png: 'image/png', txt: 'text/plain', json: 'application/json' };

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const clone = <T>(v: T): T => structuredClone(v);

interface StoredFile { file_id: string; file_unique_id: string; name: string; data: Buffer; mimeType: string }

export class TelegramState {
  readonly bot: TgUser;
  private readonly limiter: FloodLimiter | null;
  private readonly requireStartedChat: boolean;
  private readonly callbackAnswerTimeoutMs: number;
  private readonly users = new Map<number, TgUser>();
  /** Private chats whose user wrote to the bot (or was declared with knowUser). */
  private readonly started = new Set<number>();
  private readonly chats = new Map<number, { nextId: number; messages: Map<number, TgMessage> }>();
  private readonly sent: SentMessage[] = [];
  private readonly files = new Map<string, StoredFile>();
  /** Callback queries not answered yet: id → when pressed (ms). */
  private readonly openQueries = new Map<string, number>();
  private faults: { method: string; error: ApiErrorBody; times: number; when?: (p: Record<string, unknown>) => boolean }[] = [];
  private counter = 0;

  constructor(opts: TelegramStateOptions) {
    this.bot = opts.bot;
    this.requireStartedChat = opts.requireStartedChat ?? true;
    this.callbackAnswerTimeoutMs = opts.callbackAnswerTimeoutMs ?? 15_000;
    if (opts.rateLimit === false) {
      this.limiter = null;
    } else {
      const limit = { ...DEFAULT_RATE_LIMIT, ...Object.fromEntries(Object.entries(opts.rateLimit ?? {}).filter(([, v]) => v !== undefined)) };
      for (const [key, value] of Object.entries(limit)) {
        if (!(value >= 1)) throw new Error(`rateLimit.${key} must be ≥ 1 or Infinity (or rateLimit: false), got ${value}`);
      }
      this.limiter = new FloodLimiter(limit);
    }
  }

  // ------------------------------------------------------------ what users do

  /**
   * Telegram saw this update come in: its senders (`from`, a private `chat`) have written to the
   * bot, its callback query waits for an answer, the files it carries can be sent by file_id.
   */
  noteUpdate(update: object): void {
    for (const value of Object.values(update)) {
      if (typeof value !== 'object' || value === null) continue;
      const payload = value as { from?: Partial<TgUser>; chat?: Partial<TgChat>; id?: unknown; data?: unknown; photo?: { file_id?: unknown }[]; document?: { file_id?: unknown } };
      const from = payload.from;
      if (typeof from?.id === 'number' && from.id > 0) {
        this.started.add(from.id);
        if (!this.users.has(from.id) && typeof from.first_name === 'string') this.users.set(from.id, { ...(from as TgUser), is_bot: from.is_bot ?? false });
      }
      if (payload.chat?.type === 'private' && typeof payload.chat.id === 'number') this.started.add(payload.chat.id);
      if (typeof payload.id === 'string' && 'chat_instance' in payload) this.openQueries.set(payload.id, Date.now());
      for (const f of [...(payload.photo ?? []), payload.document]) {
        if (typeof f?.file_id === 'string' && !this.files.has(f.file_id)) {
          this.files.set(f.file_id, { file_id: f.file_id, file_unique_id: f.file_id, name: 'file', data: Buffer.alloc(0), mimeType: 'application/octet-stream' });
        }
      }
    }
  }

  /** This user started the bot before the test began: the bot may message them. */
  knowUser(user: UserInput): void {
    this.users.set(user.id, { ...user, is_bot: user.is_bot ?? false });
    this.started.add(user.id);
  }

  /** A private-chat text message from `from` (a bot_command entity for /commands), stored in the chat. */
  userMessage(from: UserInput, text: string): TgMessage {
    this.knowUser(from);
    const message: TgMessage = { message_id: this.nextMessageId(from.id), from: { ...from, is_bot: from.is_bot ?? false }, chat: this.chatFor(from.id), date: nowSeconds(), text };
    const cmd = /^\/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]+)?/.exec(text);
    if (cmd) message.entities = [{ type: 'bot_command', offset: 0, length: cmd[0].length }];
    this.chatState(from.id).messages.set(message.message_id, message);
    return clone(message);
  }

  /** A press on a button under `message` carrying `data` (not checked against the keyboard), with the message's live state. */
  callbackQuery(from: UserInput, message: { message_id: number; chat: { id: number } }, data: string): TgCallbackQuery {
    this.knowUser(from);
    const current = this.chats.get(message.chat.id)?.messages.get(message.message_id) ?? (message as TgMessage);
    return {
      id: `${this.bot.id}${String(++this.counter).padStart(6, '0')}`,
      from: { ...from, is_bot: from.is_bot ?? false },
      chat_instance: `${-(4_000_000_000_000 + Math.abs(message.chat.id))}`,
      message: clone(current),
      data,
    };
  }

  // ------------------------------------------------------------ what tests inspect

  /** Messages the bot sent to a chat, oldest first. */
  messagesTo(chatId: number): SentMessage[] {
    return this.sent.filter((m) => m.chatId === chatId);
  }

  lastMessageTo(chatId: number): SentMessage | undefined {
    return this.messagesTo(chatId).at(-1);
  }

  /** The current state of any message in a chat, edits applied. */
  messageIn(chatId: number, messageId: number): TgMessage | undefined {
    const m = this.chats.get(chatId)?.messages.get(messageId);
    return m ? clone(m) : undefined;
  }

  /** Callback queries handed to the bot that it has not answered (expired ones included). */
  unansweredCallbackQueries(): string[] {
    return [...this.openQueries.keys()];
  }

  /** The next `times` calls of `method` ('*': any) whose params match `when` fail with `error`. */
  failNext(method: string, error: ApiErrorBody, times = 1, when?: (params: Record<string, unknown>) => boolean): void {
    this.faults.push({ method, error: clone(error), times, ...(when ? { when } : {}) });
  }

  // ------------------------------------------------------------ what the bot calls

  /** Answers one Bot API call as Telegram would, or throws the ApiError Telegram would answer; `other` answers methods kept elsewhere. */
  perform(r: ApiRequest, other?: (r: ApiRequest) => unknown): unknown {
    const fault = this.faults.find((f) => (f.method === r.method || f.method === '*') && (!f.when || f.when(r.params)));
    if (fault) {
      if (--fault.times <= 0) this.faults = this.faults.filter((f) => f !== fault);
      throw new ApiError(clone(fault.error), true);
    }
    if (other) return other(r);
    const p = r.params;
    if (MESSAGE_METHODS.has(r.method)) {
      const chatId = requireChatId(p);
      if (this.requireStartedChat && chatId > 0 && !this.started.has(chatId)) throw forbidden("bot can't initiate conversation with a user");
    }
    switch (r.method) {
      case 'getMe':
        return { ...clone(this.bot), can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };
      case 'getChat': {
        const chatId = requireChatId(p);
        if (chatId > 0 && !this.users.has(chatId) && !this.chats.has(chatId)) throw bad('chat not found');
        return this.chatFor(chatId);
      }
      case 'sendMessage':
        return this.record(r, requireText(p));
      case 'sendPhoto':
      case 'sendDocument': {
        const kind = r.method === 'sendPhoto' ? 'photo' : 'document';
        return this.record(r, { ...this.media(kind, r), ...(captionOf(p) ?? {}) });
      }
      case 'editMessageText':
        return this.editText(r);
      case 'answerCallbackQuery': {
        const id = String(p.callback_query_id ?? '');
        const pressedAt = this.openQueries.get(id);
        if (pressedAt === undefined || Date.now() - pressedAt > this.callbackAnswerTimeoutMs) {
          throw bad('query is too old and response timeout expired or query ID is invalid');
        }
        if (typeof p.text === 'string' && p.text.length > 200) throw bad('MESSAGE_TOO_LONG');
        this.openQueries.delete(id);
        return true;
      }
      case 'setMyCommands': {
        const commands = p.commands;
        if (!Array.isArray(commands) || commands.length > 100) throw bad('parameter "commands" must be an array of at most 100');
        for (const c of commands as Record<string, unknown>[]) {
          if (typeof c.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(c.command)) throw bad('BOT_COMMAND_INVALID');
          if (typeof c.description !== 'string' || c.description.length < 1 || c.description.length > 256) throw bad('command description is invalid');
        }
        return true;
      }
      default:
        throw new ApiError({ error_code: 404, description: 'Not Found: method not found' });
    }
  }

  private record(r: ApiRequest, content: { text?: string; entities?: TgEntity[]; caption?: string; caption_entities?: TgEntity[] } & Partial<TgMessage>): TgMessage {
    const chatId = requireChatId(r.params);
    const markup = checkMarkup(r.params.reply_markup);
    this.limiter?.take(chatId, Date.now());
    const message: TgMessage = { message_id: this.nextMessageId(chatId), from: clone(this.bot), chat: this.chatFor(chatId), date: nowSeconds(), ...content };
    if (markup) message.reply_markup = markup;
    this.chatState(chatId).messages.set(message.message_id, message);
    this.sent.push({ method: r.method, chatId, message, sent: clone(message), params: r.params, files: r.files, at: Date.now() });
    return clone(message);
  }

  private editText(r: ApiRequest): TgMessage {
    const p = r.params;
    const { text, entities } = requireText(p);
    const markup = checkMarkup(p.reply_markup);
    const stored = this.chats.get(requireChatId(p))?.messages.get(Number(p.message_id));
    if (!stored) throw bad('message to edit not found');
    if (stored.from?.id !== this.bot.id) throw bad("message can't be edited");
    if (stored.text === undefined) throw bad('there is no text in the message to edit');
    const shown = (m: { text?: string; entities?: TgEntity[]; reply_markup?: unknown }) => JSON.stringify([m.text, m.entities ?? [], m.reply_markup ?? null]);
    // An edit that does not repeat the inline keyboard removes it.
    if (shown(stored) === shown({ text, entities, reply_markup: markup })) {
      throw bad('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
    }
    this.limiter?.take(stored.chat.id, Date.now());
    stored.text = text;
    if (entities) stored.entities = entities;
    else delete stored.entities;
    if (markup) stored.reply_markup = markup;
    else delete stored.reply_markup;
    stored.edit_date = nowSeconds();
    return clone(stored);
  }

  private media(kind: 'photo' | 'document', r: ApiRequest): Pick<TgMessage, 'photo' | 'document'> {
    const ref = r.params[kind];
    const upload = r.files[kind];
    let f = upload ? this.storeFile(kind, upload) : typeof ref === 'string' ? this.files.get(ref) : undefined;
    if (!f && typeof ref === 'string' && /^https?:\/\//.test(ref)) f = this.storeFile(kind, { name: ref.split('/').pop() || kind, data: Buffer.alloc(0) });
    if (!f) throw bad(ref === undefined ? `there is no ${kind} in the request` : 'wrong file identifier/HTTP URL specified');
    const ids = { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.data.length };
    if (kind === 'photo') return { photo: [{ ...ids, ...(pngSize(f.data) ?? { width: 320, height: 320 }) }] };
    return { document: { ...ids, file_name: f.name, mime_type: f.mimeType } };
  }

  private storeFile(kind: string, file: RecordedFile): StoredFile {
    const n = ++this.counter;
    const ext = (file.name.split('.').pop() ?? '').toLowerCase();
    const mimeType = file.mimeType && file.mimeType !== 'application/octet-stream' ? file.mimeType : (MIME_BY_EXT[ext] ?? 'application/octet-stream');
    const stored = { file_id: `${kind === 'photo' ? 'AgAC' : 'BQAC'}${n}${randomBytes(12).toString('base64url')}`, file_unique_id: `AQAD${n}`, name: file.name, data: file.data, mimeType };
    this.files.set(stored.file_id, stored);
    return stored;
  }

  private chatFor(chatId: number): TgChat {
    if (chatId < 0) return { id: chatId, type: 'supergroup', title: 'Test group' };
    const user = this.users.get(chatId);
    const { first_name, last_name, username } = user ?? {};
    return { id: chatId, type: 'private', ...(first_name !== undefined ? { first_name } : {}), ...(last_name !== undefined ? { last_name } : {}), ...(username !== undefined ? { username } : {}) };
  }

  private chatState(chatId: number): { nextId: number; messages: Map<number, TgMessage> } {
    let chat = this.chats.get(chatId);
    if (!chat) this.chats.set(chatId, (chat = { nextId: 1, messages: new Map() }));
    return chat;
  }

  private nextMessageId(chatId: number): number {
    return this.chatState(chatId).nextId++;
  }
}

/**
 * Sliding one-second windows over all chats and per chat. A refused call counts in neither.
 * retry_after is whole seconds ≥ 1 until the oldest message of the full window leaves it.
 */
class FloodLimiter {
  private log: { at: number; chat: number }[] = [];
  private head = 0;
  /** Per chat, times of its messages in the last second; a chat with none is dropped. */
  private readonly perChat = new Map<number, number[]>();

  constructor(private readonly limit: FloodLimit) {}

  take(chat: number, now: number): void {
    while (this.head < this.log.length && this.log[this.head]!.at <= now - 1000) {
      const old = this.log[this.head++]!;
      const window = this.perChat.get(old.chat);
      window?.shift();
      if (window?.length === 0) this.perChat.delete(old.chat);
    }
    if (this.head > 1024 && this.head * 2 > this.log.length) {
      this.log = this.log.slice(this.head);
      this.head = 0;
    }
    const window = this.perChat.get(chat) ?? [];
    const globalFull = this.log.length - this.head >= this.limit.perSecond;
    const chatFull = window.length >= this.limit.perChatPerSecond;
    if (globalFull || chatFull) {
      const waitMs = Math.max(globalFull ? this.log[this.head]!.at + 1000 - now : 0, chatFull ? window[0]! + 1000 - now : 0);
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError({ error_code: 429, description: `Too Many Requests: retry after ${retryAfter}`, parameters: { retry_after: retryAfter } });
    }
    this.log.push({ at: now, chat });
    window.push(now);
    this.perChat.set(chat, window);
  }
}

function requireChatId(p: Record<string, unknown>): number {
  const id = Number(p.chat_id);
  if (p.chat_id === undefined || p.chat_id === '') throw bad('chat_id is empty');
  if (!Number.isSafeInteger(id) || id === 0) throw bad('chat not found');
  return id;
}

/** The visible text of `text` (HTML parsed, or with its entities), refused when empty or over 4096 characters. */
function requireText(p: Record<string, unknown>): { text: string; entities?: TgEntity[] } {
  const parsed = typeof p.text === 'string' ? parseText(p.text, p.parse_mode, p.entities) : null;
  if (!parsed || parsed.text.trim() === '') throw bad('message text is empty');
  if (parsed.text.length > 4096) throw bad('message is too long');
  return parsed;
}

function captionOf(p: Record<string, unknown>): { caption: string; caption_entities?: TgEntity[] } | null {
  if (typeof p.caption !== 'string' || p.caption === '') return null;
  const parsed = parseText(p.caption, p.parse_mode, p.caption_entities);
  if (parsed.text.length > 1024) throw bad('message caption is too long');
  return { caption: parsed.text, ...(parsed.entities ? { caption_entities: parsed.entities } : {}) };
}

function parseText(raw: string, parseMode: unknown, entities: unknown): { text: string; entities?: TgEntity[] } {
  if (parseMode === undefined || parseMode === null || parseMode === '') {
    return { text: raw, ...(Array.isArray(entities) && entities.length > 0 ? { entities: clone(entities as TgEntity[]) } : {}) };
  }
  if (String(parseMode).toLowerCase() !== 'html') throw bad('unsupported parse_mode');
  try {
    const parsed = parseTelegramHtml(raw);
    return { text: parsed.text, ...(parsed.entities.length > 0 ? { entities: parsed.entities } : {}) };
  } catch (err) {
    if (err instanceof HtmlParseError) throw bad(err.message);
    throw err;
  }
}

function checkMarkup(markup: unknown): TgMessage['reply_markup'] | undefined {
  if (markup === undefined || markup === null) return undefined;
  if (typeof markup !== 'object') throw bad("can't parse reply keyboard markup JSON object");
  const kb = (markup as { inline_keyboard?: unknown }).inline_keyboard;
  if (kb === undefined) return clone(markup as Record<string, unknown>);
  if (!Array.isArray(kb) || !kb.every((row) => Array.isArray(row))) {
    throw bad('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays');
  }
  for (const button of (kb as Record<string, unknown>[][]).flat()) {
    if (typeof button?.text !== 'string') throw bad("can't find field \"text\"");
    const actions = BUTTON_ACTIONS.filter((k) => button[k] !== undefined);
    if (actions.length === 0) throw bad('text buttons are unallowed in the inline keyboard');
    if (actions.length > 1) throw bad(`can't parse inline keyboard button: a button must have exactly one action; "${button.text}" has ${actions.join(' and ')}`);
    const data = button.callback_data;
    if (data !== undefined && (typeof data !== 'string' || data === '' || Buffer.byteLength(data, 'utf8') > 64)) throw bad('BUTTON_DATA_INVALID');
    if (button.url !== undefined && (typeof button.url !== 'string' || button.url.trim() === '')) throw bad("can't parse inline keyboard button: the url must not be empty");
  }
  return clone(markup as TgMessage['reply_markup']);
}

function pngSize(data: Buffer): { width: number; height: number } | null {
  if (data.length < 24 || data.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') return null;
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

/** All inline buttons under a message, row by row. */
export function buttonsOf(message: TgMessage | SentMessage): InlineButtonLike[] {
  const m = 'sent' in message && 'chatId' in message ? (message as SentMessage).message : (message as TgMessage);
  const kb = m.reply_markup?.inline_keyboard;
  return Array.isArray(kb) ? kb.flat() : [];
}
