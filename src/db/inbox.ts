import type { Kysely } from 'kysely';
import { setMeta } from './meta.js';
import { inTransaction } from './infra/transaction.js';
import type { Database } from './schema.js';

type Q = Kysely<Database>;
/** A Bot API update as stored: only its id is read here. */
type Update = { update_id: number };

/** meta key: the getUpdates offset that confirms every stored update. */
const OFFSET_KEY = 'update_offset';

/**
 * Stores updates as received by `replica` (which handles them), in one transaction, with the
 * polling offset that confirms them (omitted in webhook mode). Returns the ones not stored before:
 * a webhook retry or a batch Telegram sends again after a crash is recognised and not handled twice.
 */
export async function storeUpdates<U extends Update>(db: Q, updates: readonly U[], replica: number, now: number, offset?: number): Promise<U[]> {
  if (updates.length === 0 && offset === undefined) return [];
  return inTransaction(db, async (trx) => {
    let fresh: U[] = [];
    if (updates.length > 0) {
      const rows = await trx
        .insertInto('inbox')
        .values(updates.map((u) => ({ update_id: u.update_id, payload: JSON.stringify(u), received_at: now, replica })))
        .onConflict((oc) => oc.column('update_id').doNothing())
        .returning('update_id')
        .execute();
      const stored = new Set(rows.map((r) => Number(r.update_id)));
      fresh = updates.filter((u) => stored.has(u.update_id));
    }
    if (offset !== undefined) await setMeta(trx, OFFSET_KEY, String(offset));
    return fresh;
  });
}

export async function storedOffset(db: Q): Promise<number | undefined> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', OFFSET_KEY).executeTakeFirst();
  return row ? Number(row.value) : undefined;
}

/** Handled: the payload (people's messages) is not kept; the id is, so a repeat is recognised. */
export async function markHandled(db: Q, updateIds: readonly number[], now: number): Promise<void> {
  if (updateIds.length === 0) return;
  await db.updateTable('inbox').set({ handled_at: now, payload: '' }).where('update_id', 'in', updateIds).execute();
}

/**
 * Stored, not handled, and handled by no replica in `alive` (it died, or they are from before):
 * now `replica`'s, oldest first. Only one of two replicas asking at once gets each.
 */
export async function takeOrphanedUpdates<U extends Update>(db: Q, replica: number, alive: readonly number[]): Promise<U[]> {
  const rows = await db
    .updateTable('inbox')
    .set({ replica })
    .where('handled_at', 'is', null)
    .where((eb) => eb.or([eb('replica', 'is', null), eb('replica', 'not in', [replica, ...alive])]))
    .returning(['update_id', 'payload'])
    .execute();
  return rows.sort((a, b) => Number(a.update_id) - Number(b.update_id)).map((r) => JSON.parse(r.payload) as U);
}

export async function pruneInbox(db: Q, before: number): Promise<void> {
  await db.deleteFrom('inbox').where('received_at', '<', before).where('handled_at', 'is not', null).execute();
}
