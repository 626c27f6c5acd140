import { type Kysely, sql } from 'kysely';
import type { Database, User } from './schema.js';
import { dayOf } from './traffic-buckets.js';

type Q = Kysely<Database>;

// Reports for the admins and /metrics: counts, and traffic from the buckets plus what is still pending.

export async function countByStatus(db: Q, table: 'users' | 'peers' | 'outbox'): Promise<{ status: string; n: number }[]> {
  const rows = await db
    .selectFrom(table)
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  return rows.map((r) => ({ status: r.status, n: Number(r.n) }));
}

/** Totals over all peers, and how many had a handshake since `onlineSince` (epoch ms). */
export async function trafficSummary(db: Q, onlineSince: number): Promise<{ rx: number; tx: number; online: number }> {
  const t = await db
    .selectFrom('peer_traffic')
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number>('rx_total'), eb.lit(0)).as('rx'),
      eb.fn.coalesce(eb.fn.sum<number>('tx_total'), eb.lit(0)).as('tx'),
      eb.fn.countAll<number>().filterWhere('last_handshake_at', '>', onlineSince).as('online'),
    ])
    .executeTakeFirstOrThrow();
  return { rx: Number(t.rx), tx: Number(t.tx), online: Number(t.online) };
}

function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
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

export interface SomeUsers {
  /** How many match in all. */
  count: number;
  /** The first of them, at most the limit asked for. */
  users: Pick<User, 'id' | 'first_name' | 'last_name' | 'username' | 'expires_at'>[];
}

const NAMED = ['users.id', 'users.first_name', 'users.last_name', 'users.username', 'users.expires_at'] as const;
const total = sql<number>`count(*) over ()`.as('total');

async function some(rows: Promise<(SomeUsers['users'][number] & { total: number })[]>): Promise<SomeUsers> {
  const r = await rows;
  return { count: Number(r[0]?.total ?? 0), users: r.map(({ total: _t, ...u }) => u) };
}

/** Users who first wrote to the bot in [since, until), newest first. */
export function usersJoinedBetween(db: Q, since: number, until: number, limit: number): Promise<SomeUsers> {
  return some(db.selectFrom('users').select([...NAMED, total]).where('created_at', '>=', since).where('created_at', '<', until).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute());
}

/** Active users none of whose devices ever had a handshake, longest-standing first. */
export function usersNeverConnected(db: Q, limit: number): Promise<SomeUsers> {
  const connected = db.selectFrom('peers').innerJoin('peer_traffic', 'peer_traffic.peer_id', 'peers.id').select('peers.user_id').where('peer_traffic.last_handshake_at', 'is not', null);
  return some(db.selectFrom('users').select([...NAMED, total]).where('status', '=', 'active').where('id', 'not in', connected).orderBy('created_at').orderBy('id').limit(limit).execute());
}

/** Active users whose access ends in [since, until), soonest first. */
export function usersExpiringBetween(db: Q, since: number, until: number, limit: number): Promise<SomeUsers> {
  return some(db.selectFrom('users').select([...NAMED, total]).where('status', '=', 'active').where('expires_at', '>=', since).where('expires_at', '<', until).orderBy('expires_at').orderBy('id').limit(limit).execute());
}
