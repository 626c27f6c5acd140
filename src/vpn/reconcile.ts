import type { Db } from '../db/index.js';
import { removedKeys, wirePeersOnNode } from '../db/peers.js';
import { resetBaselines } from '../db/peer-traffic.js';
import type { VpnRunner } from './runner.js';
import type { SecretBox } from './secrets.js';
import { type Dump, toWire, type VpnSettings } from './types.js';

/** Missing peers go onto the interface this many per `addconf` call (start, a restored interface). */
export const PEERS_PER_CALL = 1000;

export interface ReconcileResult {
  added: string[];
  removed: string[];
  /** On the interface, never known to the database; kept unless removeUnknown. */
  unknown: string[];
}

export interface ReconcileDeps {
  db: Db;
  runner: VpnRunner;
  settings: Pick<VpnSettings, 'node' | 'iface' | 'removeUnknown'>;
  secrets?: SecretBox | undefined;
}

/**
 * Adds active DB peers missing from the interface (or set up differently) and removes the
 * disabled and deleted ones. Peers never known to the database are only reported, unless
 * removeUnknown. Peers already right are not touched, so connected clients are undisturbed.
 */
export async function reconcilePeers({ db, runner, settings, secrets }: ReconcileDeps, dump: Dump): Promise<ReconcileResult> {
  const { node, iface } = settings;
  const all = await wirePeersOnNode(db, node);
  const active = all.filter((p) => p.status === 'active').map((p) => ({ id: p.id, wire: toWire(p, secrets) }));
  const live = new Map(dump.peers.map((p) => [p.publicKey, p]));
  const wanted = new Set(active.map((p) => p.wire.publicKey));
  const known = new Set(all.map((p) => p.public_key));
  const missing = active.filter(({ wire }) => {
    const l = live.get(wire.publicKey);
    return !l || l.presharedKey !== wire.presharedKey || l.allowedIps.length !== 1 || l.allowedIps[0] !== `${wire.ip}/32`;
  });
  const extra = dump.peers.map((p) => p.publicKey).filter((k) => !wanted.has(k));
  const tombstoned = await removedKeys(db, node, extra);
  const unknown = extra.filter((k) => !known.has(k) && !tombstoned.has(k));
  const remove = settings.removeUnknown ? extra : extra.filter((k) => known.has(k) || tombstoned.has(k));
  for (let i = 0; i < missing.length; i += PEERS_PER_CALL) {
    await runner.setPeers(iface, missing.slice(i, i + PEERS_PER_CALL).map((p) => p.wire));
  }
  // Freshly (re)added peers count from zero on the interface.
  await resetBaselines(db, missing.filter((p) => !live.has(p.wire.publicKey)).map((p) => p.id));
  for (const k of remove) await runner.removePeer(iface, k);
  return { added: missing.map((p) => p.wire.publicKey), removed: remove, unknown };
}
