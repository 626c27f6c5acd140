import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccessService } from '../../src/use-cases/access.js';
import { DeviceService } from '../../src/use-cases/devices.js';
import { type Db, migrate, openSqlite } from '../../src/db/index.js';
import { leaderLockHolder, liveReplicas, openLockSession, replicasAlive } from '../../src/db/infra/locks.js';
import { storeUpdates, takeOrphanedUpdates } from '../../src/db/inbox.js';
import { peersOfUser, peersOnNode } from '../../src/db/peers.js';
import { requestAccess, takeAbandonedProvisioning, transitionUser } from '../../src/db/users.js';
import { type Leadership, startLeadership } from '../../src/leader.js';
import type { VpnSettings } from '../../src/vpn/types.js';
import { FakeWg } from '../support/fake-wg.js';
import { TEST_POSTGRES_URL, createPostgresSchema, openPostgresSchema, postgresReachable } from '../support/database.js';
import { singleNodeFleet } from '../support/harness.js';

// What keeps replicas apart, on the real database: the leader lock (one leader per schema, taken
// over when the holder's connection dies) and address allocation under concurrent approvals.
// The whole thing with two real bot processes: replicas.test.ts.
const reachable = await postgresReachable();
if (!reachable && process.env.CI === 'true') throw new Error('PostgreSQL must be reachable in CI (see test/db/postgres.test.ts)');

const log = pino({ level: 'silent' });
const INTERVAL = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
  return Date.now() - started;
}

function settings(subnet: string, configDir: string): VpnSettings {
  return {
    node: 'wg0',
    flavor: 'wireguard',
    iface: 'wg0',
    configDir,
    endpoint: 'vpn.example.com:51820',
    port: 51820,
    subnet,
    dns: ['1.1.1.1'],
    allowedIps: ['0.0.0.0/0'],
    awgProtocol: 1,
  };
}

/** A replica's singleton jobs as the leader sees them: when they run, and how they were stopped. */
function jobsProbe() {
  const terms: { stopped?: boolean; stillLeading?: boolean }[] = [];
  return {
    terms,
    running: () => terms.filter((t) => !t.stopped).length,
    lead: () => {
      const t: (typeof terms)[number] = {};
      terms.push(t);
      return {
        async stop(stillLeading: boolean) {
          Object.assign(t, { stopped: true, stillLeading });
        },
      };
    },
  };
}

