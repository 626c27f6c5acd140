import { type Kysely, sql } from 'kysely';
import { compiledOnce } from './infra/compiled.js';
import type { Database, User } from './schema.js';

type Q = Kysely<Database>;

/** Follows the user's Telegram language, unless they picked one with /language. */
export async function setChatLocale(db: Q, chatId: number, locale: string): Promise<void> {
  await db
    .insertInto('chat_locales')
    .values({ chat_id: chatId, locale })
    .onConflict((oc) => oc.column('chat_id').doUpdateSet({ locale }).where('chat_locales.locale', '!=', locale).where('chat_locales.chosen', '=', 0))
    .execute();
}

export async function chooseChatLocale(db: Q, chatId: number, locale: string): Promise<void> {
  await db
    .insertInto('chat_locales')
    .values({ chat_id: chatId, locale, chosen: 1 })
    .onConflict((oc) => oc.column('chat_id').doUpdateSet({ locale, chosen: 1 }))
    .execute();
}

/**
 * What every update of a private chat needs first, in one read: the chat's language row and its
 * user (a private chat's id is its user's id); undefined where there is none.
 */
export async function chatState(db: Q, chatId: number): Promise<{ locale?: { locale: string; chosen: number }; user?: User }> {
  const [row] = await chatStateQuery(db, chatId);
  const { chat_locale, chat_chosen, ...user } = row!;
  return {
    ...(chat_locale !== null && chat_chosen !== null ? { locale: { locale: chat_locale, chosen: chat_chosen } } : {}),
    ...(user.id !== null ? { user: user as User } : {}),
  };
}

// Every update runs it: compiled once.
const chatStateQuery = compiledOnce((db, chatId: number) =>
  db
    .selectFrom(sql<{ id: number }>`(select cast(${chatId} as bigint) as id)`.as('k'))
    .leftJoin('users', 'users.id', 'k.id')
    .leftJoin('chat_locales', 'chat_locales.chat_id', 'k.id')
    .selectAll('users')
    .select(['chat_locales.locale as chat_locale', 'chat_locales.chosen as chat_chosen']),
);

/** The languages of these chats that have one stored. */
export async function chatLocales(db: Q, chatIds: readonly number[]): Promise<Map<number, string>> {
  if (chatIds.length === 0) return new Map();
  const rows = await db.selectFrom('chat_locales').select(['chat_id', 'locale']).where('chat_id', 'in', chatIds).execute();
  return new Map(rows.map((r) => [Number(r.chat_id), r.locale]));
}

export async function getChatLocale(db: Q, chatId: number): Promise<string | undefined> {
  const row = await db.selectFrom('chat_locales').select('locale').where('chat_id', '=', chatId).executeTakeFirst();
  return row?.locale;
}
