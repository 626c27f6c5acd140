// Telegram's side of the conversation, shared by the HTTP stand-in (bot-api.ts) and the in-process
// recorder (recorder.ts), so both refuse what Telegram refuses: bad parse_mode HTML, text over 4096
// and captions over 1024 characters after parsing, callback data outside 1–64 bytes, a button with
// other than one action, an edit that changes nothing, a message to a user who never wrote to the
// bot (403), a callback query answered twice or late, and (when on) the flood limits (429).
import type { CallbackQuery, Chat, Message, MessageEntity, Update, User } from 'grammy/types';
import { HtmlParseError, parseTelegramHtml } from './telegram-html.js';

/** A user as a test describes them; `is_bot` defaults to false. */
export type UserInput = Omit<User, 'is_bot'> & { is_bot?: boolean };
/** Enough of a message to press a button under it. */
export interface MessageRef { message_id: number; chat: { id: number } }
export interface RecordedFile { name: string; data: Buffer; mimeType?: string }
export interface ApiErrorBody { error_code: number; description: string; parameters?: { retry_after?: number } }
/** One Bot API call: parameters as JSON values, uploaded files by the field that names them. */
export interface ApiRequest { method: string; params: Record<string, unknown>; files: Record<string, RecordedFile> }

/** A message the bot sent; `message` is its live state (edits applied), `sent` as the send call returned it. */
export interface SentMessage {
  method: string;
  chatId: number;
  message: Message;
  sent: Message;
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

export interface FloodLimit { perSecond: number; perChatPerSecond: number }

/** Telegram's flood limits: 30 messages a second over all chats, 1 a second to one chat. */
const DEFAULT_RATE_LIMIT: FloodLimit = { perSecond: 30, perChatPerSecond: 1 };

export interface TelegramStateOptions {
  bot: User;
  /** Flood limits; a field left out keeps Telegram's, `Infinity` lifts one, false both. Default Telegram's. */
  rateLimit?: Partial<FloodLimit> | false;
  /** false: the bot may message users who never wrote to it (only for tests without users). Default true. */
  requireStartedChat?: boolean;
}

/** Methods that send or change a message: refused to users who never wrote, and flood-limited. */
const MESSAGE_METHODS = new Set(['sendMessage', 'sendPhoto', 'sendDocument', 'editMessageText']);

/** Inline keyboard button fields naming what the button does: exactly one per button. */
const BUTTON_ACTIONS = [
  'callback_data', 'url', 'web_app', 'login_url', 'switch_inline_query', 'switch_inline_query_current_chat',
  'switch_inline_query_chosen_chat', 'copy_text', 'callback_game', 'pay',
] as const;

const CALLBACK_ANSWER_TIMEOUT_MS = 15_000;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const clone = <T>(v: T): T => structuredClone(v);
const userOf = (u: UserInput): User => ({ ...u, is_bot: u.is_bot ?? false });

type StoredFile = RecordedFile & { file_id: string; file_unique_id: string };

export class TelegramState {
  readonly bot: User;
  private readonly limit: FloodLimit | null;
  /** The messages of the last second, oldest first (for the flood limits). */
  private readonly recentSends: { at: number; chat: number }[] = [];
  private readonly requireStartedChat: boolean;
  /** Users who wrote to the bot (or were declared with knowUser): the bot may message them. */
  private readonly users = new Map<number, User>();
  /** Per chat, its messages by id (ids count up from 1; nothing is ever deleted). */
  private readonly chats = new Map<number, Map<number, Message>>();
  private readonly sent: SentMessage[] = [];
  private readonly files = new Map<string, StoredFile>();
  /** Callback queries not answered yet: id → when pressed (ms). */
  private readonly openQueries = new Map<string, number>();
  private faults: { method: string; error: ApiErrorBody; times: number; when?: (p: Record<string, unknown>) => boolean }[] = [];
  private counter = 0;

