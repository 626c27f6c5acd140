import { type Kysely, type RawBuilder, sql } from 'kysely';
import { isPostgres } from './migrations/dialect.js';
import type { Database } from './schema.js';

type Q = Kysely<Database>;

export const HOURLY_KEEP_MS = 14 * 24 * 3_600_000;
export const DAILY_KEEP_DAYS = 400; // 13 months and a bit

export function hourOf(ms: number): number {
  return ms - (ms % 3_600_000);
}

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Whose pending traffic to flush: everything older than an hour, one user's, one peer's. */
export type PendingScope = { before: number } | { userId: number } | { peerId: number };

/** The scope as a condition on peer_traffic's columns. */
function pendingWhere(s: PendingScope) {
  if ('before' in s) return sql`pending_hour < ${s.before}`;
  if ('userId' in s) return sql`peer_id in (select id from peers where user_id = ${s.userId}) and pending_hour is not null`;
  return sql`peer_id = ${s.peerId} and pending_hour is not null`;
}

/**
 * Moves pending traffic (migration 0007) into the hour and day buckets and the users' usage, and
 * clears it: one statement per table and pending hour (usually one). Run it inside a transaction.
 * On PostgreSQL the rows are locked first, so two flushes at once (two nodes' ticks, an admin's
 * reset) cannot move the same bytes twice: the second sees them cleared. (SQLite runs one
 * transaction at a time.)
 */
export async function flushPending(db: Q, scope: PendingScope): Promise<void> {
  const where = pendingWhere(scope);
  const { rows } = isPostgres(db)
    ? await sql<{ pending_hour: number }>`select pending_hour from peer_traffic where ${where} for update`.execute(db)
    : await sql<{ pending_hour: number }>`select distinct pending_hour from peer_traffic where ${where}`.execute(db);
  if (rows.length === 0) return;
  for (const hour of new Set(rows.map((r) => Number(r.pending_hour)))) {
    const moved = sql`from peer_traffic where ${where} and pending_hour = ${hour} and (pending_rx > 0 or pending_tx > 0)`;
    await sql`
      insert into traffic_hourly (peer_id, hour, rx, tx) select peer_id, pending_hour, pending_rx, pending_tx ${moved}
      on conflict (peer_id, hour) do update set rx = traffic_hourly.rx + excluded.rx, tx = traffic_hourly.tx + excluded.tx`.execute(db);
    await sql`
      insert into traffic_daily (peer_id, day, rx, tx) select peer_id, cast(${dayOf(hour)} as text), pending_rx, pending_tx ${moved}
      on conflict (peer_id, day) do update set rx = traffic_daily.rx + excluded.rx, tx = traffic_daily.tx + excluded.tx`.execute(db);
  }
  // A correlated sum (peers_user_idx), not UPDATE … FROM (select … group by): SQLite would scan that unindexed result for every user.
  const pending = sql`from peer_traffic join peers on peers.id = peer_traffic.peer_id where ${where}`;
  await sql`
    update users set usage_bytes = usage_bytes + (select sum(pending_rx + pending_tx) ${pending} and peers.user_id = users.id)
    where id in (select peers.user_id ${pending})`.execute(db);
  await sql`update peer_traffic set pending_hour = null, pending_rx = 0, pending_tx = 0 where ${where}`.execute(db);
}

/** The bytes of a user's peers not yet in the usage (this hour's), as a query: `userId` a value, or a reference to `users.id` in a subquery. */
export function pendingBytesOf(db: Q, userId: number | RawBuilder<number>) {
  return db
    .selectFrom('peer_traffic')
    .innerJoin('peers', 'peers.id', 'peer_traffic.peer_id')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>(sql`pending_rx + pending_tx`), eb.lit(0)).as('bytes'))
    .where('peers.user_id', '=', userId);
}

function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

