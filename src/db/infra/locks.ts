import { randomInt } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type pg from 'pg';
import { loadPg } from './pg.js';
import type { Database } from '../schema.js';

// PostgreSQL advisory locks, the only locks this app takes itself. Keys are (class, hash of the
// schema [+ name]): two bots sharing one database in different schemas never block each other.
const LEADER = 1_096_155_137;
const PEER_ALLOCATION = 1_096_155_138;
const REPLICA = 1_096_155_139;
const REPLICA_SELF = 1_096_155_140;

/**
 * Peer allocations on one interface take turns until the end of the caller's transaction
 * (pg_advisory_xact_lock: released by commit or rollback, never left behind).
 */
export async function lockPeerAllocation(trx: Kysely<Database>, node: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${sql.lit(PEER_ALLOCATION)}, hashtext(current_schema() || '/' || ${node}))`.execute(trx);
}

/**
 * The dedicated connection that holds the leader lock: not from the pool, because a session-level
 * advisory lock belongs to its connection and is released only when that connection closes.
 * Its failures surface as 'error' / 'end' events, and every query times out.
 */
export async function openLockSession(url: string, applicationName: string, timeoutMs = 10_000): Promise<pg.Client> {
  const client = new (loadPg().Client)({
    connectionString: url,
    application_name: applicationName.slice(0, 63),
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  try {
    await client.connect();
    // Over TCP, the server then notices a replica that vanished without closing its connection
    // (power loss, network cut) within about 30 s and frees the lock, instead of the OS default of hours.
    await client.query('set tcp_keepalives_idle = 10; set tcp_keepalives_interval = 5; set tcp_keepalives_count = 4');
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}

/**
 * Every replica holds a shared lock on its lock session while it lives: pg_locks then tells how
 * many replicas of this schema are alive (a dead one's lock went with its connection); and a lock
 * of its own, keyed by its id (random, 1..2^31-1), that tells which ones (liveReplicas).
 */
export async function announceReplica(session: pg.Client, replica: number): Promise<void> {
  await session.query(`select pg_advisory_lock_shared(${REPLICA}, hashtext(current_schema())), pg_advisory_lock(${REPLICA_SELF}, $1::int)`, [replica]);
}

/** This process among the replicas: its id, and the ids of the other replicas alive now (its own may be among them). */
export interface Replica {
  id: number;
  alive(): Promise<number[]>;
}

/** A new replica id; with SQLite (one process) nobody else is ever alive. */
export function thisReplica(db: Kysely<Database>, kind: 'sqlite' | 'postgres'): Replica {
  return { id: randomInt(1, 2 ** 31 - 1), alive: kind === 'sqlite' ? async () => [] : () => liveReplicas(db) };
}

/** The only process on its database: whatever another id claimed was left by an earlier run. */
export function soleReplica(): Replica {
  return { id: randomInt(1, 2 ** 31 - 1), alive: async () => [] };
}

/** The ids of the replicas alive now (see announceReplica); of any schema, but ids are random. */
export async function liveReplicas(db: Kysely<Database>): Promise<number[]> {
  const r = await sql<{ id: string }>`
    select objid::bigint as id from pg_locks
    where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
      and classid = ${sql.lit(REPLICA_SELF)} and objsubid = 2`.execute(db);
  return r.rows.map((row) => Number(row.id));
}

/** Replicas of the schema `db` works in that are alive (see announceReplica). */
export async function replicasAlive(db: Kysely<Database>): Promise<number> {
  const r = await sql<{ n: number }>`
    select count(*) as n from pg_locks
    where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
      and classid = ${sql.lit(REPLICA)} and objid = hashtext(current_schema())::oid and objsubid = 2`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** Takes the leader lock for this session if nobody holds it; never waits. */
export async function tryLeaderLock(session: pg.Client): Promise<boolean> {
  const r = await session.query<{ ok: boolean }>(`select pg_try_advisory_lock(${LEADER}, hashtext(current_schema())) as ok`);
  return r.rows[0]?.ok === true;
}

/** Whether this session still holds the leader lock (false after e.g. pg_advisory_unlock_all by hand). */
export async function holdsLeaderLock(session: pg.Client): Promise<boolean> {
  const r = await session.query<{ ok: boolean }>(
    `select exists (select 1 from pg_locks where locktype = 'advisory' and granted and pid = pg_backend_pid()
       and classid = ${LEADER} and objid = hashtext(current_schema())::oid and objsubid = 2) as ok`,
  );
  return r.rows[0]?.ok === true;
}

/** application_name of the session holding the leader lock of the schema `db` works in, if any (ops and tests). */
export async function leaderLockHolder(db: Kysely<Database>): Promise<string | null> {
  const r = await sql<{ name: string }>`
    select a.application_name as name from pg_locks l join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
      and l.classid = ${sql.lit(LEADER)} and l.objid = hashtext(current_schema())::oid and l.objsubid = 2`.execute(db);
  return r.rows[0]?.name ?? null;
}
