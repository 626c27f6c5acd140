import { type Kysely, sql } from 'kysely';
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

/** Adds deltas to the hour and day buckets of `now`; call inside the tick's transaction. */
export async function addToBuckets(db: Q, deltas: TrafficDelta[], now: number): Promise<void> {
  const hour = hourOf(now);
  const day = dayOf(now);
  for (const d of deltas) {
    if (d.rx === 0 && d.tx === 0) continue;
    await db
      .insertInto('traffic_hourly')
      .values({ peer_id: d.peerId, hour, rx: d.rx, tx: d.tx })
      .onConflict((oc) => oc.columns(['peer_id', 'hour']).doUpdateSet({ rx: sql`traffic_hourly.rx + excluded.rx`, tx: sql`traffic_hourly.tx + excluded.tx` }))
      .execute();
    await db
      .insertInto('traffic_daily')
      .values({ peer_id: d.peerId, day, rx: d.rx, tx: d.tx })
      .onConflict((oc) => oc.columns(['peer_id', 'day']).doUpdateSet({ rx: sql`traffic_daily.rx + excluded.rx`, tx: sql`traffic_daily.tx + excluded.tx` }))
      .execute();
  }
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