describe.skipIf(!reachable)('replicas on PostgreSQL', () => {
  let schema: string;
  let db: Db;
  let drop: () => Promise<void>;
  let dir: string;
  const leaderships: Leadership[] = [];
  const url = (s: string) => `${TEST_POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${s}`)}`;
  const replica = (name: string, s = schema) => {
    const probe = jobsProbe();
    const started = startLeadership({ connect: () => openLockSession(url(s), name), replica: randomInt(1, 2 ** 31 - 1), intervalMs: INTERVAL, log, lead: probe.lead }).then((l) => {
      leaderships.push(l);
      return l;
    });
    return { probe, started };
  };

  beforeEach(async () => {
    ({ schema, db, drop } = await createPostgresSchema());
    await migrate(db);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-replicas-'));
  });
  afterEach(async () => {
    for (const l of leaderships.splice(0)) await l.stop();
    await db.destroy();
    await drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('replicas alive: each live replica of the schema counts once; a stopped one no longer does; other schemas do not count', async () => {
    expect(await replicasAlive(db)).toBe(0);
    const a = await replica('replica-a').started;
    const b = await replica('replica-b').started;
    const other = await createPostgresSchema();
    try {
      await replica('elsewhere', other.schema).started;
      expect(await replicasAlive(db)).toBe(2);
      await b.stop();
      expect(await replicasAlive(db)).toBe(1);
      await a.stop();
      expect(await replicasAlive(db)).toBe(0);
    } finally {
      for (const l of leaderships.splice(0)) await l.stop();
      await other.db.destroy();
      await other.drop();
    }
  });

  it('work in hand names its replica: a dead replica\'s stored updates and approvals are taken over at once, a live one\'s never', async () => {
    const [idA, idB] = [randomInt(1, 2 ** 30), 2 ** 30 + randomInt(1, 2 ** 30)];
    const a = await startLeadership({ connect: () => openLockSession(url(schema), 'replica-a'), replica: idA, intervalMs: INTERVAL, log, lead: jobsProbe().lead });
    const b = await startLeadership({ connect: () => openLockSession(url(schema), 'replica-b'), replica: idB, intervalMs: INTERVAL, log, lead: jobsProbe().lead });
    leaderships.push(b);
    expect((await liveReplicas(db)).sort()).toEqual([idA, idB].sort());
    await storeUpdates(db, [{ update_id: 1 }, { update_id: 3 }], idA, 0);
    await storeUpdates(db, [{ update_id: 2 }], idB, 0);
    for (const id of [1, 2]) await requestAccess(db, { id, first_name: `u${id}` }, 0);
    for (const [user, by] of [[1, idA], [2, idB]] as const) await transitionUser(db, user, 'pending', 'provisioning', null, 0, by);
    // Both alive: nothing is anybody else's.
    const alive = await liveReplicas(db);
    expect(await takeOrphanedUpdates(db, idB, alive)).toEqual([]);
    expect(await takeAbandonedProvisioning(db, idB, alive)).toEqual([]);
    // A dies (its lock session ends with it): B takes A's, once.
    await a.stop();
    expect(await liveReplicas(db)).toEqual([idB]);
    const now = [idB];
    expect(await takeOrphanedUpdates(db, idB, now)).toEqual([{ update_id: 1 }, { update_id: 3 }]);
    expect((await takeAbandonedProvisioning(db, idB, now)).map((u) => u.id)).toEqual([1]);
    expect(await takeOrphanedUpdates(db, idB, now)).toEqual([]);
    expect(await takeAbandonedProvisioning(db, idB, now)).toEqual([]);
  });

  it('leader lock: one leader per schema; its connection killed → its jobs stop at once, then exactly one leads again; a clean stop hands over within one interval', async () => {
    const a = replica('replica-a');
    const la = await a.started;
    const b = replica('replica-b');
    const lb = await b.started;
    expect([la.isLeader(), lb.isLeader()]).toEqual([true, false]);
    expect(await leaderLockHolder(db)).toBe('replica-a');
    await sleep(3 * INTERVAL);
    expect([a.probe.running(), b.probe.running()]).toEqual([1, 0]);

    // Another bot in another schema of the same database has its own leader.
    const other = await createPostgresSchema();
    try {
      const c = replica('replica-c', other.schema);
      expect((await c.started).isLeader()).toBe(true);
    } finally {
      await leaderships.pop()!.stop();
      await other.db.destroy();
      await other.drop();
    }

    // The leader's connection dies (the network drops it, or the server is restarted): a stops its
    // jobs at once, since it may have lost the lock. Then whoever tries first leads (a on a new
    // connection, or b), never both.
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'replica-a'`.execute(db);
    await until('a stops its jobs', () => a.probe.running() === 0, 1000);
    expect(a.probe.terms[0]).toEqual({ stopped: true, stillLeading: false });
    await until('a leader again', () => la.isLeader() || lb.isLeader(), INTERVAL + 1000);
    for (let i = 0; i < 10; i++) {
      expect(a.probe.running() + b.probe.running()).toBe(1);
      await sleep(INTERVAL / 2);
    }
    const [first, second] = la.isLeader() ? [a, b] : [b, a];
    expect(await leaderLockHolder(db)).toBe(first === a ? 'replica-a' : 'replica-b');

    // A clean stop ends the leader's jobs while it still leads, then releases the lock: the other
    // replica leads within one interval.
    await (first === a ? la : lb).stop();
    expect(first.probe.terms.at(-1)).toEqual({ stopped: true, stillLeading: true });
    const took = await until('the other leads', () => second.probe.running() === 1, INTERVAL + 1000);
    expect(took).toBeLessThan(INTERVAL + 500);
    expect(await leaderLockHolder(db)).toBe(second === a ? 'replica-a' : 'replica-b');
  }, 20_000);

  it('allocation: 2 × 100 concurrent approvals on two replicas plus device adds → every peer its own address, the device limit kept', async () => {
    const N = 100;
    const wg = new FakeWg();
    const pools = [openPostgresSchema(schema), openPostgresSchema(schema)];
    try {
      const vpns = await Promise.all(pools.map((p) => singleNodeFleet(p, wg, settings('10.9.0.0/22', dir), log)));
      for (const v of vpns) await v.start();
      const access = pools.map((p, i) => new AccessService(p, vpns[i]!, log));
      const deviceServices = pools.map((p, i) => new DeviceService(p, vpns[i]!, log));
      for (let id = 1; id <= 2 * N + 1; id++) await requestAccess(db, { id, first_name: `u${id}` }, 0);
      // User 2N+1 is active and adds devices on both replicas at once; the limit is 3.
      await transitionUser(db, 2 * N + 1, 'pending', 'active', null, 0);
      const devices = Array.from({ length: 8 }, (_, i) => deviceServices[i % 2]!.add(2 * N + 1, `d${i}`, 3));
      // Every user approved on one replica and, for a quarter of them (users 1, 5, 9 … approved on
      // replica 0), at the same moment on the other.
      const approvals = Array.from({ length: 2 * N }, (_, i) => access[i % 2]!.approve(i + 1, { id: 1, name: 'Admin 1' }));
      const duplicates = Array.from({ length: N / 2 }, (_, i) => access[1]!.approve(i * 4 + 1, { id: 2, name: 'Admin 2' }));
      const decided = await Promise.all([...approvals, ...duplicates]);
      const added = await Promise.all(devices);

      expect(decided.filter((d) => d.kind === 'ok')).toHaveLength(2 * N);
      expect(decided.filter((d) => d.kind === 'wrong-state')).toHaveLength(N / 2);
      expect(added.filter((d) => d.kind === 'ok')).toHaveLength(3);
      expect(added.filter((d) => d.kind === 'limit')).toHaveLength(5);
      const peers = await peersOnNode(db, 'wg0');
      expect(peers).toHaveLength(2 * N + 3);
      expect(new Set(peers.map((p) => p.ip)).size).toBe(peers.length);
      for (let id = 1; id <= 2 * N; id++) expect(await peersOfUser(db, id)).toHaveLength(1);
      expect(wg.peers.size).toBe(2 * N + 3);
    } finally {
      for (const p of pools) await p.destroy();
    }
  }, 30_000);
});

