import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { audit } from '../db/audit-log.js';
import { enqueue, type Outgoing } from '../db/outbox.js';
import { deletePeer, markConfigQueued, peersOfUser, setPeerStatus } from '../db/peers.js';
import type { Peer, User, UserStatus } from '../db/schema.js';
import { inTransaction } from '../db/infra/transaction.js';
import { findUser, setLimits, startPeriods, takeAbandonedProvisioning, transitionUser } from '../db/users.js';
import { type Replica, soleReplica } from '../db/infra/locks.js';
import { configFor, tellUser, requestDecided, askAdmins, tellAdmins } from './notify.js';
import type { Fleet } from '../vpn/fleet.js';

export type Decision =
  /** recovered: the first success after provisioning had failed (an incident ends). */
  | { kind: 'ok'; user: User; peers: Peer[]; recovered?: boolean }
  | { kind: 'not-found' }
  | { kind: 'wrong-state'; user: User }
  /** The decision is stored, but the interface could not be updated; the monitor retries. */
  | { kind: 'applied-later'; user: User; error: unknown }
  /** Nothing changed (the step was rolled back); the admin may retry. first: an incident starts. */
  | { kind: 'failed'; user: User; error: unknown; first?: boolean };

/** Who decided: an admin (or an invite's creator) by id and display name. */
export interface Actor {
  id: number;
  name: string;
}

export interface ApproveOptions {
  /** The user's first message (invites have their own). */
  welcome?: string;
  /** More messages of the same event, queued with the rest. */
  alsoTell?: Outgoing[];
  /** The actor pressed nothing (an invite's creator): a failure alerts them like every other admin. */
  actorAway?: boolean;
}

export interface AccessOptions {
  /** Who hears about requests and incidents (ADMIN_IDS). */
  adminIds?: readonly number[];
  /** Quota and validity given to every newly approved user (DEFAULT_QUOTA_GB, DEFAULT_DAYS). */
  quotaBytes?: number | undefined;
  days?: number | undefined;
  /** DEFAULT_DAYS_FROM=first_handshake: the days start at the user's first connection. */
  daysFromFirstHandshake?: boolean;
  /** Approvals are claimed by this replica; a dead replica's are finished by recoverInterrupted. Default: the only one. */
  replica?: Replica;
}

/** What the user is told when their status changes to each of these. */
const TOLD: Partial<Record<UserStatus, string>> = {
  rejected: 'you-are-rejected',
  disabled: 'you-are-disabled',
  revoked: 'you-are-revoked',
  banned: 'you-are-banned',
  limited: 'you-are-limited',
  expired: 'you-are-expired',
};

/**
 * Access decisions. Each starts with one conditional status update, so double taps and several
 * admins at once produce exactly one winner; the loser gets 'wrong-state'. What a decision tells
 * users and admins is queued in the outbox in the transaction that stores it: a decision rolled
 * back says nothing, a stored one is never lost.
 */
export class AccessService {
  private provisioningFailing = false;
  private readonly adminIds: readonly number[];
  private readonly replica: Replica;

  constructor(
    private readonly db: Db,
    private readonly fleet: Fleet,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly opts: AccessOptions = {},
  ) {
    this.adminIds = opts.adminIds ?? [];
    this.replica = opts.replica ?? soleReplica();
  }

  /**
   * The status change and `write` (audit, messages) in one transaction; the user as stored after
   * it, or why nothing changed.
   */
  private decide(userId: number, from: UserStatus[], to: UserStatus, actorId: number | null, write: (trx: Db, user: User) => Promise<void> = async () => {}): Promise<Decision | User> {
    return inTransaction(this.db, async (trx) => {
      // A user being provisioned is this replica's, so another one finishes it if this one dies.
      if (!(await transitionUser(trx, userId, from, to, actorId, this.now(), to === 'provisioning' ? this.replica.id : undefined))) {
        const user = await findUser(trx, userId);
        return user ? { kind: 'wrong-state', user } : { kind: 'not-found' };
      }
      const user = (await findUser(trx, userId))!;
      await write(trx, user);
      return user;
    });
  }

  async approve(userId: number, by: Actor, opts: ApproveOptions = {}): Promise<Decision> {
    const user = await this.decide(userId, ['pending'], 'provisioning', by.id);
    if ('kind' in user) return user;
    return this.provision(user, by, opts);
  }

