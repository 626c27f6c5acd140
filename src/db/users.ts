import { type Kysely, sql } from 'kysely';
import { flushPending, pendingBytesOf } from './peer-traffic.js';
import { inTransaction } from './infra/transaction.js';
import type { Database, User, UserStatus } from './schema.js';

type Q = Kysely<Database>;

export interface Profile {
  id: number;
  first_name: string;
  last_name?: string | undefined;
  username?: string | undefined;
}

// Telegram caps names at 64 and usernames at 32 characters; the caps here hold whatever arrives.
// NUL is dropped: PostgreSQL text cannot hold it (and it is never part of a real name).
const noNul = (s: string) => s.replaceAll('\u0000', '');
function profileColumns(p: Profile) {
  return {
    first_name: noNul(p.first_name.slice(0, 64)),
    last_name: p.last_name === undefined ? null : noNul(p.last_name.slice(0, 64)),
    username: p.username === undefined ? null : noNul(p.username.slice(0, 32)),
  };
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
      requested_at: now,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({ status: 'pending', updated_at: now, requested_at: now, decided_by: null, decided_at: null }).where('users.status', '=', 'revoked'),
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
  /** The replica that works on the user in the new status (provisioning; see takeAbandonedProvisioning). */
  claimedBy?: number,
): Promise<boolean> {
  const res = await db
    .updateTable('users')
    .set({ status: to, updated_at: now, decided_by: actorId, decided_at: now, ...(claimedBy === undefined ? {} : { claimed_by: claimedBy }) })
    .where('id', '=', id)
    .where('status', 'in', Array.isArray(from) ? from : [from])
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Users left 'provisioning' by a replica not in `alive` (or from before claims): now `replica`'s, returned. */
export async function takeAbandonedProvisioning(db: Q, replica: number, alive: readonly number[]): Promise<User[]> {
  return db
    .updateTable('users')
    .set({ claimed_by: replica })
    .where('status', '=', 'provisioning')
    .where((eb) => eb.or([eb('claimed_by', 'is', null), eb('claimed_by', 'not in', [replica, ...alive])]))
    .returningAll()
    .execute();
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

export const USER_SORTS = ['new', 'traffic', 'seen'] as const;
export type UserSort = (typeof USER_SORTS)[number];

function usersWithTraffic(db: Q) {
  return db
    .selectFrom('users')
    .leftJoin('peers', 'peers.user_id', 'users.id')
    .leftJoin('peer_traffic', 'peer_traffic.peer_id', 'peers.id')
    .selectAll('users')
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number>('peer_traffic.rx_total'), eb.lit(0)).as('rx_total'),
      eb.fn.coalesce(eb.fn.sum<number>('peer_traffic.tx_total'), eb.lit(0)).as('tx_total'),
      eb.fn.max('peer_traffic.last_handshake_at').as('last_handshake_at'),
    ])
    .groupBy('users.id');
}

const numbers = <T extends { rx_total: unknown; tx_total: unknown }>(r: T) => ({ ...r, rx_total: Number(r.rx_total), tx_total: Number(r.tx_total) });

/** Users with their traffic summed over peers: newest first, most traffic first, or most recently seen first. */
export async function listUsersPage(db: Q, offset: number, limit: number, sort: UserSort = 'new'): Promise<{ rows: UserRow[]; total: number }> {
  let q = usersWithTraffic(db);
  if (sort === 'traffic') q = q.orderBy(sql`coalesce(sum(peer_traffic.rx_total), 0) + coalesce(sum(peer_traffic.tx_total), 0)`, 'desc');
  if (sort === 'seen') q = q.orderBy(sql`max(peer_traffic.last_handshake_at) is null`).orderBy(sql`max(peer_traffic.last_handshake_at)`, 'desc');
  const rows = await q.orderBy('users.created_at', 'desc').orderBy('users.id', 'desc').offset(offset).limit(limit).execute();
  const { n } = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return { rows: rows.map(numbers) as UserRow[], total: Number(n) };
}

