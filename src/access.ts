import type { Logger } from 'pino';
import type { Db } from './db/index.js';
import { audit } from './db/misc.js';
import { deletePeer, peersOfUser, setPeerStatus } from './db/peers.js';
import type { Peer, User, UserStatus } from './db/schema.js';
import { findUser, listUsersByStatus, transitionUser } from './db/users.js';
import type { VpnService } from './vpn/service.js';

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
    private readonly vpn: VpnService,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private async decide(userId: number, from: UserStatus[], to: UserStatus, actorId: number): Promise<Decision | User> {
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
      const peers = existing.length ? existing : [(created = await this.vpn.addPeer(userId))];
      await transitionUser(this.db, userId, 'provisioning', 'active', actorId ?? user.decided_by, this.now());
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

  /** At start: approvals a crash interrupted are finished (or rolled back to pending). */
  async recoverInterrupted(): Promise<Decision[]> {
    const results: Decision[] = [];
    for (const user of await listUsersByStatus(this.db, 'provisioning', 10_000)) {
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
    return this.switchPeers(userId, adminId, 'active', 'disabled');
  }

  /** Enable brings back the same keys and address. */
  async enable(userId: number, adminId: number): Promise<Decision> {
    return this.switchPeers(userId, adminId, 'disabled', 'active');
  }

  private async switchPeers(userId: number, adminId: number, from: 'active' | 'disabled', to: 'active' | 'disabled'): Promise<Decision> {
    const user = await this.decide(userId, [from], to, adminId);
    if ('kind' in user) return user;
    const peers: Peer[] = [];
    for (const p of await peersOfUser(this.db, userId)) {
      if (await setPeerStatus(this.db, p.id, from, to)) peers.push({ ...p, status: to });
    }
    await audit(this.db, { actorId: adminId, action: to === 'active' ? 'enable' : 'disable', userId }, this.now());
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
