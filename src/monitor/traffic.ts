import type { Db } from '../db/index.js';
import { getServer, setServerIfindex } from '../db/misc.js';
import { applyTraffic, type TrafficBaseline, trafficBaselines, type TrafficUpdate } from '../db/peers.js';
import { addToBuckets, pruneBuckets } from '../db/traffic.js';
import { addUsage, quotaPeriod, rollUsagePeriod } from '../db/users.js';
import type { Dump } from '../vpn/types.js';

/**
 * Raw counters restart at zero whenever the peer is recreated on the interface.
 * A raw value below the baseline means a restart: the whole raw value is new traffic.
 * When the interface itself was recreated (ifindex changed) every baseline is zero,
 * even if the raw value happens to be higher by now.
 */
export function computeTraffic(peers: TrafficBaseline[], dump: Dump, interfaceRecreated: boolean): TrafficUpdate[] {
  const live = new Map(dump.peers.map((p) => [p.publicKey, p]));
  const updates: TrafficUpdate[] = [];
  for (const p of peers) {
    const l = live.get(p.public_key);
    if (!l) continue;
    const rxLast = interfaceRecreated ? 0 : p.rx_last;
    const txLast = interfaceRecreated ? 0 : p.tx_last;
    const rxDelta = l.rx >= rxLast ? l.rx - rxLast : l.rx;
    const txDelta = l.tx >= txLast ? l.tx - txLast : l.tx;
    const handshake = l.latestHandshake === null ? p.last_handshake_at : l.latestHandshake * 1000;
    if (rxDelta === 0 && txDelta === 0 && l.rx === p.rx_last && l.tx === p.tx_last && handshake === p.last_handshake_at) continue;
    updates.push({
      id: p.id,
      user_id: p.user_id,
      rx_delta: rxDelta,
      tx_delta: txDelta,
      rx_total: p.rx_total + rxDelta,
      tx_total: p.tx_total + txDelta,
      rx_last: l.rx,
      tx_last: l.tx,
      last_handshake_at: handshake,
    });
  }
  return updates;
}

/** One tick: the dump (read once by the caller) applied to totals and history buckets in one transaction. */
export async function recordTraffic(db: Db, iface: string, dump: Dump, ifindex: number | null, now: number, quotaResetDay = 1): Promise<TrafficUpdate[]> {
  return db.transaction().execute(async (trx) => {
    const server = await getServer(trx, iface);
    const recreated = server?.ifindex != null && ifindex !== null && server.ifindex !== ifindex;
    const updates = computeTraffic(await trafficBaselines(trx, iface), dump, recreated);
    await applyTraffic(trx, updates);
    await addToBuckets(trx, updates.map((u) => ({ peerId: u.id, rx: u.rx_delta, tx: u.tx_delta })), now);
    await pruneBuckets(trx, now);
    // Quota usage: a new period starts from zero, then this tick's bytes count in it.
    await rollUsagePeriod(trx, quotaPeriod(now, quotaResetDay));
    const perUser = new Map<number, number>();
    for (const u of updates) perUser.set(u.user_id, (perUser.get(u.user_id) ?? 0) + u.rx_delta + u.tx_delta);
    await addUsage(trx, perUser);
    if (server && server.ifindex !== ifindex) await setServerIfindex(trx, iface, ifindex);
    return updates;
  });
}
