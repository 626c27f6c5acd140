import { type Kysely, sql } from 'kysely';
import { compiledOnce } from './compiled.js';
import { isPostgres } from './migrations/dialect.js';
import type { Captcha, Database, Server, User } from './schema.js';

type Q = Kysely<Database>;

export function getServer(db: Q, node: string): Promise<Server | undefined> {
  return db.selectFrom('servers').selectAll().where('node', '=', node).executeTakeFirst();
}

/** Inserts the server row unless another process did first; returns the stored row either way. */
export async function insertServerOnce(db: Q, s: Omit<Server, 'ifindex'>): Promise<Server> {
  await db.insertInto('servers').values({ ...s, ifindex: null }).onConflict((oc) => oc.column('node').doNothing()).execute();
  return db.selectFrom('servers').selectAll().where('node', '=', s.node).executeTakeFirstOrThrow();
}

export async function setServerIfindex(db: Q, node: string, ifindex: number | null): Promise<void> {
  await db.updateTable('servers').set({ ifindex }).where('node', '=', node).execute();
}

export function getCaptcha(db: Q, userId: number): Promise<Captcha | undefined> {
  return db.selectFrom('captchas').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

export async function putCaptcha(db: Q, c: Captcha): Promise<void> {
  await db
    .insertInto('captchas')
    .values(c)
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ nonce: c.nonce, answer: c.answer, attempts: c.attempts, expires_at: c.expires_at, cooldown_until: c.cooldown_until }))
    .execute();
}

/**
 * A newcomer's question at /start: stored unless they are cooling down after too many wrong
 * answers (then nothing changes and null is returned). The wrong answers so far still count (a
 * /start is not a way to more tries) until a cooldown has passed. One statement: the checks are its
 * conditions. Returns the wrong answers that count.
 */
export async function startCaptcha(db: Q, c: Omit<Captcha, 'cooldown_until' | 'attempts'>, now: number): Promise<number | null> {
  const rows = await startCaptchaQuery(db, c.user_id, c.nonce, c.answer, c.expires_at, now);
  return rows[0] ? Number(rows[0].attempts) : null;
}

// Every newcomer's /start runs it: compiled once.
const startCaptchaQuery = compiledOnce((db, userId: number, nonce: string, answer: number, expiresAt: number, now: number) =>
  db
    .insertInto('captchas')
    .values({ user_id: userId, nonce, answer, attempts: 0, expires_at: expiresAt, cooldown_until: null })
    .onConflict((oc) =>
      oc
        .column('user_id')
        .doUpdateSet((eb) => ({
          nonce,
          answer,
          expires_at: expiresAt,
          cooldown_until: null,
          attempts: eb.case().when('captchas.cooldown_until', 'is', null).then(eb.ref('captchas.attempts')).else(0).end(),
        }))
        .where((eb) => eb.or([eb('captchas.cooldown_until', 'is', null), eb('captchas.cooldown_until', '<=', now)])),
    )
    .returning('attempts'),
);

/** Counts a wrong answer only if the challenge is still the one answered (nonce), atomically. */
export async function recordCaptchaFailure(db: Q, userId: number, nonce: string): Promise<Captcha | undefined> {
  return db
    .updateTable('captchas')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('user_id', '=', userId)
    .where('nonce', '=', nonce)
    .returningAll()
    .executeTakeFirst();
}

export async function updateCaptcha(db: Q, userId: number, values: Partial<Omit<Captcha, 'user_id'>>): Promise<void> {
  await db.updateTable('captchas').set(values).where('user_id', '=', userId).execute();
}

/** Deletes the challenge if it is still the given one; true for exactly one caller. */
export async function consumeCaptcha(db: Q, userId: number, nonce: string): Promise<boolean> {
  const res = await db.deleteFrom('captchas').where('user_id', '=', userId).where('nonce', '=', nonce).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

export async function saveApprovalMessage(db: Q, userId: number, chatId: number, messageId: number): Promise<void> {
  await db
    .insertInto('approval_messages')
    .values({ user_id: userId, chat_id: chatId, message_id: messageId })
    .onConflict((oc) => oc.columns(['user_id', 'chat_id']).doUpdateSet({ message_id: messageId }))
    .execute();
}

/** The request about this user in this admin's chat, once it was sent. */
export function approvalMessage(db: Q, userId: number, chatId: number) {
  return db.selectFrom('approval_messages').selectAll().where('user_id', '=', userId).where('chat_id', '=', chatId).executeTakeFirst();
}

export async function deleteApprovalMessage(db: Q, userId: number, chatId: number): Promise<void> {
  await db.deleteFrom('approval_messages').where('user_id', '=', userId).where('chat_id', '=', chatId).execute();
}

export async function audit(db: Q, e: { actorId: number | null; action: string; userId: number | null; details?: unknown }, now: number): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({ at: now, actor_id: e.actorId, action: e.action, user_id: e.userId, details: e.details === undefined ? null : JSON.stringify(e.details) })
    .execute();
}

/** Moves the WAL into the database file and truncates it (SQLite; nothing to do on PostgreSQL). */
export async function flushWal(db: Q): Promise<void> {
  if (isPostgres(db)) return;
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
}

/**
 * Copies what the WAL holds into the database file, without waiting for readers or writers
 * (SQLite; nothing to do on PostgreSQL). The monitor runs it while a dump is being taken, so the
 * commit of a big tick does not have to (wal_autocheckpoint is only the backstop).
 */
export async function checkpointWal(db: Q): Promise<void> {
  if (isPostgres(db)) return;
  await sql`PRAGMA wal_checkpoint(PASSIVE)`.execute(db);
}

export async function getMeta(db: Q, key: string): Promise<string | undefined> {
  return (await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst())?.value;
}

export async function setMeta(db: Q, key: string, value: string): Promise<void> {
  await db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
}

/** Sets `key` to now unless it was set within the last `everyMs`: true for the one caller that set it. */
export async function claimMetaEvery(db: Q, key: string, now: number, everyMs: number): Promise<boolean> {
  const row = await db
    .insertInto('meta')
    .values({ key, value: String(now) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(now) }).where(sql<number>`cast(meta.value as bigint)`, '<=', now - everyMs))
    .returning('key')
    .executeTakeFirst();
  return row !== undefined;
}

const CLEAR_BACKUP_WARNED = 'clear_backup_warned';

/** Whether an admin was already told that a /backup holds the keys in clear (told once, ever). */
export async function clearBackupWarned(db: Q): Promise<boolean> {
  return (await getMeta(db, CLEAR_BACKUP_WARNED)) !== undefined;
}

export async function noteClearBackupWarned(db: Q, now: number): Promise<void> {
  await setMeta(db, CLEAR_BACKUP_WARNED, String(now));
}

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
