import type { Kysely } from 'kysely';
import { compiledOnce } from './infra/compiled.js';
import type { AdminDigest } from './schema-messaging.js';
import type { Database, User } from './schema.js';

type Q = Kysely<Database>;

// Pending access requests in the order they came (users.requested_at, then id), and each admin's
// digest of them.

export async function countPending(db: Q): Promise<number> {
  const { n } = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow();
  return Number(n);
}

/** Whether at least `n` requests wait; reads no further than the n-th (a newcomer's /start asks it). */
export async function pendingAtLeast(db: Q, n: number): Promise<boolean> {
  return (await nthPendingQuery(db, n - 1)).length > 0;
}

// Every newcomer's /start runs it: compiled once.
const nthPendingQuery = compiledOnce((db, offset: number) => db.selectFrom('users').select('id').where('status', '=', 'pending').limit(1).offset(offset));

export function newestPending(db: Q, limit: number): Promise<User[]> {
  return db.selectFrom('users').selectAll().where('status', '=', 'pending').orderBy('requested_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}

/** A place in the queue: a request's time and user id. */
export interface QueuePlace {
  at: number;
  id: number;
}

export const placeOf = (u: Pick<User, 'id' | 'requested_at' | 'created_at'>): QueuePlace => ({ at: u.requested_at ?? u.created_at, id: u.id });

/** The oldest pending request after `after` (from the start when omitted). */
export function nextPending(db: Q, after?: QueuePlace): Promise<User | undefined> {
  let q = db.selectFrom('users').selectAll().where('status', '=', 'pending');
  if (after) q = q.where((eb) => eb.or([eb('requested_at', '>', after.at), eb.and([eb('requested_at', '=', after.at), eb('id', '>', after.id)])]));
  return q.orderBy('requested_at').orderBy('id').limit(1).executeTakeFirst();
}

/** How many pending requests came before this place. */
export async function pendingBefore(db: Q, place: QueuePlace): Promise<number> {
  const { n } = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('requested_at', '<', place.at), eb.and([eb('requested_at', '=', place.at), eb('id', '<', place.id)])]))
    .executeTakeFirstOrThrow();
  return Number(n);
}

/** Pending requests up to and including `cutoff` (a requested_at), oldest first: "approve all" of what the admin saw. */
export async function pendingUpTo(db: Q, cutoff: number): Promise<number[]> {
  const rows = await db.selectFrom('users').select('id').where('status', '=', 'pending').where('requested_at', '<=', cutoff).orderBy('requested_at').orderBy('id').execute();
  return rows.map((r) => Number(r.id));
}

export function getDigest(db: Q, adminId: number): Promise<AdminDigest | undefined> {
  return db.selectFrom('admin_digests').selectAll().where('admin_id', '=', adminId).executeTakeFirst();
}

export async function updateDigest(db: Q, adminId: number, values: Partial<Omit<AdminDigest, 'admin_id'>>): Promise<void> {
  await db
    .insertInto('admin_digests')
    .values({ admin_id: adminId, ...values })
    .onConflict((oc) => oc.column('admin_id').doUpdateSet(values))
    .execute();
}
