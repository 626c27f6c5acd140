import { type Api, type Context, GrammyError, InlineKeyboard } from 'grammy';
import { getChatLocale } from '../db/chat-locales.js';
import type { Db } from '../db/index.js';
import type { User } from '../db/schema.js';
import { cb } from './callback-data.js';
import { fullName } from './format.js';
import { DEFAULT_LOCALE, type Translator } from './i18n.js';

/** Every text the bot builds is HTML, its parameters escaped (i18n.ts). */
export const HTML = { parse_mode: 'HTML' } as const;

export function isNotModified(e: unknown): boolean {
  return e instanceof GrammyError && /message is not modified/i.test(e.description);
}

/** Telegram will not edit the message: it was deleted (a user may delete the bot's messages in a private chat) or is too old to edit. */
export function isEditGone(e: unknown): boolean {
  return e instanceof GrammyError && e.error_code === 400 && /message to edit not found|message can't be edited/i.test(e.description);
}

/** The user blocked the bot or deleted their account: retrying will not help. */
export function isUnreachable(e: unknown): boolean {
  return e instanceof GrammyError && e.error_code === 403;
}

/** Editing to identical content is success, not an error. */
export async function safeEdit(api: Api, chatId: number, messageId: number, text: string, keyboard?: InlineKeyboard): Promise<void> {
  try {
    await api.editMessageText(chatId, messageId, text, { ...HTML, reply_markup: keyboard });
  } catch (e) {
    if (!isNotModified(e)) throw e;
  }
}

export async function localeOf(db: Db, chatId: number): Promise<string> {
  return (await getChatLocale(db, chatId)) ?? DEFAULT_LOCALE;
}

export function userParams(user: Pick<User, 'id' | 'first_name' | 'last_name' | 'username'>) {
  return { name: fullName(user), username: user.username ? `@${user.username}` : '—', id: String(user.id) };
}

export function approvalKeyboard(t: Translator, locale: string, userId: number): InlineKeyboard {
  return new InlineKeyboard()
    .text(t.t(locale, 'btn-approve'), cb.approve.pack({ userId }))
    .text(t.t(locale, 'btn-reject'), cb.reject.pack({ userId }));
}

/** Edits the message whose button was pressed, or sends a new one when there is none (a command). */
export async function editCurrent(ctx: Pick<Context, 'api' | 'from' | 'callbackQuery'>, text: string, keyboard?: InlineKeyboard): Promise<void> {
  const m = ctx.callbackQuery?.message;
  if (m) await safeEdit(ctx.api, m.chat.id, m.message_id, text, keyboard);
  else await ctx.api.sendMessage(ctx.from!.id, text, { ...HTML, reply_markup: keyboard });
}
