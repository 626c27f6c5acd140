import { type Kysely, sql } from 'kysely';
import { isPostgres } from './infra/dialect.js';
import { lockPeerAllocation } from './infra/locks.js';
import { inTransaction } from './infra/transaction.js';
import { flushPending, insertPeerTraffic, peersWithTraffic, resetBaselines } from './peer-traffic.js';
import type { Database, Peer, PeersTable, PeerStatus, PeerWithTraffic } from './schema.js';

type Q = Kysely<Database>;

export type NewPeer = Pick<PeersTable, 'user_id' | 'node' | 'public_key' | 'private_key' | 'preshared_key' | 'ip'> & { name?: string | null };

/** A peer and its traffic row, both or neither. */
export function insertPeer(db: Q, p: NewPeer, now: number): Promise<Peer> {
  return inTransaction(db, async (trx) => {
    const peer = await trx.insertInto('peers').values({ ...p, status: 'active', created_at: now }).returningAll().executeTakeFirstOrThrow();
    await insertPeerTraffic(trx, peer.id);
    return peer;
  });
}

export function findPeer(db: Q, id: number): Promise<Peer | undefined> {
  return db.selectFrom('peers').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function usedIps(db: Q, node: string): Promise<string[]> {
  const rows = await db.selectFrom('peers').select('ip').where('node', '=', node).execute();
  return rows.map((r) => r.ip);
}

export function peersOfUser(db: Q, userId: number): Promise<PeerWithTraffic[]> {
  return peersWithTraffic(db).where('user_id', '=', userId).orderBy('id').execute();
}

export function peersOnNode(db: Q, node: string, status?: PeerStatus): Promise<PeerWithTraffic[]> {
  let q = peersWithTraffic(db).where('node', '=', node);
  if (status) q = q.where('status', '=', status);
  return q.orderBy('id').execute();
}

/** What the interface and the server config need of a stored peer: no private key, nothing else. */
export type StoredWirePeer = Pick<Peer, 'id' | 'public_key' | 'preshared_key' | 'ip' | 'status'>;

/** The peers of a node as the interface needs them (the monitor reads them every tick: kept narrow). */
export function wirePeersOnNode(db: Q, node: string, status?: PeerStatus): Promise<StoredWirePeer[]> {
  let q = db.selectFrom('peers').select(['id', 'public_key', 'preshared_key', 'ip', 'status']).where('node', '=', node);
  if (status) q = q.where('status', '=', status);
  return q.orderBy('id').execute();
}

export function setPeerStatus(db: Q, id: number, from: PeerStatus, to: PeerStatus): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const res = await trx.updateTable('peers').set({ status: to }).where('id', '=', id).where('status', '=', from).executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return false;
    await resetBaselines(trx, [id]); // re-adding a peer to the interface starts its counters from zero
    return true;
  });
}

/** Deletes the peer and keeps a tombstone of its public key, both or neither; its traffic of this hour still counts in the user's usage. */
export async function deletePeer(db: Q, peer: Pick<Peer, 'id' | 'node' | 'public_key'>, now: number): Promise<void> {
  await inTransaction(db, async (trx) => {
    await flushPending(trx, { peerId: peer.id });
    await trx.deleteFrom('peers').where('id', '=', peer.id).execute();
    await trx
      .insertInto('removed_peers')
      .values({ public_key: peer.public_key, node: peer.node, removed_at: now })
      .onConflict((oc) => oc.column('public_key').doUpdateSet({ node: peer.node, removed_at: now }))
      .execute();
  });
}

/**
 * Moves a peer row to another node and address (keys kept, counters restart there) and leaves a
 * tombstone on the old node, so its reconcile removes the key there. The user's config is dead:
 * it counts as neither queued nor delivered, so a crash before the new one is queued leaves it
 * to the recovery at start. Undefined if the peer is on another node than `peer.node`. Run it
 * in a transaction that holds lockAddresses of the target node.
 */
export async function movePeerRow(trx: Q, peer: Pick<Peer, 'id' | 'node' | 'public_key'>, node: string, ip: string, now: number): Promise<Peer | undefined> {
  const moved = await trx
    .updateTable('peers')
    .set({ node, ip, config_queued_at: null, delivered_at: null })
    .where('id', '=', peer.id)
    .where('node', '=', peer.node)
    .returningAll()
    .executeTakeFirst();
  if (!moved) return undefined;
  await resetBaselines(trx, [peer.id]);
  await trx
    .insertInto('removed_peers')
    .values({ public_key: peer.public_key, node: peer.node, removed_at: now })
    .onConflict((oc) => oc.column('public_key').doUpdateSet({ node: peer.node, removed_at: now }))
    .execute();
  return moved;
}

export async function removedKeys(db: Q, node: string, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db.selectFrom('removed_peers').select('public_key').where('node', '=', node).where('public_key', 'in', keys).execute();
  return new Set(rows.map((r) => r.public_key));
}

export async function markDelivered(db: Q, id: number, now: number): Promise<void> {
  await db.updateTable('peers').set({ delivered_at: now }).where('id', '=', id).where('delivered_at', 'is', null).execute();
}