  constructor(opts: TelegramStateOptions) {
    this.bot = opts.bot;
    this.requireStartedChat = opts.requireStartedChat ?? true;
    this.limit = opts.rateLimit === false ? null : { ...DEFAULT_RATE_LIMIT, ...opts.rateLimit };
    for (const [key, value] of Object.entries(this.limit ?? {})) {
      if (!(value >= 1)) throw new Error(`rateLimit.${key} must be ≥ 1 or Infinity (or rateLimit: false), got ${value}`);
    }
  }

  // ------------------------------------------------------------ what users do

  /**
   * Telegram saw this update come in: its sender has written to the bot, its callback query waits
   * for an answer, the files it carries can be sent by file_id.
   */
  noteUpdate(update: Update): void {
    for (const payload of Object.values(update) as Partial<Message & CallbackQuery>[]) {
      if (payload.from && !this.users.has(payload.from.id)) this.users.set(payload.from.id, payload.from);
      if (payload.id !== undefined && payload.chat_instance !== undefined) this.openQueries.set(payload.id, Date.now());
      for (const f of [...(payload.photo ?? []), payload.document]) {
        if (f && !this.files.has(f.file_id)) this.files.set(f.file_id, { ...f, name: 'file', data: Buffer.alloc(0) });
      }
    }
  }

  /** This user started the bot before the test began: the bot may message them. */
  knowUser(user: UserInput): void {
    this.users.set(user.id, userOf(user));
  }

