import type { Kysely } from 'kysely';
import { type AudienceChoice, type AudienceEnv, audienceUsers } from './broadcast-audiences.js';
import type { Broadcast, DeliveryStatus } from './schema-messaging.js';
import type { Database } from './schema.js';

type Q = Kysely<Database>;

// ---------------------------------------------------------------- prompts ("send me the message")

export async function putPrompt(db: Q, adminId: number, expiresAt: number): Promise<void> {
  await db
    .insertInto('broadcast_prompts')
    .values({ admin_id: adminId, expires_at: expiresAt })
    .onConflict((oc) => oc.column('admin_id').doUpdateSet({ expires_at: expiresAt }))
    .execute();
}

export async function promptExpiry(db: Q, adminId: number): Promise<number | undefined> {
  const row = await db.selectFrom('broadcast_prompts').select('expires_at').where('admin_id', '=', adminId).executeTakeFirst();
  return row?.expires_at;
}

/** Deletes the admin's prompt; true for exactly one of several concurrent callers. */
export async function takePrompt(db: Q, adminId: number): Promise<boolean> {
  const res = await db.deleteFrom('broadcast_prompts').where('admin_id', '=', adminId).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

export async function deletePrompt(db: Q, adminId: number): Promise<void> {
  await takePrompt(db, adminId);
}

// ---------------------------------------------------------------- broadcasts

export interface BroadcastContent {
  kind: 'text' | 'photo';
  /** Message text, or the photo's caption. */
  text: string | null;
  /** Telegram's entities (or caption_entities) as JSON. */
  entities: string | null;
  /** file_id of the photo. */
  photo: string | null;
}

export async function createDraft(db: Q, adminId: number, content: BroadcastContent, now: number): Promise<Broadcast> {
  return db
    .insertInto('broadcasts')
    .values({ admin_id: adminId, status: 'draft', audience: 'active', audience_arg: null, ...content, created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findBroadcast(db: Q, id: number): Promise<Broadcast | undefined> {
  return db.selectFrom('broadcasts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Only a draft's audience can change. */
export async function setDraftAudience(db: Q, id: number, { audience, arg }: AudienceChoice): Promise<boolean> {
  const res = await db
    .updateTable('broadcasts')
    .set({ audience, audience_arg: arg })
    .where('id', '=', id)
    .where('status', '=', 'draft')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function deleteDraft(db: Q, id: number): Promise<boolean> {
  const res = await db.deleteFrom('broadcasts').where('id', '=', id).where('status', '=', 'draft').executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

/**
 * draft → sending, and one queued delivery per recipient, in one transaction: a double tap
 * or two admins pressing Send start it once, and a crash leaves either nothing or everything.
 * Returns the number of recipients, or null if the broadcast was not a draft any more.
 */
export async function startBroadcast(db: Q, id: number, progress: { chatId: number; messageId: number }, env: AudienceEnv): Promise<number | null> {
  const { now } = env;
  return db.transaction().execute(async (trx) => {
    const b = await trx
      .updateTable('broadcasts')
      .set({ status: 'sending', started_at: now, progress_chat_id: progress.chatId, progress_message_id: progress.messageId })
      .where('id', '=', id)
      .where('status', '=', 'draft')
      .returning(['audience', 'audience_arg'])
      .executeTakeFirst();
    if (!b) return null;
    // The audience as countAudience counts it.
    const res = await trx
      .insertInto('broadcast_deliveries')
      .columns(['broadcast_id', 'user_id', 'status', 'updated_at'])
      .expression((eb) =>
        eb
          .selectFrom(audienceUsers(trx, { audience: b.audience, arg: b.audience_arg }, env).as('a'))
          .select([eb.val(id).as('broadcast_id'), 'a.id', eb.val('queued').as('status'), eb.val(now).as('updated_at')]),
      )
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0);
  });
}

export function broadcastsInStatus(db: Q, status: 'sending'): Promise<Broadcast[]> {
  return db.selectFrom('broadcasts').selectAll().where('status', '=', status).orderBy('id').execute();
}

/** sending → done; false if it was cancelled meanwhile. */
export async function finishBroadcast(db: Q, id: number, now: number): Promise<boolean> {
  const res = await db.updateTable('broadcasts').set({ status: 'done', finished_at: now }).where('id', '=', id).where('status', '=', 'sending').executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** sending → cancelled, and every delivery not yet attempted → cancelled. False if it was not sending. */
export async function cancelBroadcast(db: Q, id: number, now: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const res = await trx
      .updateTable('broadcasts')
      .set({ status: 'cancelled', finished_at: now })
      .where('id', '=', id)
      .where('status', '=', 'sending')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return false;
    await trx
      .updateTable('broadcast_deliveries')
      .set({ status: 'cancelled', updated_at: now })
      .where('broadcast_id', '=', id)
      .where('status', '=', 'queued')
      .execute();
    return true;
  });
}

// ---------------------------------------------------------------- deliveries

/** The next recipients still queued, in a stable order. */
export async function queuedRecipients(db: Q, id: number, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('broadcast_deliveries')
    .select('user_id')
    .where('broadcast_id', '=', id)
    .where('status', '=', 'queued')
    .orderBy('user_id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.user_id);
}

/**
 * queued → sending, committed before the message goes out. False if the delivery is not queued
 * (cancelled meanwhile, or claimed by someone else), and then it must not be sent.
 */
export async function claimDelivery(db: Q, id: number, userId: number, now: number): Promise<boolean> {
  const res = await db
    .updateTable('broadcast_deliveries')
    .set({ status: 'sending', updated_at: now })
    .where('broadcast_id', '=', id)
    .where('user_id', '=', userId)
    .where('status', '=', 'queued')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function settleDelivery(
  db: Q,
  id: number,
  userId: number,
  status: 'sent' | 'failed' | 'blocked',
  error: string | null,
  now: number,
): Promise<void> {
  await db
    .updateTable('broadcast_deliveries')
    .set({ status, error, updated_at: now })
    .where('broadcast_id', '=', id)
    .where('user_id', '=', userId)
    .where('status', '=', 'sending')
    .execute();
}

/**
 * After a restart: a delivery left in 'sending' may or may not have reached the user (the
 * process died between the claim and recording the answer). It becomes 'unknown' and is never
 * sent again, so nobody gets the message twice. Returns how many there were.
 */
export async function markInterrupted(db: Q, id: number, now: number): Promise<number> {
  const res = await db
    .updateTable('broadcast_deliveries')
    .set({ status: 'unknown', updated_at: now })
    .where('broadcast_id', '=', id)
    .where('status', '=', 'sending')
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export type DeliveryCounts = Record<DeliveryStatus, number> & { total: number };

export async function deliveryCounts(db: Q, id: number): Promise<DeliveryCounts> {
  const rows = await db
    .selectFrom('broadcast_deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('broadcast_id', '=', id)
    .groupBy('status')
    .execute();
  const counts: DeliveryCounts = { queued: 0, sending: 0, sent: 0, failed: 0, blocked: 0, unknown: 0, cancelled: 0, total: 0 };
  for (const r of rows) {
    counts[r.status] = Number(r.n);
    counts.total += Number(r.n);
  }
  return counts;
}
