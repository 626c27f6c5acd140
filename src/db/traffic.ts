import { type Kysely, sql } from 'kysely';
import { jsonRows } from './batch.js';
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

export interface TrafficDelta {
  peerId: number;
  rx: number;
  tx: number;
}

/**
 * Adds deltas (one per peer) to the hour and day buckets of `now`, one statement per table; call
 * inside the tick's transaction. (`where true`: SQLite needs it before an upsert's ON CONFLICT.)
 */
export async function addToBuckets(db: Q, deltas: TrafficDelta[], now: number): Promise<void> {
  const moved = deltas.filter((d) => d.rx !== 0 || d.tx !== 0).map((d) => ({ peer_id: d.peerId, rx: d.rx, tx: d.tx }));
  if (moved.length === 0) return;
  const v = jsonRows(db, { peer_id: 'integer', rx: 'bigint', tx: 'bigint' }, moved); // serialized once, used by both
  await sql`
    insert into traffic_hourly (peer_id, hour, rx, tx) select v.peer_id, cast(${hourOf(now)} as bigint), v.rx, v.tx from ${v} where true
    on conflict (peer_id, hour) do update set rx = traffic_hourly.rx + excluded.rx, tx = traffic_hourly.tx + excluded.tx`.execute(db);
  await sql`
    insert into traffic_daily (peer_id, day, rx, tx) select v.peer_id, cast(${dayOf(now)} as text), v.rx, v.tx from ${v} where true
    on conflict (peer_id, day) do update set rx = traffic_daily.rx + excluded.rx, tx = traffic_daily.tx + excluded.tx`.execute(db);
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
  return rows.map((r) => ({ day: r.day, rx: Number(r.rx), tx: Number(r.tx) }));
}

/** Total traffic (all peers) since `fromDay`. */
export async function trafficSince(db: Q, fromDay: string): Promise<{ rx: number; tx: number }> {
  const r = await db
    .selectFrom('traffic_daily')
    .select((eb) => [eb.fn.coalesce(eb.fn.sum<number>('rx'), eb.lit(0)).as('rx'), eb.fn.coalesce(eb.fn.sum<number>('tx'), eb.lit(0)).as('tx')])
    .where('day', '>=', fromDay)
    .executeTakeFirstOrThrow();
  return { rx: Number(r.rx), tx: Number(r.tx) };
}

/** Users with the most traffic since `fromDay`. */
export async function topUsersSince(db: Q, fromDay: string, limit: number) {
  const rows = await db
    .selectFrom('traffic_daily')
    .innerJoin('peers', 'peers.id', 'traffic_daily.peer_id')
    .innerJoin('users', 'users.id', 'peers.user_id')
    .select(['users.id', 'users.first_name', 'users.last_name', 'users.username', (eb) => eb.fn.sum<number>('traffic_daily.rx').as('rx'), (eb) => eb.fn.sum<number>('traffic_daily.tx').as('tx')])
    .where('traffic_daily.day', '>=', fromDay)
    .groupBy('users.id')
    .orderBy(sql`sum(traffic_daily.rx) + sum(traffic_daily.tx)`, 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, rx: Number(r.rx), tx: Number(r.tx) }));
}