  /**
   * provisioning → active once the peer is stored and on the interface, with the welcome, the
   * configs and the admins' notices queued in that same transaction; back to pending if it fails,
   * so nobody is "approved" without a working peer.
   */
  private async provision(user: User, by: Actor | null, { welcome = 'you-are-approved', alsoTell = [], actorAway = false }: ApproveOptions = {}): Promise<Decision> {
    const userId = user.id;
    try {
      const existing = (await peersOfUser(this.db, userId)).filter((p) => p.status === 'active');
      // A peer stored before a crash is reused: reconcile at start has already put it back on the interface.
      const peers = existing.length ? existing : [await this.fleet.addPeer(userId, { node: user.node })];
      const recovered = this.provisioningFailing;
      const t = this.now();
      const done = await inTransaction(this.db, async (trx) => {
        if (!(await transitionUser(trx, userId, 'provisioning', 'active', by?.id ?? user.decided_by, t))) return false;
        if (user.quota_bytes === null && this.opts.quotaBytes) await setLimits(trx, userId, { quota_bytes: this.opts.quotaBytes });
        if (user.expires_at === null && user.expiry_days_pending === null && this.opts.days) {
          await setLimits(trx, userId, this.opts.daysFromFirstHandshake ? { expiry_days_pending: this.opts.days } : { expires_at: t + this.opts.days * 86_400_000 });
        }
        // Rolling periods count from the approval; the first period starts at the next tick.
        await startPeriods(trx, userId, t);
        await audit(trx, { actorId: by?.id ?? null, action: 'approve', userId, details: { ips: peers.map((p) => p.ip) } }, t);
        await markConfigQueued(trx, peers.map((p) => p.id), t);
        await enqueue(
          trx,
          [
            tellUser(userId, welcome),
            ...peers.flatMap(configFor),
            ...requestDecided(this.adminIds, userId, by ? 'approval-approved-by' : 'approval-approved', by?.name ?? ''),
            ...alsoTell,
            ...(recovered ? tellAdmins(this.adminIds, 'alert-provisioning-recovered') : []),
          ],
          t,
        );
        return true;
      });
      // Finished meanwhile by recovery on another replica: that one told everybody.
      if (!done) return { kind: 'wrong-state', user: (await findUser(this.db, userId))! };
      this.provisioningFailing = false;
      return { kind: 'ok', user: { ...user, status: 'active' }, peers, recovered };
    } catch (error) {
      const first = !this.provisioningFailing;
      this.provisioningFailing = true;
      const t = this.now();
      // Undone from what is stored, in one transaction: a pending user keeps no peer, neither the
      // one made now nor one an interrupted approval left.
      const dropped = await inTransaction(this.db, async (trx) => {
        if (!(await transitionUser(trx, userId, 'provisioning', 'pending', null, t))) return [];
        const peers = await peersOfUser(trx, userId);
        for (const p of peers) await deletePeer(trx, p, t);
        await audit(trx, { actorId: by?.id ?? null, action: 'approve_failed', userId, details: { error: String(error) } }, t);
        const reason = String(error instanceof Error ? error.message : error).slice(0, 300);
        // The deciding admin is told in the chat where they pressed; the others hear of the incident once.
        const others = actorAway ? this.adminIds : this.adminIds.filter((id) => id !== by?.id);
        await enqueue(trx, [...(first ? tellAdmins(others, 'alert-provisioning-failed', { error: reason }) : []), ...(by ? [] : askAdmins(this.adminIds, userId))], t);
        return peers;
      });
      // Off the interface too; should that fail, reconcile removes what the database does not hold.
      for (const p of dropped) await this.fleet.apply(p, false).catch(() => {});
      this.log.error({ err: error, userId }, 'provisioning failed, user back to pending');
      return { kind: 'failed', user: { ...user, status: 'pending' }, error, first };
    }
  }

  /**
   * Approvals a crash interrupted are finished (or rolled back to pending, and the admins asked
   * again): those of a replica that is not alive any more (this process's last run included),
   * taken over first so that only one replica finishes each.
   */
  async recoverInterrupted(): Promise<Decision[]> {
    const results: Decision[] = [];
    for (const user of await takeAbandonedProvisioning(this.db, this.replica.id, await this.replica.alive())) {
      this.log.warn({ userId: user.id }, 'finishing an approval interrupted by a restart');
      results.push(await this.provision(user, null));
    }
    return results;
  }

  async reject(userId: number, by: Actor): Promise<Decision> {
    const user = await this.decide(userId, ['pending'], 'rejected', by.id, async (trx) => {
      await audit(trx, { actorId: by.id, action: 'reject', userId }, this.now());
      await enqueue(trx, [tellUser(userId, 'you-are-rejected'), ...requestDecided(this.adminIds, userId, 'approval-rejected-by', by.name)], this.now());
    });
    return 'kind' in user ? user : { kind: 'ok', user, peers: [] };
  }

  /** Disable keeps keys and address; the peer leaves the interface. */
  async disable(userId: number, by: Actor): Promise<Decision> {
    return this.switchPeers(userId, by.id, ['active'], 'disabled');
  }

  /** The bot disables a user on its own (SHARING_ACTION=disable); `alert` tells the admins, in the same transaction. */
  async disableUnattended(userId: number, alert: Outgoing[]): Promise<Decision> {
    return this.switchPeers(userId, null, ['active'], 'disabled', TOLD.disabled, () => alert);
  }

  /** Enable brings back the same keys and address. */
  async enable(userId: number, by: Actor): Promise<Decision> {
    return this.switchPeers(userId, by.id, ['disabled'], 'active', 'you-are-enabled');
  }

