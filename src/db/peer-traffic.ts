import { type Kysely, type RawBuilder, sql } from 'kysely';
import { isPostgres } from './infra/dialect.js';
import { jsonRows } from './infra/json-rows.js';
import { dayOf } from './traffic-buckets.js';
import type { Database, Peer, PeerTraffic } from './schema.js';

type Q = Kysely<Database>;

// One row per peer, made with it: its totals, the raw counters the monitor counts against, and
// the traffic of the current hour not yet in the buckets (traffic-buckets.ts) and the usage.

/** Call it in the transaction that inserts the peer. */
export async function insertPeerTraffic(db: Q, peerId: number): Promise<void> {
  await db.insertInto('peer_traffic').values({ peer_id: peerId }).execute();
}

/** Peers with their totals and last handshake, as the views show them. */
export function peersWithTraffic(db: Q) {
  return db.selectFrom('peers').innerJoin('peer_traffic', 'peer_traffic.peer_id', 'peers.id').selectAll('peers').select(['peer_traffic.rx_total', 'peer_traffic.tx_total', 'peer_traffic.last_handshake_at']);
}

/** The counters restart from zero: the peers are (re)added to an interface. */
export async function resetBaselines(db: Q, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.updateTable('peer_traffic').set({ rx_last: 0, tx_last: 0 }).where('peer_id', 'in', ids).execute();
}

/** A peer's raw counters in the dump, where they differ from the stored ones. */
export interface TrafficUpdate {
  id: number;
  rx: number;
  tx: number;
  /** Epoch ms; null: none in the dump, the stored one stays. */
  last_handshake_at: number | null;
}

/** What the monitor needs of each active peer on a node to count its traffic. */
export type TrafficBaseline = Pick<Peer, 'id' | 'public_key'> & Pick<PeerTraffic, 'rx_last' | 'tx_last' | 'last_handshake_at' | 'endpoint'>;

export function trafficBaselines(db: Q, node: string): Promise<TrafficBaseline[]> {
  return db
    .selectFrom('peers')
    .innerJoin('peer_traffic', 'peer_traffic.peer_id', 'peers.id')
    .select(['peers.id', 'peers.public_key', 'peer_traffic.rx_last', 'peer_traffic.tx_last', 'peer_traffic.last_handshake_at', 'peer_traffic.endpoint'])
    .where('peers.node', '=', node)
    .where('peers.status', '=', 'active')
    .execute();
}

/**
 * Adds each peer's deltas against its baseline to its totals and its pending traffic of `hour`,
 * and makes the raw counters the baseline, in one statement. A raw value below the baseline (or
 * `recreated`) means the counters restarted. Returns how many peers were written.
 */
export async function applyTraffic(db: Q, updates: TrafficUpdate[], hour: number, recreated: boolean): Promise<number> {
  if (updates.length === 0) return 0;
  const v = jsonRows(db, { id: 'integer', rx: 'bigint', tx: 'bigint', last_handshake_at: 'bigint' }, updates);
  const delta = (c: 'rx' | 'tx') => sql.raw(recreated ? `v.${c}` : `(case when v.${c} >= t.${c}_last then v.${c} - t.${c}_last else v.${c} end)`);
  // Materialized: SQLite would otherwise evaluate `value ->> n` again at every use of v's columns.
  // The baseline compared is the row's as written, so a peer re-added meanwhile is not counted twice.
  // Only the id picks the rows: with another indexed term SQLite would scan json_each once per peer.
  const r = await sql`
    with v as materialized (select * from ${v})
    update peer_traffic as t set rx_total = t.rx_total + ${delta('rx')}, tx_total = t.tx_total + ${delta('tx')},
      pending_hour = cast(${hour} as bigint), pending_rx = t.pending_rx + ${delta('rx')}, pending_tx = t.pending_tx + ${delta('tx')},
      rx_last = v.rx, tx_last = v.tx, last_handshake_at = coalesce(v.last_handshake_at, t.last_handshake_at)
    from v
    where t.peer_id = v.id`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** The peers' endpoint addresses as they are now, in one statement. */
export async function setEndpoints(db: Q, moves: { id: number; address: string }[]): Promise<void> {
  if (moves.length === 0) return;
  const v = jsonRows(db, { id: 'integer', address: 'text' }, moves.map(({ id, address }) => ({ id, address })));
  await sql`update peer_traffic as t set endpoint = v.address from ${v} where t.peer_id = v.id`.execute(db);
}

/** These peers just went back to an address they had left within the sharing window. */
export async function markSharing(db: Q, ids: number[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await db.updateTable('peer_traffic').set({ sharing_seen_at: now }).where('peer_id', 'in', ids).execute();
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
 * Moves pending traffic into the hour and day buckets and the users' usage, and clears it: one
 * statement per table and pending hour (usually one). Run it inside a transaction. On PostgreSQL
 * the rows are locked first, so two flushes at once (two nodes' ticks, an admin's reset) cannot
 * move the same bytes twice (SQLite runs one transaction at a time).
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
