import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { type Db, MIGRATIONS, migrate } from '../../src/db/index.js';
import { createDeviceRequest } from '../../src/db/device-requests.js';
import { createInvite, findInvite, holdInvite, inviteUses, redeemHeldInvite } from '../../src/db/invites.js';
import { flushWal } from '../../src/db/infra/wal.js';
import { insertServerOnce } from '../../src/db/servers.js';
import { insertPeer, insertPeerWithin, peersOfUser, peersOnNode } from '../../src/db/peers.js';
import { dailyTrafficOfUser, topUsersSince, trafficSince } from '../../src/db/stats.js';
import { dayOf, hourOf } from '../../src/db/traffic-buckets.js';
import { findUser, listUsersPage, requestAccess, searchUsers, setLimits, transitionUser, usageNow } from '../../src/db/users.js';
import { startMonitor } from '../../src/monitor/index.js';
import { tick } from '../support/traffic.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import type { Dump } from '../../src/vpn/types.js';
import { createPostgresSchema } from '../support/database.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

// The repository- and bot-level behaviour that differs most between SQLite and PostgreSQL
// (types of bigint/sum/count, serial ids, ON CONFLICT, partial indexes, real concurrency),
// against a fresh schema per test. The whole suite also runs on PostgreSQL (the vitest project
// "postgres"); this file runs in that project only.

