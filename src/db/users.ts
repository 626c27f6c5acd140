import type { Kysely } from 'kysely';
import type { Database, User, UserStatus } from './schema.js';

type Q = Kysely<Database>;

export interface Profile {
  id: number;
  first_name: string;
  last_name?: string | undefined;
  username?: string | undefined;
}

// Telegram caps names at 64 and usernames at 32 characters; the caps here hold whatever arrives.
function profileColumns(p: Profile) {
  return { first_name: p.first_name.slice(0, 64), last_name: p.last_name?.slice(0, 64) ?? null, username: p.username?.slice(0, 32) ?? null };
}

export function findUser(db: Q, id: number): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Creates the user as pending, or moves a revoked user back to pending. Returns false if the user exists in another state. */
export async function requestAccess(db: Q, p: Profile, now: number): Promise<boolean> {
  const res = await db
    .insertInto('users')
    .values({
      id: p.id,
      ...profileColumns(p),
      status: 'pending',
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({ status: 'pending', updated_at: now, decided_by: null, decided_at: null }).where('users.status', '=', 'revoked'),
    )
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function updateProfile(db: Q, p: Profile, now: number): Promise<void> {
  await db
    .updateTable('users')
    .set({ ...profileColumns(p), updated_at: now })
    .where('id', '=', p.id)
    .execute();
}

/**
 * The one way a status changes: conditional on the expected current status,
 * so concurrent admins and double taps resolve to exactly one winner.
 */
export async function transitionUser(
  db: Q,
  id: number,
  from: UserStatus | UserStatus[],
  to: UserStatus,
  actorId: number | null,
  now: number,
): Promise<boolean> {
  const res = await db
    .updateTable('users')
    .set({ status: to, updated_at: now, decided_by: actorId, decided_at: now })
    .where('id', '=', id)
    .where('status', 'in', Array.isArray(from) ? from : [from])
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Marks or clears "blocked the bot"; only writes when it changes. */
export async function setBlocked(db: Q, id: number, at: number | null): Promise<void> {
  await db
    .updateTable('users')
    .set({ blocked_at: at })
    .where('id', '=', id)
    .where('blocked_at', at === null ? 'is not' : 'is', null)
    .execute();
}

export function listUsersByStatus(db: Q, status: UserStatus, limit = 50): Promise<User[]> {
  return db.selectFrom('users').selectAll().where('status', '=', status).orderBy('created_at').limit(limit).execute();
}

export interface UserRow extends User {
  rx_total: number;
  tx_total: number;
  last_handshake_at: number | null;
}

/** Users with their traffic summed over peers, newest first. */
export async function listUsersPage(db: Q, offset: number, limit: number): Promise<{ rows: UserRow[]; total: number }> {
  const rows = await db
    .selectFrom('users')
    .leftJoin('peers', 'peers.user_id', 'users.id')
    .selectAll('users')
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number>('peers.rx_total'), eb.lit(0)).as('rx_total'),
      eb.fn.coalesce(eb.fn.sum<number>('peers.tx_total'), eb.lit(0)).as('tx_total'),
      eb.fn.max('peers.last_handshake_at').as('last_handshake_at'),
    ])
    .groupBy('users.id')
    .orderBy('users.created_at', 'desc')
    .orderBy('users.id', 'desc')
    .offset(offset)
    .limit(limit)
    .execute();
  const { n } = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return { rows: rows.map((r) => ({ ...r, rx_total: Number(r.rx_total), tx_total: Number(r.tx_total) })), total: Number(n) };
}
