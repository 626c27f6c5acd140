import { type Kysely, sql } from 'kysely';
import type { OutboxRow, OutboxStatus } from './schema-messaging.js';
import type { Database } from './schema.js';

type Q = Kysely<Database>;

/** The parts of a config delivery, each one message: the .conf file, its QR code, how to import it, the AmneziaVPN key. */
export const CONFIG_PARTS = ['file', 'qr', 'howto', 'key'] as const;
export type ConfigPart = (typeof CONFIG_PARTS)[number];

/**
 * What a queued message says, rendered from the database when it goes out (so a decided request
 * is not shown as open, a deleted device sends nothing, and a file is never stored here).
 * Keys are translation ids; params are plain text, escaped when rendered.
 */
export type Intent =
  | { kind: 'notice'; key: string; params?: Record<string, string | number>; /** Amounts of bytes, written out in the recipient's language. */ bytes?: Record<string, number> }
  | { kind: 'config'; peerId: number; part: ConfigPart }
  /** An access request with Approve / Reject, to an admin; folded into the digest in a burst. */
  | { kind: 'request'; userId: number }
  /** The admin's copy of a request gets its outcome ("approved by …") and loses its buttons. */
  | { kind: 'request-outcome'; userId: number; key: string; params: Record<string, string> }
  | { kind: 'device-request'; requestId: number }
  | { kind: 'device-request-outcome'; requestId: number; key: string; params: Record<string, string> }
  /** A device's config used from several addresses at once, to an admin; disabled: the bot disabled its user already. */
  | { kind: 'sharing'; peerId: number; addresses: string[]; minutes: number; disabled: boolean }
  /** The admin's live summary of pending requests, sent or edited in place. */
  | { kind: 'digest' }
  /** A device that never connected: how to import it, and a button that sends its config again. */
  | { kind: 'never-connected'; peerId: number }
  /** The admins' summary of the week [since, until), read from the database when it goes out. */
  | { kind: 'weekly-digest'; since: number; until: number };

export interface Outgoing {
  chatId: number;
  intent: Intent;
  /** Sent at broadcast priority, after every other queued message. */
  bulk?: boolean;
}

/** Kinds of which a chat needs at most one queued: a newer one would say the same. */
const MERGED: ReadonlySet<Intent['kind']> = new Set(['digest']);

export function intentOf(row: Pick<OutboxRow, 'kind' | 'data'>): Intent {
  return { ...(JSON.parse(row.data) as object), kind: row.kind } as Intent;
}

/** Queues messages; call it with the transaction of the change they report. */
export async function enqueue(db: Q, items: readonly Outgoing[], now: number): Promise<void> {
  const rows = items.map(({ chatId, intent: { kind, ...data }, bulk }) => ({
    chat_id: chatId,
    kind,
    data: JSON.stringify(data),
    merge_key: MERGED.has(kind) ? kind : null,
    bulk: bulk ? 1 : 0,
    created_at: now,
    updated_at: now,
  }));
  // SQLite takes at most 32,766 bound values per statement.
  for (let i = 0; i < rows.length; i += 1000) {
    await db
      .insertInto('outbox')
      .values(rows.slice(i, i + 1000))
      .onConflict((oc) => oc.columns(['chat_id', 'merge_key']).where(sql<boolean>`status = 'queued' and merge_key is not null`).doNothing())
      .execute();
  }
}

/** Queued rows due by `now`, oldest first, bulk ones after all others. */
export function dueRows(db: Q, now: number, limit: number): Promise<OutboxRow[]> {
  return db.selectFrom('outbox').selectAll().where('status', '=', 'queued').where('not_before', '<=', now).orderBy('bulk').orderBy('id').limit(limit).execute();
}