const T0 = Date.UTC(2026, 10, 20, 10, 5);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('PostgreSQL repositories', () => {
  let db: Db;
  let drop: () => Promise<void>;
  beforeEach(async () => {
    ({ db, drop } = await createPostgresSchema());
    await migrate(db);
  });
  afterEach(async () => {
    await db.destroy();
    await drop();
  });

  async function server() {
    const k = generateKeyPair();
    await insertServerOnce(db, { node: 'awg0', private_key: k.privateKey, public_key: k.publicKey, address: '10.8.0.1/24', listen_port: 51820, awg_params: null, created_at: 0 });
  }
  async function userWithPeer(id: number, ip: string, profile: { first_name?: string; last_name?: string; username?: string } = {}) {
    await requestAccess(db, { id, first_name: profile.first_name ?? `U${id}`, last_name: profile.last_name, username: profile.username }, id);
    const p = generateKeyPair();
    return insertPeer(db, { user_id: id, node: 'awg0', public_key: p.publicKey, private_key: p.privateKey, preshared_key: 'x', ip }, 0);
  }

  it('migrations: all applied, a second run is a no-op; serial ids, numbers (not strings) for bigint, count and sum', async () => {
    await migrate(db);
    const applied = await db.selectFrom('kysely_migration' as any).select('name').orderBy('name').execute();
    expect(applied.map((r: any) => r.name)).toEqual([...MIGRATIONS]);
    await server();
    const a = await userWithPeer(5_000_000_001, '10.8.0.2');
    const b = await userWithPeer(5_000_000_002, '10.8.0.3');
    expect(typeof a.id).toBe('number');
    expect(b.id).toBe(a.id + 1);
    expect((await findUser(db, 5_000_000_001))?.id).toBe(5_000_000_001);
    const { n } = await db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(n).toBe(2);
    const { s } = await db.selectFrom('peer_traffic').select((eb) => eb.fn.sum('rx_total').as('s')).executeTakeFirstOrThrow();
    expect(s).toBe(0);
    // Check constraints, and the partial unique index of device requests.
    await expect(db.updateTable('users').set({ status: 'nonsense' as any }).execute()).rejects.toThrow(/users_status/);
    expect(await createDeviceRequest(db, 5_000_000_001, 'phone', 1)).toBeDefined();
    expect(await createDeviceRequest(db, 5_000_000_001, 'laptop', 2)).toBeUndefined();
    await expect(db.insertInto('device_requests').values({ user_id: 5_000_000_001, name: 'x', status: 'pending', created_at: 3, decided_by: null }).execute()).rejects.toThrow(/device_requests_one_pending/);
    expect(await createDeviceRequest(db, 5_000_000_002, 'phone', 4)).toBeDefined();
    // SQLite-only statements are skipped.
    await flushWal(db);
  });

  it('traffic: totals, hour and day buckets, sums over days and users', async () => {
    await server();
    const peer = await userWithPeer(1, '10.8.0.2', { first_name: 'Ann' });
    const other = await userWithPeer(2, '10.8.0.3', { first_name: 'Bob' });
    const dump = (rx: number, tx: number, rx2 = 0, tx2 = 0): Dump => ({
      iface: { privateKey: '', publicKey: '', listenPort: 51820, fwmark: 'off', extra: [] },
      peers: [
        { publicKey: peer.public_key, presharedKey: null, endpoint: null, allowedIps: ['10.8.0.2/32'], latestHandshake: 1_700_000_000, rx, tx, keepalive: null },
        { publicKey: other.public_key, presharedKey: null, endpoint: null, allowedIps: ['10.8.0.3/32'], latestHandshake: null, rx: rx2, tx: tx2, keepalive: null },
      ],
    });
    await tick(db, 'awg0', dump(100, 1000), 5, T0);
    await tick(db, 'awg0', dump(150, 1500, 7, 8), 5, T0 + 10 * 60_000);
    await tick(db, 'awg0', dump(30, 40, 7, 8), 5, T0 + DAY); // counters reset: 30/40 new
    const totals = Object.fromEntries((await peersOnNode(db, 'awg0')).map((p) => [p.user_id, [p.rx_total, p.tx_total, p.last_handshake_at]]));
    expect(totals).toEqual({ 1: [180, 1540, 1_700_000_000_000], 2: [7, 8, null] });
    // The same sums before (this hour still pending) and after the next hour's tick moved it to the buckets.
    for (const flushed of [false, true]) {
      if (flushed) await tick(db, 'awg0', dump(30, 40, 7, 8), 5, T0 + DAY + 3_600_000);
      expect(await dailyTrafficOfUser(db, 1, dayOf(T0))).toEqual([
        { day: dayOf(T0), rx: 150, tx: 1500 },
        { day: dayOf(T0 + DAY), rx: 30, tx: 40 },
      ]);
      expect(await trafficSince(db, dayOf(T0))).toEqual({ rx: 187, tx: 1548 });
      expect(await trafficSince(db, dayOf(T0 + DAY))).toEqual({ rx: 30, tx: 40 });
      expect(await trafficSince(db, dayOf(T0 + 5 * DAY))).toEqual({ rx: 0, tx: 0 });
      expect((await topUsersSince(db, dayOf(T0), 5)).map((u) => [u.id, u.first_name, u.rx, u.tx])).toEqual([
        [1, 'Ann', 180, 1540],
        [2, 'Bob', 7, 8],
      ]);
      expect(await usageNow(db, (await findUser(db, 1))!)).toBe(150 + 1500 + 30 + 40);
    }
    const hourly = await db.selectFrom('traffic_hourly').selectAll().where('peer_id', '=', peer.id).orderBy('hour').execute();
    expect(hourly).toEqual([
      { peer_id: peer.id, hour: hourOf(T0), rx: 150, tx: 1500 },
      { peer_id: peer.id, hour: hourOf(T0 + DAY), rx: 30, tx: 40 },
    ]);
  });

  it('users list: sorted by new, traffic and last seen (never seen last); search by id, @username, part of a name, with % and _ literal', async () => {
    await server();
    const a = await userWithPeer(11, '10.8.0.2', { first_name: 'Anna', last_name: 'Lee', username: 'AnnaL' });
    const b = await userWithPeer(12, '10.8.0.3', { first_name: '100%_real' });
    await requestAccess(db, { id: 13, first_name: 'Carl' }, 13); // no peer
    await db.updateTable('peer_traffic').set({ rx_total: 10, tx_total: 5, last_handshake_at: 2000 }).where('peer_id', '=', a.id).execute();
    await db.updateTable('peer_traffic').set({ rx_total: 500, tx_total: 0, last_handshake_at: 1000 }).where('peer_id', '=', b.id).execute();
    const ids = async (sort: 'new' | 'traffic' | 'seen') => (await listUsersPage(db, 0, 10, sort)).rows.map((r) => r.id);
    expect(await ids('new')).toEqual([13, 12, 11]);
    expect(await ids('traffic')).toEqual([12, 11, 13]);
    expect(await ids('seen')).toEqual([11, 12, 13]);
    const page = await listUsersPage(db, 1, 1, 'traffic');
    expect(page.total).toBe(3);
    expect(page.rows[0]).toMatchObject({ id: 11, rx_total: 10, tx_total: 5, last_handshake_at: 2000 });
    expect((await listUsersPage(db, 0, 10)).rows.find((r) => r.id === 13)).toMatchObject({ rx_total: 0, tx_total: 0, last_handshake_at: null });
    const found = async (q: string) => (await searchUsers(db, q)).map((r) => r.id);
    expect(await found('11')).toEqual([11]);
    expect(await found('@annal')).toEqual([11]);
    expect(await found('na le')).toEqual([11]);
    expect(await found('CARL')).toEqual([13]);
    expect(await found('0%_')).toEqual([12]);
    expect(await found('%')).toEqual([12]);
    expect(await found('_')).toEqual([12]);
  });

  it('invites: N uses, N+3 redeeming at once on a pool of connections: exactly N win', async () => {
    const N = 5;
    const { invite } = await createInvite(db, { createdBy: ADMIN_A.id, creatorName: 'Alice', maxUses: N, expiresAt: null, note: null }, 0);
    const users = Array.from({ length: N + 3 }, (_, i) => 6100 + i);
    for (const u of users) await holdInvite(db, u, invite.id, 1);
    const results = await Promise.all(users.map((u) => redeemHeldInvite(db, u, 0, 2, [ADMIN_A.id])));
    expect(results.filter((r) => r.kind === 'ok')).toHaveLength(N);
    expect(results.filter((r) => r.kind === 'invalid')).toHaveLength(3);
    expect((await findInvite(db, invite.id))?.uses).toBe(N);
    expect(await inviteUses(db, invite.id)).toHaveLength(N);
  });

  it('device limit holds under concurrent adds (the user row is locked first)', async () => {
    await server();
    await requestAccess(db, { id: 21, first_name: 'D' }, 0);
    expect(await transitionUser(db, 21, 'pending', 'active', null, 1)).toBe(true);
    const added = await Promise.all(
      Array.from({ length: 8 }, (_, i) => {
        const k = generateKeyPair();
        return insertPeerWithin(db, { user_id: 21, node: 'awg0', public_key: k.publicKey, private_key: k.privateKey, preshared_key: 'x', ip: `10.8.0.${10 + i}`, name: `d${i}` }, 3, 2);
      }),
    );
    expect(added.filter(Boolean)).toHaveLength(3);
    expect(await peersOfUser(db, 21)).toHaveLength(3);
    await sql`select 1`.execute(db);
  });
});

