import { type Api, HttpError, InputFile } from 'grammy';
import type { Update, UserFromGetMe } from 'grammy/types';
import { ApiError, type ApiErrorBody, type RecordedFile, TelegramState } from './bot-api-state.js';

export interface Call {
  method: string;
  payload: Record<string, any>;
  files: Record<string, RecordedFile>;
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

/**
 * Stands in for the network beneath the bot's own API transformers in in-process tests: no HTTP,
 * but Telegram's answers from the same TelegramState as the HTTP stand-in (without flood limits:
 * in-process nothing is paced). A refusal the test did not ask for is kept in `violations`, and
 * so is a callback query never answered (problems()), which the harness checks on close, so a
 * fallback that hides a refusal cannot hide it from the tests.
 */
export class Recorder {
  readonly calls: Call[] = [];
  readonly violations: string[] = [];
  private networkFaults: { method: string; code: string; performed: boolean }[] = [];

  /** `state`: Telegram's side, which outlives a restart of the bot (pass the first recorder's). */
  constructor(readonly state = new TelegramState({ bot: BOT_INFO, rateLimit: false })) {}

  /** Install before the bot's own transformers, so they wrap it as they wrap the network. */
  install(api: Api): void {
    api.config.use(async (_prev, method, payload) => {
      const params = { ...(payload as Record<string, any>) };
      const files: Call['files'] = {};
      for (const [k, v] of Object.entries(params)) {
        if (v instanceof InputFile) {
          files[k] = { name: v.filename ?? k, data: await bytesOf(v) };
          params[k] = `attach://${k}`;
        }
      }
      const call: Call = { method, payload: params, files };
      const net = this.networkFaults.findIndex((f) => f.method === method);
      if (net >= 0) {
        const f = this.networkFaults.splice(net, 1)[0]!;
        // performed: Telegram got it and the answer was lost on the way back.
        if (f.performed) {
          this.calls.push(call);
          call.result = this.state.perform({ method, params, files });
        }
        throw new HttpError(`Network request for '${method}' failed!`, Object.assign(new Error(f.code), { code: f.code }));
      }
      this.calls.push(call);
      try {
        call.result = this.state.perform({ method, params, files });
        return { ok: true, result: call.result } as any;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        call.error = e.body.description;
        if (!e.injected && !/message is not modified/.test(e.body.description)) this.violations.push(`${method}: ${e.body.description}`);
        return { ok: false, ...e.body } as any;
      }
    });
  }

  /** Telegram received this update (before the bot handles it): its sender has written to the bot, its callback query awaits an answer. */
  noteUpdate(update: Update): void {
    this.state.noteUpdate(update);
  }

  /** See TelegramState.failNext. */
  failNext(method: string, error: ApiErrorBody, times = 1, when?: (params: Record<string, unknown>) => boolean): void {
    this.state.failNext(method, error, times, when);
  }

  /** The next call of `method` fails on the network with this error code; `performed`: after Telegram took it (only the answer is lost). */
  failNextOnNetwork(method: string, code: string, performed: boolean): void {
    this.networkFaults.push({ method, code, performed });
  }

  /** What Telegram would have refused, and the callback queries the bot left unanswered. */
  problems(): string[] {
    return [...this.violations, ...this.state.unansweredCallbackQueries().map((id) => `callback query ${id} was never answered`)];
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