export async function pruneBuckets(db: Q, now: number): Promise<void> {
  await db.deleteFrom('traffic_hourly').where('hour', '<', hourOf(now) - HOURLY_KEEP_MS).execute();
  await db.deleteFrom('traffic_daily').where('day', '<', dayOf(now - DAILY_KEEP_DAYS * 86_400_000)).execute();
}

/** Per-day traffic of one user's peers since `fromDay` (inclusive), oldest first; days without traffic are absent. */
export async function dailyTrafficOfUser(db: Q, userId: number, fromDay: string): Promise<{ day: string; rx: number; tx: number }[]> {
  const rows = await db
    .selectFrom('traffic_daily')
    .innerJoin('peers', 'peers.id', 'traffic_daily.peer_id')
    .select(['traffic_daily.day', (eb) => eb.fn.sum<number>('traffic_daily.rx').as('rx'), (eb) => eb.fn.sum<number>('traffic_daily.tx').as('tx')])
    .where('peers.user_id', '=', userId)
    .where('traffic_daily.day', '>=', fromDay)
    .groupBy('traffic_daily.day')
    .orderBy('traffic_daily.day')
    .execute();
  const days = new Map(rows.map((r) => [r.day, { day: r.day, rx: Number(r.rx), tx: Number(r.tx) }]));
  const pending = await db
    .selectFrom('peer_traffic')
    .innerJoin('peers', 'peers.id', 'peer_traffic.peer_id')
    .select(['pending_hour', 'pending_rx', 'pending_tx'])
    .where('peers.user_id', '=', userId)
    .where('pending_hour', '>=', dayStart(fromDay))
    .execute();
  for (const p of pending) {
    const day = dayOf(Number(p.pending_hour));
    const d = days.get(day) ?? { day, rx: 0, tx: 0 };
    days.set(day, { day, rx: d.rx + Number(p.pending_rx), tx: d.tx + Number(p.pending_tx) });
  }
  return [...days.values()].filter((d) => d.rx > 0 || d.tx > 0).sort((a, b) => a.day.localeCompare(b.day));
}

/** Total traffic (all peers) since `fromDay`. */
export async function trafficSince(db: Q, fromDay: string): Promise<{ rx: number; tx: number }> {
  const r = await db
    .selectFrom(trafficFrom(db, fromDay).as('t'))
    .select((eb) => [eb.fn.coalesce(eb.fn.sum<number>('t.rx'), eb.lit(0)).as('rx'), eb.fn.coalesce(eb.fn.sum<number>('t.tx'), eb.lit(0)).as('tx')])
    .executeTakeFirstOrThrow();
  return { rx: Number(r.rx), tx: Number(r.tx) };
}

/** Per-peer traffic since `fromDay`: the day buckets and what is still pending. */
function trafficFrom(db: Q, fromDay: string) {
  return db
    .selectFrom('traffic_daily')
    .select(['peer_id', 'rx', 'tx'])
    .where('day', '>=', fromDay)
    .unionAll(db.selectFrom('peer_traffic').select(['peer_id', 'pending_rx as rx', 'pending_tx as tx']).where('pending_hour', '>=', dayStart(fromDay)));
}

/** Users with the most traffic since `fromDay`. */
export async function topUsersSince(db: Q, fromDay: string, limit: number) {
  const rows = await db
    .selectFrom(trafficFrom(db, fromDay).as('t'))
    .innerJoin('peers', 'peers.id', 't.peer_id')
    .innerJoin('users', 'users.id', 'peers.user_id')
    .select(['users.id', 'users.first_name', 'users.last_name', 'users.username', (eb) => eb.fn.sum<number>('t.rx').as('rx'), (eb) => eb.fn.sum<number>('t.tx').as('tx')])
    .groupBy('users.id')
    .having(sql`sum(t.rx) + sum(t.tx)`, '>', 0)
    .orderBy(sql`sum(t.rx) + sum(t.tx)`, 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, rx: Number(r.rx), tx: Number(r.tx) }));
}