describe('replicas on SQLite', () => {
  it('one process per database file: it leads at once, for good, and stops its jobs as the leader', async () => {
    const probe = jobsProbe();
    const l = await startLeadership({ replica: 1, intervalMs: INTERVAL, log, lead: probe.lead });
    expect(l.isLeader()).toBe(true);
    await sleep(2 * INTERVAL);
    expect(probe.terms).toHaveLength(1);
    await l.stop();
    expect(probe.terms[0]).toEqual({ stopped: true, stillLeading: true });
  });

  it('200 concurrent approvals in one process: every peer its own address, no retries needed', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-replicas-'));
    const db = await openSqlite(path.join(dir, 'bot.db'));
    try {
      await migrate(db);
      const wg = new FakeWg();
      const vpn = await singleNodeFleet(db, wg, settings('10.9.0.0/24', dir), log);
      await vpn.start();
      const access = new AccessService(db, vpn, log);
      for (let id = 1; id <= 200; id++) await requestAccess(db, { id, first_name: `u${id}` }, 0);
      const decided = await Promise.all(Array.from({ length: 200 }, (_, i) => access.approve(i + 1, { id: 1, name: 'Admin' })));
      expect(decided.filter((d) => d.kind === 'ok')).toHaveLength(200);
      const peers = await peersOnNode(db, 'wg0');
      expect(new Set(peers.map((p) => p.ip)).size).toBe(200);
    } finally {
      await db.destroy();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 20_000);
});