/** By exact id, @username (case-insensitive) or a part of the name. */
export async function searchUsers(db: Q, query: string, limit = 10): Promise<UserRow[]> {
  const q = query.trim().slice(0, 64);
  if (!q) return [];
  const like = `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const username = q.replace(/^@/, '').toLowerCase();
  const rows = await usersWithTraffic(db)
    .where((eb) =>
      eb.or([
        ...(/^\d{1,20}$/.test(q) ? [eb('users.id', '=', Number(q))] : []),
        eb(eb.fn('lower', ['users.username']), '=', username),
        eb(sql`lower(users.first_name || ' ' || coalesce(users.last_name, ''))`, 'like', sql`${like} escape '\\'`),
      ]),
    )
    .orderBy('users.created_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map(numbers) as UserRow[];
}

/** Users who blocked the bot (Telegram answers 403). */
export async function countUnreachable(db: Q): Promise<number> {
  const { n } = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('blocked_at', 'is not', null).executeTakeFirstOrThrow();
  return Number(n);
}

/** The user's usage this period, with this hour's traffic that is not in usage_bytes yet. */
export async function usageNow(db: Q, user: Pick<User, 'id' | 'usage_bytes'>): Promise<number> {
  const { bytes } = await pendingBytesOf(db, user.id).executeTakeFirstOrThrow();
  return user.usage_bytes + Number(bytes);
}

/** Users whose quota or expiry may need enforcing or lifting. */
export async function usersWithLimits(db: Q): Promise<User[]> {
  const rows = await db
    .selectFrom('users')
    .selectAll('users')
    .select(pendingBytesOf(db, sql.ref<number>('users.id')).as('pending_bytes'))
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['limited', 'expired']),
        eb.and([eb('status', '=', 'active'), eb.or([eb('quota_bytes', 'is not', null), eb('expires_at', 'is not', null)])]),
      ]),
    )
    .execute();
  return withPendingUsage(rows);
}

/** Rows read with pendingBytesOf(…).as('pending_bytes'): usage_bytes as usageNow gives it. */
function withPendingUsage<T extends { usage_bytes: number; pending_bytes: unknown }>(rows: T[]): Omit<T, 'pending_bytes'>[] {
  return rows.map(({ pending_bytes, ...u }) => ({ ...u, usage_bytes: u.usage_bytes + Number(pending_bytes ?? 0) }));
}

export interface LimitValues {
  quota_bytes?: number | null;
  expires_at?: number | null;
  expiry_days_pending?: number | null;
  usage_bytes?: number;
  warned_quota?: number;
  warned_expiry?: number;
}

export async function setLimits(db: Q, id: number, values: LimitValues): Promise<void> {
  if (values.usage_bytes === undefined) {
    await db.updateTable('users').set(values).where('id', '=', id).execute();
    return;
  }
  // A new usage value replaces this hour's pending traffic too: it goes to the history, not to the new value.
  await inTransaction(db, async (trx) => {
    await flushPending(trx, { userId: id });
    await trx.updateTable('users').set(values).where('id', '=', id).execute();
  });
}

/** A newly approved user's periods start at `now` (rolling ones count from it); the usage restarts at the next tick. */
export async function startPeriods(db: Q, id: number, now: number): Promise<void> {
  await db.updateTable('users').set({ period_anchor: now, usage_period: null }).where('id', '=', id).execute();
}

/** Adds to this period's allowance (cleared when the period rolls). False for an unknown user. */
export async function addTopUp(db: Q, id: number, bytes: number): Promise<boolean> {
  const res = await db
    .updateTable('users')
    .set((eb) => ({ topup_bytes: eb('topup_bytes', '+', bytes) }))
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The location a user picked (NODE_CHOICE=user); false for an unknown or banned user. */
export async function setUserNode(db: Q, id: number, node: string): Promise<boolean> {
  const res = await db.updateTable('users').set({ node }).where('id', '=', id).where('status', '!=', 'banned').executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The user's own device limit; null: back to MAX_DEVICES_PER_USER. For the admin's user card. */
export async function setMaxDevices(db: Q, userId: number, max: number | null): Promise<boolean> {
  const res = await db.updateTable('users').set({ max_devices: max }).where('id', '=', userId).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The limit that applies to this user: their own, or the global default. */
export async function maxDevicesOf(db: Q, userId: number, fallback: number): Promise<number> {
  const row = await db.selectFrom('users').select('max_devices').where('id', '=', userId).executeTakeFirst();
  return row?.max_devices ?? fallback;
}

/** Active users (who have not blocked the bot) with a quota not yet reminded at its last step (`below`), with their usage as usageNow gives it. */
export async function usersForQuotaReminder(db: Q, below: number): Promise<Pick<User, 'id' | 'quota_bytes' | 'topup_bytes' | 'usage_bytes' | 'warned_quota'>[]> {
  const rows = await db
    .selectFrom('users')
    .select(['id', 'quota_bytes', 'topup_bytes', 'usage_bytes', 'warned_quota'])
    .select(pendingBytesOf(db, sql.ref<number>('users.id')).as('pending_bytes'))
    .where('status', '=', 'active')
    .where('blocked_at', 'is', null)
    .where('quota_bytes', 'is not', null)
    .where('warned_quota', '<', below)
    .execute();
  return withPendingUsage(rows);
}

/** Active users (who have not blocked the bot) whose access ends within (now, until] and who were not told at the last step (1 day). */
export function usersForExpiryReminder(db: Q, now: number, until: number): Promise<Pick<User, 'id' | 'expires_at' | 'warned_expiry'>[]> {
  return db
    .selectFrom('users')
    .select(['id', 'expires_at', 'warned_expiry'])
    .where('status', '=', 'active')
    .where('blocked_at', 'is', null)
    .where('expires_at', '>', now)
    .where('expires_at', '<=', until)
    .where('warned_expiry', '!=', 1)
    .execute();
}

/** Notes a quota reminder at `percent`; false when this step or a higher one was noted already. */
export async function noteQuotaReminded(db: Q, id: number, percent: number): Promise<boolean> {
  const res = await db.updateTable('users').set({ warned_quota: percent }).where('id', '=', id).where('status', '=', 'active').where('warned_quota', '<', percent).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Notes an expiry reminder `days` before; false when this one or a nearer one was noted already. */
export async function noteExpiryReminded(db: Q, id: number, days: number): Promise<boolean> {
  const res = await db
    .updateTable('users')
    .set({ warned_expiry: days })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .where((eb) => eb.or([eb('warned_expiry', '=', 0), eb('warned_expiry', '>', days)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
