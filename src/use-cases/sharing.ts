import type { Db } from '../db/index.js';
import { inTransaction } from '../db/infra/transaction.js';
import { enqueue, type Outgoing } from '../db/outbox.js';
import { addressesSince, type EndpointMove, pruneEndpoints, recordMoves, returnsSince } from '../db/peer-endpoints.js';
import { markSharing, setEndpoints } from '../db/peer-traffic.js';
import { findPeer } from '../db/peers.js';
import type { AccessService } from './access.js';

export interface SharingSettings {
  /** alert: the admins are told, with a Disable button; disable: the bot disables the user at once and says so. */
  action: 'alert' | 'disable';
  windowMs: number;
}

export interface SharingDeps {
  db: Db;
  access: Pick<AccessService, 'disableUnattended'>;
  adminIds: readonly number[];
  sharing: SharingSettings;
}

/** One incident: the peer and every address it was at within the window. */
interface Incident {
  peerId: number;
  userId: number;
  addresses: string[];
}

/**
 * One config on several devices shows as an endpoint that goes back and forth: the peer returns
 * to an address it had left within the window (one device moving, Wi-Fi to mobile, does not).
 * The first such return reports an incident; it lasts while returns keep coming, so the next
 * report needs a whole window without one. Called only for the peers whose address changed.
 * With SHARING_ACTION=disable the user is disabled before anything else is stored, the alert in
 * the same transaction: a crash in between makes the next tick see the same moves again.
 */
export async function watchSharing(deps: SharingDeps, moves: EndpointMove[], now: number): Promise<number[]> {
  const { db, sharing } = deps;
  const since = now - sharing.windowMs;
  const returned = await returnsSince(db, moves, since);
  const incidents: Incident[] = [];
  for (const r of returned) {
    if (r.sharing_seen_at !== null && r.sharing_seen_at >= since) continue;
    const peer = await findPeer(db, r.id);
    const move = moves.find((m) => m.id === r.id)!;
    // The move itself is not stored yet: its two addresses are added.
    if (peer) incidents.push({ peerId: r.id, userId: peer.user_id, addresses: [...new Set([...(await addressesSince(db, r.id, since)), move.previous!, move.address])] });
  }
  const minutes = Math.round(sharing.windowMs / 60_000);
  const alert = (i: Incident, disabled: boolean): Outgoing[] => deps.adminIds.map((chatId) => ({ chatId, intent: { kind: 'sharing', peerId: i.peerId, addresses: i.addresses, minutes, disabled } }));
  const left: Incident[] = [];
  for (const i of incidents) {
    const r = sharing.action === 'disable' ? await deps.access.disableUnattended(i.userId, alert(i, true)) : null;
    if (r?.kind !== 'ok' && r?.kind !== 'applied-later') left.push(i);
  }
  await inTransaction(db, async (trx) => {
    await recordMoves(trx, moves, now);
    await setEndpoints(trx, moves);
    await markSharing(trx, returned.map((r) => r.id), now);
    await pruneEndpoints(trx, since);
    await enqueue(trx, left.flatMap((i) => alert(i, false)), now);
  });
  return incidents.map((i) => i.peerId);
}
