import type { Db } from '../db/index.js';
import { checkpointWal } from '../db/infra/wal.js';
import { getServer, setServerIfindex } from '../db/servers.js';
import { applyTraffic, flushPending, type TrafficBaseline, trafficBaselines, type TrafficUpdate } from '../db/peer-traffic.js';
import { hourOf, pruneBuckets } from '../db/traffic-buckets.js';
import { DEFAULT_PERIOD_RULES, type PeriodRules, rollUsagePeriods, startPendingExpiries } from '../db/usage-periods.js';
import { enqueue } from '../db/outbox.js';
import { tellUser } from '../use-cases/notify.js';
import type { EndpointMove } from '../db/peer-endpoints.js';
import { endpointAddress } from '../vpn/dump.js';
import type { Dump } from '../vpn/types.js';

/** How the tick cuts quota periods, and whether a user hears what their ended period used (USAGE_SUMMARY). */
export interface TickRules extends PeriodRules {
  usageSummary?: boolean;
}

/** A node's stored baselines by public key. */
export type Baselines = Map<string, TrafficBaseline>;

/**
 * The peers whose counters or handshake in the dump differ from the stored ones (`baselines`);
 * every other peer has nothing to write. A recreated interface (ifindex changed) counts every
 * peer as changed: all its raw counters are new traffic.
 */
export function changedPeers(baselines: Baselines, dump: Dump, recreated: boolean): TrafficUpdate[] {
  const changed: TrafficUpdate[] = [];
  for (const l of dump.peers) {
    const p = baselines.get(l.publicKey);
    if (!p) continue;
    const handshake = l.latestHandshake === null ? null : l.latestHandshake * 1000;
    if (!recreated && l.rx === p.rx_last && l.tx === p.tx_last && (handshake === null || handshake === p.last_handshake_at)) continue;
    changed.push({ id: p.id, rx: l.rx, tx: l.tx, last_handshake_at: handshake });
  }
  return changed;
}

/** The peers whose endpoint address (not port: NAT rebinding keeps the address) differs from the stored one. */
export function movedEndpoints(baselines: Baselines, dump: Dump): EndpointMove[] {
  const moved: EndpointMove[] = [];
  for (const l of dump.peers) {
    const p = l.endpoint === null ? undefined : baselines.get(l.publicKey);
    if (!p) continue;
    const address = endpointAddress(l.endpoint!);
    if (address !== p.endpoint) moved.push({ id: p.id, address, previous: p.endpoint });
  }
  return moved;
}

/**
 * What a node's tick reads from the database while `show dump` runs (Promise.all): the node's
 * baselines for recordTraffic. The WAL is checkpointed meanwhile too, so the tick's commit need not.
 */
export async function beforeDump(db: Db, node: string): Promise<Baselines> {
  const baselines = new Map((await trafficBaselines(db, node)).map((b) => [b.public_key, b]));
  await checkpointWal(db);
  return baselines;
}

/**
 * One tick of a node, in one transaction: pending traffic of earlier hours (every node's, if any
 * is left) moves into the hour and day buckets and the users' usage; then the peers whose counters
 * moved since `baselines` (read while the dump was taken: `beforeDump`) get their deltas, in one
 * statement (applyTraffic). Users whose period ended start a new one (their summary queued in the
 * same transaction, so it goes exactly once), and validity waiting for a first handshake starts.
 * Returns how many peers were written.
 */
export async function recordTraffic(db: Db, node: string, dump: Dump, baselines: Baselines, ifindex: number | null, now: number, rules: TickRules = DEFAULT_PERIOD_RULES): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const server = await getServer(trx, node);
    const recreated = server?.ifindex != null && ifindex !== null && server.ifindex !== ifindex;
    // Earlier hours' traffic counts in the period it was made in, then a new period starts from zero.
    await flushPending(trx, { before: hourOf(now) });
    await pruneBuckets(trx, now);
    const ended = await rollUsagePeriods(trx, now, rules, rules.usageSummary);
    await enqueue(trx, ended.map((u) => (u.quota_bytes === null ? tellUser(u.id, 'usage-summary', {}, { used: u.usage_bytes }) : tellUser(u.id, 'usage-summary-of', {}, { used: u.usage_bytes, allowed: u.quota_bytes + u.topup_bytes }))), now);
    const written = await applyTraffic(trx, changedPeers(baselines, dump, recreated), hourOf(now), recreated);
    if (written) await startPendingExpiries(trx);
    if (server && server.ifindex !== ifindex) await setServerIfindex(trx, node, ifindex);
    return written;
  });
}
