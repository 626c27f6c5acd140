import type { Logger } from 'pino';
import type { Db } from './db/index.js';
import { audit } from './db/misc.js';
import { deletePeer, deviceOfUser, peersOfUser, setPeerStatus } from './db/peers.js';
import type { Peer, User, UserStatus } from './db/schema.js';
import { findUser, listUsersByStatus, setLimits, transitionUser } from './db/users.js';
import type { Fleet } from './vpn/fleet.js';
import { DeviceRefusedError } from './vpn/service.js';

export type DeviceResult =
  | { kind: 'ok'; peer: Peer }
  | { kind: 'not-active' }
  | { kind: 'limit'; max: number }
  | { kind: 'not-found' }
  | { kind: 'failed'; error: unknown };

export type Decision =
  /** recovered: the first success after provisioning had failed (an incident ends). */
  | { kind: 'ok'; user: User; peers: Peer[]; recovered?: boolean }
  | { kind: 'not-found' }
  | { kind: 'wrong-state'; user: User }
  /** The decision is stored, but the interface could not be updated; the monitor retries. */
  | { kind: 'applied-later'; user: User; error: unknown }
  /** Nothing changed (the step was rolled back); the admin may retry. first: an incident starts. */
  | { kind: 'failed'; user: User; error: unknown; first?: boolean };

/**
 * Access decisions. Each starts with one conditional status update, so double taps and
 * several admins at once produce exactly one winner; the loser gets 'wrong-state'.
 */
export class AccessService {
  private provisioningFailing = false;

  constructor(
    private readonly db: Db,
    private readonly vpn: Fleet,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** Quota and validity given to every newly approved user (DEFAULT_QUOTA_GB, DEFAULT_DAYS). */
    private readonly defaults: { quotaBytes?: number | undefined; days?: number | undefined } = {},
  ) {}

  private async decide(userId: number, from: UserStatus[], to: UserStatus, actorId: number | null): Promise<Decision | User> {
    if (await transitionUser(this.db, userId, from, to, actorId, this.now())) {
      return (await findUser(this.db, userId))!;
    }
    const user = await findUser(this.db, userId);
    return user ? { kind: 'wrong-state', user } : { kind: 'not-found' };
  }

  async approve(userId: number, adminId: number): Promise<Decision> {
    const user = await this.decide(userId, ['pending'], 'provisioning', adminId);
    if ('kind' in user) return user;
    return this.provision(user, adminId);
  }

  /**
   * provisioning → active once the peer is stored, on the interface and in the config file;
   * back to pending if that fails, so nobody is "approved" without a working peer.
   */
  private async provision(user: User, actorId: number | null): Promise<Decision> {
    const userId = user.id;
    let created: Peer | undefined;
    try {
      const existing = (await peersOfUser(this.db, userId)).filter((p) => p.status === 'active');
      // A peer stored before a crash is reused: reconcile at start has already put it back on the interface.
      const peers = existing.length ? existing : [(created = await this.vpn.addPeer(userId, { node: user.node }))];
      await transitionUser(this.db, userId, 'provisioning', 'active', actorId ?? user.decided_by, this.now());
      if (user.quota_bytes === null && this.defaults.quotaBytes) await setLimits(this.db, userId, { quota_bytes: this.defaults.quotaBytes });
      if (user.expires_at === null && this.defaults.days) await setLimits(this.db, userId, { expires_at: this.now() + this.defaults.days * 86_400_000 });
      await audit(this.db, { actorId, action: 'approve', userId, details: { ips: peers.map((p) => p.ip) } }, this.now());
      const recovered = this.provisioningFailing;
      this.provisioningFailing = false;
      return { kind: 'ok', user: { ...user, status: 'active' }, peers, recovered };
    } catch (error) {
      // A pending user must not keep a working peer.
      if (created) {
        await deletePeer(this.db, created, this.now());
        await this.vpn.apply(created, false).catch(() => {});
      }
      await transitionUser(this.db, userId, 'provisioning', 'pending', null, this.now());
      await audit(this.db, { actorId, action: 'approve_failed', userId, details: { error: String(error) } }, this.now());
      this.log.error({ err: error, userId }, 'provisioning failed, user back to pending');
      const first = !this.provisioningFailing;
      this.provisioningFailing = true;
      return { kind: 'failed', user: { ...user, status: 'pending' }, error, first };
    }
  }

  /**
   * Approvals a crash interrupted are finished (or rolled back to pending). Only those started
   * before staleBefore: a younger one may still be running, in this process or another replica.
   */
  async recoverInterrupted(staleBefore = Number.POSITIVE_INFINITY): Promise<Decision[]> {
    const results: Decision[] = [];
    const stale = (await listUsersByStatus(this.db, 'provisioning', 10_000)).filter((u) => u.updated_at < staleBefore);
    for (const user of stale) {
      this.log.warn({ userId: user.id }, 'finishing an approval interrupted by a restart');
      results.push(await this.provision(user, null));
    }
    return results;
  }

  async reject(userId: number, adminId: number): Promise<Decision> {
    const user = await this.decide(userId, ['pending'], 'rejected', adminId);
    if ('kind' in user) return user;
    await audit(this.db, { actorId: adminId, action: 'reject', userId }, this.now());
    return { kind: 'ok', user, peers: [] };
  }

  /** Disable keeps keys and address; the peer leaves the interface. */
  async disable(userId: number, adminId: number): Promise<Decision> {
    return this.switchPeers(userId, adminId, ['active'], 'disabled');
  }