/** The peers' configs are in the outbox now; call it in the transaction that queues them. How many were not marked before. */
export async function markConfigQueued(db: Q, ids: number[], now: number): Promise<number> {
  if (ids.length === 0) return 0;
  const r = await db.updateTable('peers').set({ config_queued_at: now }).where('id', 'in', ids).where('config_queued_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Active peers of active users whose config was never queued (a crash between creating the peer and queuing it), created before `before`. */
export function unqueuedPeers(db: Q, before: number): Promise<Peer[]> {
  return db
    .selectFrom('peers')
    .innerJoin('users', 'users.id', 'peers.user_id')
    .selectAll('peers')
    .where('peers.status', '=', 'active')
    .where('users.status', '=', 'active')
    .where('peers.config_queued_at', 'is', null)
    .where('peers.created_at', '<', Math.min(before, Number.MAX_SAFE_INTEGER))
    .execute();
}

/** The user's device with this name, if any. */
export function deviceNamed(db: Q, userId: number, name: string): Promise<Peer | undefined> {
  return db.selectFrom('peers').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
}

/**
 * Inserts a peer only while its user is active and has fewer than `maxDevices` peers (active or
 * disabled). One statement, so concurrent adds (double taps, two processes) cannot pass the
 * limit together: SQLite runs each write statement alone. PostgreSQL (read committed) does not, so
 * there the user's row is locked first, in the same transaction. undefined: refused.
 */
export function insertPeerWithin(db: Q, p: NewPeer & { name: string | null }, maxDevices: number, now: number): Promise<Peer | undefined> {
  return inTransaction(db, async (trx) => {
    if (isPostgres(trx)) await sql`select 1 from users where id = ${p.user_id} for update`.execute(trx);
    const row = await sql<Peer>`
      insert into peers (user_id, node, public_key, private_key, preshared_key, ip, name, status, created_at)
      select ${p.user_id}, ${p.node}, ${p.public_key}, ${p.private_key}, ${p.preshared_key}, ${p.ip}, ${p.name}, 'active', ${now}
      where (select count(*) from peers where user_id = ${p.user_id}) < ${maxDevices}
        and exists (select 1 from users where id = ${p.user_id} and status = 'active')
      returning *`.execute(trx);
    const peer = row.rows[0];
    if (peer) await insertPeerTraffic(trx, peer.id);
    return peer;
  });
}

/**
 * Address allocations on `node` take turns from here to the end of the transaction `trx`, so no
 * address is handed out twice however many processes add peers: PostgreSQL takes an advisory lock
 * on the node; SQLite already runs one transaction at a time (one process per database file).
 */
export async function lockAddresses(trx: Q, node: string): Promise<void> {
  if (isPostgres(trx)) await lockPeerAllocation(trx, node);
}

export async function peerCountOnNode(db: Q, node: string): Promise<number> {
  const { n } = await db.selectFrom('peers').select((eb) => eb.fn.countAll<number>().as('n')).where('node', '=', node).executeTakeFirstOrThrow();
  return Number(n);
}

export async function ipInUse(db: Q, node: string, ip: string): Promise<boolean> {
  return (await db.selectFrom('peers').select('id').where('node', '=', node).where('ip', '=', ip).executeTakeFirst()) !== undefined;
}

/** One device of one user: undefined when the peer does not exist or belongs to someone else. */
export function deviceOfUser(db: Q, userId: number, peerId: number): Promise<PeerWithTraffic | undefined> {
  return peersWithTraffic(db).where('id', '=', peerId).where('user_id', '=', userId).executeTakeFirst();
}

/** taken: another device of the user has that name (names are unique per user). */
export async function renameDevice(db: Q, userId: number, peerId: number, name: string): Promise<'ok' | 'not-found' | 'taken'> {
  const same = await deviceNamed(db, userId, name);
  if (same) return same.id === peerId ? 'ok' : 'taken';
  try {
    const res = await db.updateTable('peers').set({ name }).where('id', '=', peerId).where('user_id', '=', userId).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1 ? 'ok' : 'not-found';
  } catch (e) {
    // The same name given to another device at the same moment.
    if (await deviceNamed(db, userId, name)) return 'taken';
    throw e;
  }
}

/** Display name: the chosen one, or "Device <n>" by position among the user's peers (n is 1-based). */
export function deviceLabel(peer: Pick<Peer, 'id' | 'name'>, userPeers: Pick<Peer, 'id'>[], fallback: (n: number) => string): string {
  if (peer.name) return peer.name;
  const i = userPeers.findIndex((p) => p.id === peer.id);
  return fallback(i >= 0 ? i + 1 : userPeers.length + 1);
}

/** Every active device of every active user who has not blocked the bot (a config re-sent to all). */
export function activeDevicesOfActiveUsers(db: Q): Promise<Pick<Peer, 'id' | 'user_id'>[]> {
  return db
    .selectFrom('peers')
    .innerJoin('users', 'users.id', 'peers.user_id')
    .select(['peers.id', 'peers.user_id'])
    .where('peers.status', '=', 'active')
    .where('users.status', '=', 'active')
    .where('users.blocked_at', 'is', null)
    .orderBy('peers.user_id')
    .orderBy('peers.id')
    .execute();
}

/**
 * Marks the active peers of active users delivered in (after, before] that never had a
 * handshake and were not reminded yet; returns them. One statement: call it in the transaction
 * that queues their reminders, so each peer's is queued exactly once.
 */
export function markNeverConnectedNudged(db: Q, delivered: { after: number; before: number }, now: number): Promise<Pick<Peer, 'id' | 'user_id'>[]> {
  const due = db
    .selectFrom('peers as p')
    .innerJoin('users', 'users.id', 'p.user_id')
    .innerJoin('peer_traffic', 'peer_traffic.peer_id', 'p.id')
    .select('p.id')
    .where('p.nudged_at', 'is', null)
    .where('p.delivered_at', '>', delivered.after)
    .where('p.delivered_at', '<=', delivered.before)
    .where('p.status', '=', 'active')
    .where('users.status', '=', 'active')
    .where('peer_traffic.last_handshake_at', 'is', null);
  return db.updateTable('peers').set({ nudged_at: now }).where('id', 'in', due).where('nudged_at', 'is', null).returning(['id', 'user_id']).execute();
}
