import { type Api, HttpError, InputFile } from 'grammy';
import type { Update, UserFromGetMe } from 'grammy/types';
import { parseTelegramHtml } from './telegram-html.js';

export interface Call {
  method: string;
  payload: Record<string, any>;
  files: Record<string, { name: string | undefined; data: Buffer }>;
  result?: any;
  error?: string;
}

export const BOT_INFO: UserFromGetMe = {
  id: 4242,
  is_bot: true,
  first_name: 'AndreyVPN',
  username: 'andreyvpn_test_bot',
  can_join_groups: false,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
  has_topics_enabled: false,
  allows_users_to_create_topics: false,
} as UserFromGetMe;

async function bytesOf(f: InputFile): Promise<Buffer> {
  const raw = await f.toRaw();
  if (raw instanceof Uint8Array) return Buffer.from(raw);
  const parts: Uint8Array[] = [];
  for await (const chunk of raw as AsyncIterable<Uint8Array>) parts.push(chunk);
  return Buffer.concat(parts);
}

class Refusal extends Error {
  constructor(readonly description: string) {
    super(description);
  }
}

/**
 * Stands in for the network beneath the bot's own API transformers in in-process tests:
 * no HTTP, but realistic results (message objects with ids) and Telegram's answers, including
 * its refusals (400 for bad HTML, lengths, callback data over 64 bytes). A refusal the test did
 * not ask for is also kept in `violations`, which the harness checks, so a fallback that hides
 * unescaped text cannot hide it from the tests.
 */
export class Recorder {
  readonly calls: Call[] = [];
  readonly violations: string[] = [];
  private nextId = new Map<number, number>();
  private faults: { method: string; code: number; description: string; parameters?: { retry_after?: number } }[] = [];
  private networkFaults: { method: string; code: string; performed: boolean }[] = [];
  private texts = new Map<string, string>();

  /** Install before the bot's own transformers, so they wrap it as they wrap the network. */
  install(api: Api): void {
    api.config.use(async (_prev, method, payload) => {
      const p = { ...(payload as Record<string, any>) };
      const files: Call['files'] = {};
      for (const [k, v] of Object.entries(p)) {
        if (v instanceof InputFile) {
          files[k] = { name: v.filename, data: await bytesOf(v) };
          p[k] = `attach://${k}`;
        }
      }
      const call: Call = { method, payload: p, files };
      const net = this.networkFaults.findIndex((f) => f.method === method);
      if (net >= 0) {
        const f = this.networkFaults.splice(net, 1)[0]!;
        // performed: Telegram got it and the answer was lost on the way back.
        if (f.performed) {
          this.calls.push(call);
          call.result = this.result(method, p);
        }
        throw new HttpError(`Network request for '${method}' failed!`, Object.assign(new Error(f.code), { code: f.code }));
      }
      this.calls.push(call);
      const fault = this.faults.findIndex((f) => f.method === method);
      if (fault >= 0) {
        const f = this.faults.splice(fault, 1)[0]!;
        call.error = f.description;
        return { ok: false, error_code: f.code, description: f.description, parameters: f.parameters } as any;
      }
      try {
        this.validate(method, p);
        call.result = this.result(method, p);
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        call.error = e.description;
        if (!/message is not modified/.test(e.description)) this.violations.push(`${method}: ${e.description}`);
        return { ok: false, error_code: 400, description: e.description } as any;
      }
      return { ok: true, result: call.result } as any;
    });
  }

  failNext(method: string, code: number, description: string, parameters?: { retry_after?: number }): void {
    this.faults.push({ method, code, description, parameters });
  }

  /** The next call of `method` fails on the network with this error code; `performed`: after Telegram took it (only the answer is lost). */
  failNextOnNetwork(method: string, code: string, performed: boolean): void {
    this.networkFaults.push({ method, code, performed });
  }

  private validate(method: string, p: Record<string, any>): void {
    for (const field of ['text', 'caption'] as const) {
      if (typeof p[field] !== 'string') continue;
      let visible: string = p[field];
      if (p.parse_mode === 'HTML') {
        try {
          visible = parseTelegramHtml(p[field]).text;
        } catch (e) {
          throw new Refusal(`Bad Request: ${(e as Error).message}`);
        }
      }
      if (field === 'text' && visible.length > 4096) throw new Refusal('Bad Request: message is too long');
      if (field === 'caption' && visible.length > 1024) throw new Refusal('Bad Request: message caption is too long');
    }
    for (const row of p.reply_markup?.inline_keyboard ?? []) {
      for (const b of row) if (b.callback_data && Buffer.byteLength(b.callback_data) > 64) throw new Refusal('Bad Request: BUTTON_DATA_INVALID');
    }
  }