const USER: From = { id: 7001, first_name: 'Olga', username: 'olga', language_code: 'en' };

describe('PostgreSQL bot', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('start → CAPTCHA → approve → config; the schema is the harness own', async () => {
    h = await createHarness({ database: 'postgres' });
    expect(h.database).toBe('postgres');
    await h.send(USER, '/start');
    await h.solveCaptcha(USER);
    expect((await findUser(h.db, USER.id))?.status).toBe('pending');
    await h.press(ADMIN_A, `apr:${USER.id}`, h.rec.last('sendMessage', ADMIN_A.id)!);
    expect((await findUser(h.db, USER.id))?.status).toBe('active');
    const [peer] = await peersOfUser(h.db, USER.id);
    expect(peer).toMatchObject({ ip: '10.8.0.2', user_id: USER.id });
    expect(h.wg.peers.get(peer!.public_key)?.ip).toBe('10.8.0.2');
    expect(h.rec.last('sendDocument', USER.id)!.files.document!.data.toString()).toContain(`PrivateKey = ${peer!.private_key}`);
    expect(peer!.delivered_at).not.toBeNull();
    const { rows } = await sql<{ s: string }>`select current_schema() as s`.execute(h.db);
    expect(rows[0]?.s).toBe(h.pgSchema);
    // /backup explains pg_dump instead of sending a file.
    await h.send(ADMIN_A, '/backup');
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('pg_dump');
  });

  it('two admins approving at once, and double taps, create exactly one peer', async () => {
    h = await createHarness({ database: 'postgres' });
    await h.send(USER, '/start');
    await h.solveCaptcha(USER);
    await Promise.all([h.press(ADMIN_A, `apr:${USER.id}`), h.press(ADMIN_B, `apr:${USER.id}`), h.press(ADMIN_A, `apr:${USER.id}`)]);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    expect(h.wg.peers.size).toBe(1);
    expect(h.rec.find('sendDocument', USER.id)).toHaveLength(1);
  });

  it('quota: warned at 80 %, limited at 100 % (peer off, keys kept), lifted in the next period with totals kept', async () => {
    h = await createHarness({ database: 'postgres', captcha: false });
    await h.send(USER, '/start');
    await h.press(ADMIN_A, `apr:${USER.id}`);
    const key = (await peersOfUser(h.db, USER.id))[0]!.public_key;
    const monitor = startMonitor({
      db: h.db,
      nodes: () => h.fleet.services(),
      log: h.deps.log,
      intervalMs: HOUR,
      now: h.deps.now,
      afterTick: (t) => h.enforceLimits(t),
    });
    try {
      const told = (re: RegExp) => h.rec.find('sendMessage', USER.id).filter((c) => re.test(c.payload.text)).length;
      await setLimits(h.db, USER.id, { quota_bytes: 1000 });
      h.wg.traffic(key, 300, 550, 1);
      await monitor.tick();
      expect(told(/used 80%/)).toBe(1);
      h.wg.traffic(key, 100, 100, 2);
      await monitor.tick();
      await monitor.tick();
      expect((await findUser(h.db, USER.id))?.status).toBe('limited');
      expect(h.wg.peers.has(key)).toBe(false);
      expect(told(/whole traffic quota/)).toBe(1);
      h.advance(31 * DAY);
      await monitor.tick();
      expect(await findUser(h.db, USER.id)).toMatchObject({ status: 'active', usage_bytes: 0 });
      expect((await peersOfUser(h.db, USER.id))[0]).toMatchObject({ rx_total: 400, tx_total: 650 });
    } finally {
      await monitor.stop();
    }
  });
});
