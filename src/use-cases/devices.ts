import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { audit } from '../db/audit-log.js';
import { enqueue, type Outgoing } from '../db/outbox.js';
import { deletePeer, deviceNamed, deviceOfUser, markConfigQueued, unqueuedPeers } from '../db/peers.js';
import type { Peer, User } from '../db/schema.js';
import { inTransaction } from '../db/infra/transaction.js';
import { findUser } from '../db/users.js';
import { configFor } from './notify.js';
import type { Fleet } from '../vpn/fleet.js';
import { DeviceRefusedError } from '../vpn/service.js';

/** How many devices the user may have: their own limit, else MAX_DEVICES_PER_USER. */
export function deviceLimitOf(user: Pick<User, 'max_devices'>, perUser: number): number {
  return user.max_devices ?? perUser;
}

export type DeviceResult =
  | { kind: 'ok'; peer: Peer }
  | { kind: 'not-active' }
  | { kind: 'limit'; max: number }
  /** The user already has a device of that name (also: a replayed add whose config is already on its way). */
  | { kind: 'exists' }
  | { kind: 'not-found' }
  | { kind: 'failed'; error: unknown };

/** A user's devices: each one peer with its own keys and address, its config queued in the outbox once it is live. */
export class DeviceService {
  constructor(
    private readonly db: Db,
    private readonly fleet: Fleet,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A user adds a device. Refused unless the user is active and below maxDevices; the check and
   * the insert are one statement (see insertPeerWithin). Its config, and whatever `also` returns
   * for it, is queued once the peer is live.
   */
  async add(userId: number, name: string, maxDevices: number, also: (peer: Peer) => Outgoing[] = () => []): Promise<DeviceResult> {
    const same = await deviceNamed(this.db, userId, name);
    if (same) {
      if (same.config_queued_at !== null) return { kind: 'exists' };
      // A replay of an add that a crash cut off after the peer was made: its config goes now.
      await this.queueConfig(this.db, same, also);
      return { kind: 'ok', peer: same };
    }
    let peer: Peer;
    try {
      const node = (await findUser(this.db, userId))?.node;
      peer = await this.fleet.addPeer(userId, { name, maxDevices, node });
    } catch (error) {
      if (error instanceof DeviceRefusedError) {
        const user = await findUser(this.db, userId);
        return user?.status === 'active' ? { kind: 'limit', max: maxDevices } : { kind: 'not-active' };
      }
      // Two adds of one name at once: the unique name lets one through.
      if (await deviceNamed(this.db, userId, name)) return { kind: 'exists' };
      this.log.error({ err: error, userId }, 'adding a device failed');
      return { kind: 'failed', error };
    }
    await inTransaction(this.db, async (trx) => {
      await audit(trx, { actorId: userId, action: 'device_add', userId, details: { ip: peer.ip, name } }, this.now());
      await this.queueConfig(trx, peer, also);
    });
    return { kind: 'ok', peer };
  }

  /** A user deletes one of their devices: gone from the database and, at once, from the interface. */
  async remove(userId: number, peerId: number): Promise<DeviceResult> {
    const peer = await deviceOfUser(this.db, userId, peerId);
    if (!peer) return { kind: 'not-found' };
    await inTransaction(this.db, async (trx) => {
      await deletePeer(trx, peer, this.now());
      await audit(trx, { actorId: userId, action: 'device_delete', userId, details: { ip: peer.ip, name: peer.name } }, this.now());
    });
    try {
      await this.fleet.apply(peer, false);
    } catch (error) {
      this.log.error({ err: error, userId }, 'interface update failed; the monitor will reconcile');
    }
    return { kind: 'ok', peer };
  }

  /** Configs of active devices that a crash kept from being queued (created before staleBefore) are queued now. */
  async queueUnqueuedConfigs(staleBefore = Number.POSITIVE_INFINITY): Promise<number> {
    const peers = await unqueuedPeers(this.db, staleBefore);
    for (const peer of peers) await this.queueConfig(this.db, peer);
    return peers.length;
  }

  /**
   * The config (and `also`) into the outbox, and the peer marked as queued, together; only by
   * whoever marks it (a replayed add and the recovery at start may both try).
   */
  private queueConfig(db: Db, peer: Peer, also: (peer: Peer) => Outgoing[] = () => []): Promise<void> {
    return inTransaction(db, async (trx) => {
      if (await markConfigQueued(trx, [peer.id], this.now())) await enqueue(trx, [...also(peer), ...configFor(peer)], this.now());
    });
  }
}

/** Configs again (the user asked), through the outbox at the chat's pace. */
export function resendConfigs(db: Db, peers: Pick<Peer, 'id' | 'user_id'>[], now: number): Promise<void> {
  return enqueue(db, peers.flatMap(configFor), now);
}