  private message(chatId: number, extra: Record<string, unknown>) {
    const id = (this.nextId.get(chatId) ?? 1000) + 1;
    this.nextId.set(chatId, id);
    return { message_id: id, date: Math.floor(Date.now() / 1000), chat: { id: chatId, type: 'private' }, from: BOT_INFO, ...extra };
  }

  private result(method: string, p: Record<string, any>): unknown {
    switch (method) {
      case 'sendMessage': {
        const m = this.message(p.chat_id, { text: p.text, reply_markup: p.reply_markup });
        this.texts.set(`${p.chat_id}:${m.message_id}`, `${p.text}|${JSON.stringify(p.reply_markup ?? null)}`);
        return m;
      }
      case 'sendDocument':
        return this.message(p.chat_id, { caption: p.caption, document: { file_id: `doc${this.calls.length}`, file_unique_id: `u${this.calls.length}`, file_name: 'x.conf' } });
      case 'sendPhoto':
        return this.message(p.chat_id, { caption: p.caption, photo: [{ file_id: `ph${this.calls.length}`, file_unique_id: `p${this.calls.length}`, width: 300, height: 300 }] });
      case 'editMessageText': {
        const key = `${p.chat_id}:${p.message_id}`;
        const now = `${p.text}|${JSON.stringify(p.reply_markup ?? null)}`;
        if (this.texts.get(key) === now) throw new Refusal('Bad Request: message is not modified');
        this.texts.set(key, now);
        return { message_id: p.message_id, date: Math.floor(Date.now() / 1000), chat: { id: p.chat_id, type: 'private' }, text: p.text };
      }
      case 'getMe':
        return BOT_INFO;
      default:
        return true;
    }
  }

  /** Calls since index `from`, optionally of one method and to one chat. */
  find(method: string, chatId?: number, from = 0): Call[] {
    return this.calls.slice(from).filter((c) => c.method === method && (chatId === undefined || c.payload.chat_id === chatId));
  }

  last(method: string, chatId?: number): Call | undefined {
    return this.find(method, chatId).at(-1);
  }

  /** The texts of every message sent to the chat and of every edit there, in order. */
  textsTo(chatId: number, from = 0): string[] {
    return this.calls
      .slice(from)
      .filter((c) => (c.method === 'sendMessage' || c.method === 'editMessageText') && c.payload.chat_id === chatId && !c.error)
      .map((c) => c.payload.text as string);
  }
}

let updateId = 1;
let messageId = 1;

export interface From {
  id: number;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

/** A private message from `from` with any content (text with entities, a photo, a sticker …). */
export function messageUpdate(from: From, content: Record<string, unknown>): Update {
  return {
    update_id: updateId++,
    message: {
      message_id: messageId++,
      date: Math.floor(Date.now() / 1000),
      chat: { id: from.id, type: 'private', first_name: from.first_name },
      from: { is_bot: false, ...from },
      ...content,
    },
  } as Update;
}

export function textUpdate(from: From, text: string): Update {
  const entities = text.startsWith('/') ? [{ type: 'bot_command' as const, offset: 0, length: text.split(' ')[0]!.length }] : undefined;
  return messageUpdate(from, { text, ...(entities ? { entities } : {}) });
}

/** A user's reply to one of the bot's messages (e.g. a force_reply prompt), as Telegram delivers it. */
export function replyUpdate(from: From, prompt: Call, botId: number, text: string): Update {
  const u = textUpdate(from, text) as any;
  u.message.reply_to_message = {
    message_id: prompt.result.message_id,
    date: 1,
    chat: { id: from.id, type: 'private', first_name: 'x' },
    from: { id: botId, is_bot: true, first_name: 'bot' },
    text: prompt.payload.text,
  };
  return u as Update;
}

export function callbackUpdate(from: From, data: string, message?: { chatId: number; messageId: number; text?: string }): Update {
  return {
    update_id: updateId++,
    callback_query: {
      id: `cq${updateId}`,
      from: { is_bot: false, ...from },
      chat_instance: 'ci',
      data,
      message: message
        ? { message_id: message.messageId, date: Math.floor(Date.now() / 1000), chat: { id: message.chatId, type: 'private', first_name: 'x' }, text: message.text ?? '' }
        : undefined,
    },
  } as Update;
}

/** The buttons of a recorded call's inline keyboard, flattened. */
export function buttons(call: Call | undefined): { text: string; callback_data: string }[] {
  return (call?.payload.reply_markup?.inline_keyboard ?? []).flat();
}