  /** Enable brings back the same keys and address. */
  async enable(userId: number, adminId: number): Promise<Decision> {
    return this.switchPeers(userId, adminId, ['disabled'], 'active');
  }

  /** Over quota or past expiry: like disable (keys kept, peers off the interface), but lifted by the limits. */
  async limit(userId: number, to: 'limited' | 'expired'): Promise<Decision> {
    return this.switchPeers(userId, null, ['active'], to);
  }

  /** Back within the limits (or an admin lifted them): the same peers come back at once. */
  async lift(userId: number, actorId: number | null): Promise<Decision> {
    return this.switchPeers(userId, actorId, ['limited', 'expired'], 'active');
  }

  private async switchPeers(userId: number, actorId: number | null, from: UserStatus[], to: UserStatus): Promise<Decision> {
    const user = await this.decide(userId, from, to, actorId);
    if ('kind' in user) return user;
    const [peerFrom, peerTo] = to === 'active' ? (['disabled', 'active'] as const) : (['active', 'disabled'] as const);
    const peers: Peer[] = [];
    for (const p of await peersOfUser(this.db, userId)) {
      if (await setPeerStatus(this.db, p.id, peerFrom, peerTo)) peers.push({ ...p, status: peerTo });
    }
    await audit(this.db, { actorId, action: to === 'active' ? 'enable' : to === 'disabled' ? 'disable' : to, userId }, this.now());
    return this.applyAll(user, peers, to === 'active');
  }

  /** Revoke deletes peers and keys; the user may ask again with /start. */
  async revoke(userId: number, adminId: number): Promise<Decision> {
    return this.removeAccess(userId, adminId, ['active', 'disabled', 'pending'], 'revoked');
  }

  /** Ban: like revoke, and /start cannot ask again until an admin unbans. */
  async ban(userId: number, adminId: number): Promise<Decision> {
    return this.removeAccess(userId, adminId, ['pending', 'active', 'disabled', 'rejected', 'revoked'], 'banned');
  }

  /** Unban: the user may ask again with /start, as after a revoke. */
  async unban(userId: number, adminId: number): Promise<Decision> {
    const user = await this.decide(userId, ['banned'], 'revoked', adminId);
    if ('kind' in user) return user;
    await audit(this.db, { actorId: adminId, action: 'unban', userId }, this.now());
    return { kind: 'ok', user, peers: [] };
  }

  private async removeAccess(userId: number, adminId: number, from: UserStatus[], to: 'revoked' | 'banned'): Promise<Decision> {
    const user = await this.decide(userId, from, to, adminId);
    if ('kind' in user) return user;
    const peers = await peersOfUser(this.db, userId);
    for (const p of peers) await deletePeer(this.db, p, this.now());
    await audit(this.db, { actorId: adminId, action: to === 'banned' ? 'ban' : 'revoke', userId, details: { ips: peers.map((p) => p.ip) } }, this.now());
    return this.applyAll(user, peers, false);
  }

  /**
   * A user adds a device (one more peer with its own keys and address). Refused unless the user is
   * active and below maxDevices; the check and the insert are one statement (see insertPeerWithin).
   */
  async addDevice(userId: number, name: string, maxDevices: number): Promise<DeviceResult> {
    try {
      const node = (await findUser(this.db, userId))?.node;
      const peer = await this.vpn.addPeer(userId, { name, maxDevices, node });
      await audit(this.db, { actorId: userId, action: 'device_add', userId, details: { ip: peer.ip, name } }, this.now());
      return { kind: 'ok', peer };
    } catch (error) {
      if (error instanceof DeviceRefusedError) {
        const user = await findUser(this.db, userId);
        return user?.status === 'active' ? { kind: 'limit', max: maxDevices } : { kind: 'not-active' };
      }
      this.log.error({ err: error, userId }, 'adding a device failed');
      return { kind: 'failed', error };
    }
  }

  /** A user deletes one of their devices: gone from the database and, at once, from the interface. */
  async removeDevice(userId: number, peerId: number): Promise<DeviceResult> {
    const peer = await deviceOfUser(this.db, userId, peerId);
    if (!peer) return { kind: 'not-found' };
    await deletePeer(this.db, peer, this.now());
    await audit(this.db, { actorId: userId, action: 'device_delete', userId, details: { ip: peer.ip, name: peer.name } }, this.now());
    try {
      await this.vpn.apply(peer, false);
    } catch (error) {
      this.log.error({ err: error, userId }, 'interface update failed; the monitor will reconcile');
    }
    return { kind: 'ok', peer };
  }

  /** Moves every peer of the user to another node (same keys, new addresses); the caller sends the new configs. */
  async move(userId: number, to: string, adminId: number): Promise<Decision> {
    const user = await findUser(this.db, userId);
    if (!user) return { kind: 'not-found' };
    const moved: Peer[] = [];
    try {
      for (const p of await peersOfUser(this.db, userId)) moved.push(await this.vpn.move(p, to));
    } catch (error) {
      this.log.error({ err: error, userId, to }, 'moving peers failed');
      return { kind: 'failed', user, error, first: false };
    }
    await audit(this.db, { actorId: adminId, action: 'move', userId, details: { node: to, ips: moved.map((p) => p.ip) } }, this.now());
    return { kind: 'ok', user, peers: moved };
  }

  private async applyAll(user: User, peers: Peer[], present: boolean): Promise<Decision> {
    try {
      for (const p of peers) await this.vpn.apply(p, present);
      return { kind: 'ok', user, peers };
    } catch (error) {
      this.log.error({ err: error, userId: user.id }, 'interface update failed; the monitor will reconcile');
      return { kind: 'applied-later', user, error };
    }
  }
}