  /** A private-chat text message from `from` (a bot_command entity for /commands), stored in the chat. */
  userMessage(from: UserInput, text: string): Message {
    this.knowUser(from);
    const message: Message = { message_id: this.messagesIn(from.id).size + 1, from: userOf(from), chat: this.chatFor(from.id), date: nowSeconds(), text };
    const cmd = /^\/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]+)?/.exec(text);
    if (cmd) message.entities = [{ type: 'bot_command', offset: 0, length: cmd[0].length }];
    this.messagesIn(from.id).set(message.message_id, message);
    return clone(message);
  }

  /** A press on a button under `message` carrying `data` (not checked against the keyboard), with the message's live state. */
  callbackQuery(from: UserInput, message: MessageRef, data: string): CallbackQuery {
    this.knowUser(from);
    const current = this.chats.get(message.chat.id)?.get(message.message_id) ?? (message as Message);
    return {
      id: `${this.bot.id}${String(++this.counter).padStart(6, '0')}`,
      from: userOf(from),
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
  messageIn(chatId: number, messageId: number): Message | undefined {
    const m = this.chats.get(chatId)?.get(messageId);
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
      const chatId = chatIdOf(p);
      if (this.requireStartedChat && chatId > 0 && !this.users.has(chatId)) {
        throw new ApiError({ error_code: 403, description: "Forbidden: bot can't initiate conversation with a user" });
      }
    }
    switch (r.method) {
      case 'getMe':
        return { ...clone(this.bot), can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };
      case 'getChat': {
        const chatId = chatIdOf(p);
        if (chatId > 0 && !this.users.has(chatId) && !this.chats.has(chatId)) throw bad('chat not found');
        return this.chatFor(chatId);
      }
      case 'sendMessage':
        return this.record(r, requireText(p));
      case 'sendPhoto':
        return this.record(r, { ...this.media('photo', r), ...captionOf(p) });
      case 'sendDocument':
        return this.record(r, { ...this.media('document', r), ...captionOf(p) });
      case 'editMessageText':
        return this.editText(p);
      case 'answerCallbackQuery': {
        const id = String(p.callback_query_id);
        const pressedAt = this.openQueries.get(id);
        if (pressedAt === undefined || Date.now() - pressedAt > CALLBACK_ANSWER_TIMEOUT_MS) {
          throw bad('query is too old and response timeout expired or query ID is invalid');
        }
        if (typeof p.text === 'string' && p.text.length > 200) throw bad('MESSAGE_TOO_LONG');
        this.openQueries.delete(id);
        return true;
      }
      case 'setMyCommands': {
        for (const c of p.commands as { command: string; description: string }[]) {
          if (!/^[a-z0-9_]{1,32}$/.test(c.command)) throw bad('BOT_COMMAND_INVALID');
          if (c.description.length < 1 || c.description.length > 256) throw bad('command description is invalid');
        }
        return true;
      }
      default:
        throw new ApiError({ error_code: 404, description: 'Not Found: method not found' });
    }
  }

  private record(r: ApiRequest, content: Partial<Message>): Message {
    const chatId = chatIdOf(r.params);
    const markup = checkMarkup(r.params.reply_markup);
    this.throttle(chatId);
    const message: Message = { message_id: this.messagesIn(chatId).size + 1, from: clone(this.bot), chat: this.chatFor(chatId), date: nowSeconds(), ...content };
    if (markup) message.reply_markup = markup;
    this.messagesIn(chatId).set(message.message_id, message);
    this.sent.push({ method: r.method, chatId, message, sent: clone(message), params: r.params, files: r.files, at: Date.now() });
    return clone(message);
  }

  private editText(p: Record<string, unknown>): Message {
    const { text, entities } = requireText(p);
    const markup = checkMarkup(p.reply_markup);
    const stored = this.chats.get(chatIdOf(p))?.get(Number(p.message_id));
    if (!stored) throw bad('message to edit not found');
    if (stored.from?.id !== this.bot.id) throw bad("message can't be edited");
    if (stored.text === undefined) throw bad('there is no text in the message to edit');
    const shown = (m: Partial<Message>) => JSON.stringify([m.text, m.entities ?? [], m.reply_markup ?? null]);
    // An edit that does not repeat the inline keyboard removes it.
    if (shown(stored) === shown({ text, entities, reply_markup: markup })) {
      throw bad('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
    }
    this.throttle(stored.chat.id);
    stored.text = text;
    if (entities) stored.entities = entities;
    else delete stored.entities;
    if (markup) stored.reply_markup = markup;
    else delete stored.reply_markup;
    stored.edit_date = nowSeconds();
    return clone(stored);
  }

  /** The photo or document of a send: an upload, or a file_id Telegram has seen. */
  private media(kind: 'photo' | 'document', r: ApiRequest): Partial<Message> {
    const upload = r.files[kind];
    const f = upload ? this.storeFile(upload) : this.files.get(String(r.params[kind]));
    if (!f) throw bad(r.params[kind] === undefined ? `there is no ${kind} in the request` : 'wrong file identifier/HTTP URL specified');
    const ids = { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.data.length };
    if (kind === 'photo') return { photo: [{ ...ids, width: 320, height: 320 }] };
    return { document: { ...ids, file_name: f.name, mime_type: f.mimeType ?? 'application/octet-stream' } };
  }

  private storeFile(file: RecordedFile): StoredFile {
    const n = ++this.counter;
    const stored = { ...file, file_id: `file-${n}`, file_unique_id: `unique-${n}` };
    this.files.set(stored.file_id, stored);
    return stored;
  }

  /** The flood limits: sliding one-second windows over all chats and per chat; a refused call counts in neither. */
  private throttle(chat: number): void {
    if (!this.limit) return;
    const now = Date.now();
    const expired = this.recentSends.findIndex((m) => m.at > now - 1000);
    this.recentSends.splice(0, expired < 0 ? this.recentSends.length : expired);
    const ofChat = this.recentSends.filter((m) => m.chat === chat);
    const globalFull = this.recentSends.length >= this.limit.perSecond;
    const chatFull = ofChat.length >= this.limit.perChatPerSecond;
    if (globalFull || chatFull) {
      // Whole seconds ≥ 1 until the oldest message of the full window leaves it.
      const waitMs = Math.max(globalFull ? this.recentSends[0]!.at + 1000 - now : 0, chatFull ? ofChat[0]!.at + 1000 - now : 0);
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError({ error_code: 429, description: `Too Many Requests: retry after ${retryAfter}`, parameters: { retry_after: retryAfter } });
    }
    this.recentSends.push({ at: now, chat });
  }

  private chatFor(chatId: number): Chat {
    if (chatId < 0) return { id: chatId, type: 'supergroup', title: 'Test group' };
    const user = this.users.get(chatId);
    const chat: Chat.PrivateChat = { id: chatId, type: 'private', first_name: user?.first_name ?? '' };
    if (user?.last_name !== undefined) chat.last_name = user.last_name;
    if (user?.username !== undefined) chat.username = user.username;
    return chat;
  }

  private messagesIn(chatId: number): Map<number, Message> {
    let messages = this.chats.get(chatId);
    if (!messages) this.chats.set(chatId, (messages = new Map()));
    return messages;
  }
}

function chatIdOf(p: Record<string, unknown>): number {
  const id = Number(p.chat_id);
  if (!Number.isSafeInteger(id) || id === 0) throw bad('chat not found');
  return id;
}

/** The visible text of `text` (HTML parsed, or with its entities), refused when empty or over 4096 characters. */
function requireText(p: Record<string, unknown>): { text: string; entities?: MessageEntity[] } {
  const parsed = parseText(String(p.text ?? ''), p.parse_mode, p.entities);
  if (parsed.text.trim() === '') throw bad('message text is empty');
  if (parsed.text.length > 4096) throw bad('message is too long');
  return parsed;
}

function captionOf(p: Record<string, unknown>): Partial<Message> {
  if (typeof p.caption !== 'string' || p.caption === '') return {};
  const { text, entities } = parseText(p.caption, p.parse_mode, p.caption_entities);
  if (text.length > 1024) throw bad('message caption is too long');
  return { caption: text, ...(entities ? { caption_entities: entities } : {}) };
}

function parseText(raw: string, parseMode: unknown, entities: unknown): { text: string; entities?: MessageEntity[] } {
  if (parseMode === undefined) {
    return { text: raw, ...(Array.isArray(entities) && entities.length > 0 ? { entities: clone(entities as MessageEntity[]) } : {}) };
  }
  if (parseMode !== 'HTML') throw bad('unsupported parse_mode');
  try {
    const parsed = parseTelegramHtml(raw);
    return { text: parsed.text, ...(parsed.entities.length > 0 ? { entities: parsed.entities as MessageEntity[] } : {}) };
  } catch (err) {
    if (err instanceof HtmlParseError) throw bad(err.message);
    throw err;
  }
}

function checkMarkup(markup: unknown): Message['reply_markup'] {
  const kb = (markup as { inline_keyboard?: Record<string, unknown>[][] } | undefined)?.inline_keyboard;
  for (const button of kb?.flat() ?? []) {
    const actions = BUTTON_ACTIONS.filter((k) => button[k] !== undefined);
    if (actions.length === 0) throw bad('text buttons are unallowed in the inline keyboard');
    if (actions.length > 1) throw bad(`can't parse inline keyboard button: a button must have exactly one action; "${String(button.text)}" has ${actions.join(' and ')}`);
    const data = button.callback_data;
    if (data !== undefined && (typeof data !== 'string' || data === '' || Buffer.byteLength(data, 'utf8') > 64)) throw bad('BUTTON_DATA_INVALID');
    if (button.url !== undefined && (typeof button.url !== 'string' || button.url.trim() === '')) throw bad("can't parse inline keyboard button: the url must not be empty");
  }
  return markup === undefined ? undefined : clone(markup as Message['reply_markup']);
}

/** All inline buttons under a message (or a sent message's live state), row by row. */
export function buttonsOf(message: Message | SentMessage): { text: string; callback_data?: string; url?: string }[] {
  const m = 'chatId' in message ? message.message : message;
  return (m.reply_markup?.inline_keyboard ?? []).flat();
}