/** How many bulk rows are still queued or being sent. */
export async function bulkPending(db: Q): Promise<number> {
  const row = await db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('bulk', '=', 1).where('status', 'in', ['queued', 'sending']).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The earliest not_before of a queued row still waiting for it; null when there is none. */
export async function nextDue(db: Q, now: number): Promise<number | null> {
  const row = await db.selectFrom('outbox').select((eb) => eb.fn.min('not_before').as('t')).where('status', '=', 'queued').where('not_before', '>', now).executeTakeFirst();
  return row?.t == null ? null : Number(row.t);
}

/** The chat's queued rows in order, due or not (a lane keeps the order: a row waiting for a retry holds back the ones after it). */
export function queuedRowsOf(db: Q, chatId: number, limit: number): Promise<OutboxRow[]> {
  return db.selectFrom('outbox').selectAll().where('chat_id', '=', chatId).where('status', '=', 'queued').orderBy('id').limit(limit).execute();
}

/** queued → sending, committed before the message goes out; false when someone else took it or it was folded meanwhile. */
export async function claim(db: Q, id: number, now: number): Promise<boolean> {
  const res = await db.updateTable('outbox').set({ status: 'sending', updated_at: now }).where('id', '=', id).where('status', '=', 'queued').executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Telegram did not perform it (429, 5xx, no connection): queued again, due at `notBefore`. */
export async function requeue(db: Q, id: number, now: number, notBefore: number, error: string | null, counted: boolean): Promise<void> {
  await db
    .updateTable('outbox')
    .set((eb) => ({ status: 'queued', not_before: notBefore, updated_at: now, error, attempts: counted ? eb('attempts', '+', 1) : eb.ref('attempts') }))
    .where('id', '=', id)
    .execute();
}

/** Telegram took it, or there was nothing left to say: nothing to remember. */
export async function removeRow(db: Q, id: number): Promise<void> {
  await db.deleteFrom('outbox').where('id', '=', id).execute();
}

export async function settle(db: Q, id: number, status: Exclude<OutboxStatus, 'queued' | 'sending'>, error: string | null, now: number): Promise<void> {
  await db.updateTable('outbox').set({ status, error, updated_at: now }).where('id', '=', id).execute();
}

/** A queued row waits (a digest edited too recently). */
export async function postpone(db: Q, id: number, notBefore: number): Promise<void> {
  await db.updateTable('outbox').set({ not_before: notBefore }).where('id', '=', id).where('status', '=', 'queued').execute();
}

/**
 * Rows still 'sending' that no sender of this process is working on were cut off by a crash or a
 * change of leader: Telegram may or may not have them. They become 'unknown' and are never sent
 * again. Only those claimed before `claimedBefore` (a younger one may be in flight on a replica
 * that is still alive). Returns them.
 */
export async function markInterrupted(db: Q, now: number, claimedBefore = Number.POSITIVE_INFINITY): Promise<OutboxRow[]> {
  return db
    .updateTable('outbox')
    .set({ status: 'unknown', updated_at: now })
    .where('status', '=', 'sending')
    .where('updated_at', '<', Math.min(claimedBefore, Number.MAX_SAFE_INTEGER))
    .returningAll()
    .execute();
}

/** Every queued access request to this admin becomes part of the digest; returns how many. */
export async function foldRequests(db: Q, chatId: number, now: number): Promise<number> {
  const res = await db
    .updateTable('outbox')
    .set({ status: 'folded', updated_at: now })
    .where('chat_id', '=', chatId)
    .where('kind', '=', 'request')
    .where('status', '=', 'queued')
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Another access request waits for this admin besides `exceptId`. */
export async function hasQueuedRequest(db: Q, chatId: number, exceptId: number): Promise<boolean> {
  const row = await db
    .selectFrom('outbox')
    .select('id')
    .where('chat_id', '=', chatId)
    .where('kind', '=', 'request')
    .where('status', '=', 'queued')
    .where('id', '!=', exceptId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Finished rows (failed, blocked, unknown, folded) older than `before` are deleted. */
export async function pruneOutbox(db: Q, before: number): Promise<void> {
  await db.deleteFrom('outbox').where('updated_at', '<', before).where('status', 'not in', ['queued', 'sending']).execute();
}
