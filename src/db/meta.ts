import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';

type Q = Kysely<Database>;

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

/** Sets `key` to `value` unless it already holds a time at or after `since`: true for the one caller that set it. */
export async function claimMetaSince(db: Q, key: string, value: number, since: number): Promise<boolean> {
  const row = await db
    .insertInto('meta')
    .values({ key, value: String(value) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(value) }).where(sql<number>`cast(meta.value as bigint)`, '<', since))
    .returning('key')
    .executeTakeFirst();
  return row !== undefined;
}
