import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

type Q = Kysely<Database>;

// Traffic per peer and hour, and per UTC day; filled from peer_traffic's pending traffic (flushPending).

export const HOURLY_KEEP_MS = 14 * 24 * 3_600_000;
export const DAILY_KEEP_DAYS = 400; // 13 months and a bit

export function hourOf(ms: number): number {
  return ms - (ms % 3_600_000);
}

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export async function pruneBuckets(db: Q, now: number): Promise<void> {
  await db.deleteFrom('traffic_hourly').where('hour', '<', hourOf(now) - HOURLY_KEEP_MS).execute();
  await db.deleteFrom('traffic_daily').where('day', '<', dayOf(now - DAILY_KEEP_DAYS * 86_400_000)).execute();
}