  /** Over quota or past expiry: like disable (keys kept, peers off the interface), but lifted by the limits. The admins are told too. */
  async limit(userId: number, to: 'limited' | 'expired'): Promise<Decision> {
    return this.switchPeers(userId, null, ['active'], to, undefined, (u) => tellAdmins(this.adminIds, `admin-user-${to}`, { name: [u.first_name, u.last_name].filter(Boolean).join(' '), id: String(u.id) }));
  }

  /** Back within the limits (or an admin lifted them): the same peers come back at once. */
  async lift(userId: number, actorId: number | null): Promise<Decision> {
    return this.switchPeers(userId, actorId, ['limited', 'expired'], 'active', 'limit-lifted');
  }

  private async switchPeers(userId: number, actorId: number | null, from: UserStatus[], to: UserStatus, told = TOLD[to], also: (u: User) => Outgoing[] = () => []): Promise<Decision> {
    const [peerFrom, peerTo] = to === 'active' ? (['disabled', 'active'] as const) : (['active', 'disabled'] as const);
    const peers: Peer[] = [];
    const user = await this.decide(userId, from, to, actorId, async (trx, u) => {
      for (const p of await peersOfUser(trx, userId)) {
        if (await setPeerStatus(trx, p.id, peerFrom, peerTo)) peers.push({ ...p, status: peerTo });
      }
      await audit(trx, { actorId, action: to === 'active' ? 'enable' : to === 'disabled' ? 'disable' : to, userId }, this.now());
      await enqueue(trx, [...(told ? [tellUser(userId, told)] : []), ...also(u)], this.now());
    });
    if ('kind' in user) return user;
    return this.applyAll(user, peers, to === 'active');
  }

  /** Revoke deletes peers and keys; the user may ask again with /start. */
  async revoke(userId: number, by: Actor): Promise<Decision> {
    return this.removeAccess(userId, by, ['active', 'disabled', 'pending'], 'revoked');
  }

  /** Ban: like revoke, and /start cannot ask again until an admin unbans. */
  async ban(userId: number, by: Actor): Promise<Decision> {
    return this.removeAccess(userId, by, ['pending', 'active', 'disabled', 'rejected', 'revoked'], 'banned');
  }

  /** Unban: the user may ask again with /start, as after a revoke. */
  async unban(userId: number, by: Actor): Promise<Decision> {
    const user = await this.decide(userId, ['banned'], 'revoked', by.id, async (trx) => {
      await audit(trx, { actorId: by.id, action: 'unban', userId }, this.now());
      await enqueue(trx, [tellUser(userId, 'you-are-unbanned')], this.now());
    });
    return 'kind' in user ? user : { kind: 'ok', user, peers: [] };
  }

  private async removeAccess(userId: number, by: Actor, from: UserStatus[], to: 'revoked' | 'banned'): Promise<Decision> {
    const before = await findUser(this.db, userId);
    let peers: Peer[] = [];
    const user = await this.decide(userId, from, to, by.id, async (trx) => {
      peers = await peersOfUser(trx, userId);
      for (const p of peers) await deletePeer(trx, p, this.now());
      await audit(trx, { actorId: by.id, action: to === 'banned' ? 'ban' : 'revoke', userId, details: { ips: peers.map((p) => p.ip) } }, this.now());
      // A pending request decided this way leaves the admins' queues too.
      const closes = before?.status === 'pending' ? requestDecided(this.adminIds, userId, 'approval-rejected-by', by.name) : [];
      await enqueue(trx, [tellUser(userId, TOLD[to]!), ...closes], this.now());
    });
    if ('kind' in user) return user;
    return this.applyAll(user, peers, false);
  }

  /** Moves every peer of the user to another node (same keys, new addresses); the user gets the new configs. */
  async move(userId: number, to: string, adminId: number): Promise<Decision> {
    const user = await findUser(this.db, userId);
    if (!user) return { kind: 'not-found' };
    const moved: Peer[] = [];
    try {
      for (const p of await peersOfUser(this.db, userId)) moved.push(await this.fleet.move(p, to));
    } catch (error) {
      this.log.error({ err: error, userId, to }, 'moving peers failed');
      return { kind: 'failed', user, error, first: false };
    }
    await inTransaction(this.db, async (trx) => {
      await audit(trx, { actorId: adminId, action: 'move', userId, details: { node: to, ips: moved.map((p) => p.ip) } }, this.now());
      await markConfigQueued(trx, moved.map((p) => p.id), this.now());
      await enqueue(trx, [tellUser(userId, 'you-are-moved'), ...moved.flatMap(configFor)], this.now());
    });
    return { kind: 'ok', user, peers: moved };
  }

  private async applyAll(user: User, peers: Peer[], present: boolean): Promise<Decision> {
    try {
      for (const p of peers) await this.fleet.apply(p, present);
      return { kind: 'ok', user, peers };
    } catch (error) {
      this.log.error({ err: error, userId: user.id }, 'interface update failed; the monitor will reconcile');
      return { kind: 'applied-later', user, error };
    }
  }
}
