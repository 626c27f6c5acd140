import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Db, openSqlite } from '../../src/db/index.js';
import { insertServerOnce } from '../../src/db/servers.js';
import { resetBaselines } from '../../src/db/peer-traffic.js';
import { deletePeer, insertPeer, peersOnNode } from '../../src/db/peers.js';
import { findUser, requestAccess, setLimits, transitionUser, usageNow, usersWithLimits } from '../../src/db/users.js';
import { beforeDump, recordTraffic } from '../../src/monitor/traffic.js';
import { withinLimits } from '../../src/use-cases/limits.js';
import { tick } from '../support/traffic.js';
import { dailyTrafficOfUser, trafficSince } from '../../src/db/stats.js';
import { dayOf, hourOf } from '../../src/db/traffic-buckets.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import { TransactionCounter } from '../support/tx-counter.js';
import type { Dump } from '../../src/vpn/types.js';
import { defaultTestDatabase, openTestDatabase } from '../support/database.js';

const T0 = Date.UTC(2026, 10, 20, 10, 5);

describe('traffic accounting on a real database', () => {
  let dir: string;
  let db: Db;
  let closeDb: () => Promise<void>;
  let pub: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-traffic-'));
    ({ db, close: closeDb } = await openTestDatabase(dir));
    const k = generateKeyPair();
    await insertServerOnce(db, { node: 'awg0', private_key: k.privateKey, public_key: k.publicKey, address: '10.8.0.1/24', listen_port: 51820, awg_params: null, created_at: 0 });
    await requestAccess(db, { id: 1, first_name: 'A' }, 0);
    const p = generateKeyPair();
    pub = p.publicKey;
    await insertPeer(db, { user_id: 1, node: 'awg0', public_key: pub, private_key: p.privateKey, preshared_key: 'x', ip: '10.8.0.2' }, 0);
  });
  afterEach(async () => {
    await closeDb();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const dump = (rx: number, tx: number, hs = 0): Dump => ({
    iface: { privateKey: '', publicKey: '', listenPort: 51820, fwmark: 'off', extra: [] },
    peers: [{ publicKey: pub, presharedKey: null, endpoint: null, allowedIps: ['10.8.0.2/32'], latestHandshake: hs || null, rx, tx, keepalive: null }],
  });
  const totals = async () => {
    const [p] = await peersOnNode(db, 'awg0');
    return { rx: p!.rx_total, tx: p!.tx_total, hs: p!.last_handshake_at };
  };

  it('adds deltas, and after a counter reset counts the new raw value, never losing or doubling', async () => {
    await tick(db, 'awg0', dump(100, 1000, 1700000000), 5, T0);
    await tick(db, 'awg0', dump(150, 1500), 5, T0);
    expect(await totals()).toEqual({ rx: 150, tx: 1500, hs: 1700000000_000 });
    // Same values again: nothing is double counted (e.g. a tick repeated after a crash).
    await tick(db, 'awg0', dump(150, 1500), 5, T0);
    expect(await totals()).toMatchObject({ rx: 150, tx: 1500 });
    // Interface restarted: counters start from 0.
    await tick(db, 'awg0', dump(30, 40), 5, T0);
    expect(await totals()).toMatchObject({ rx: 180, tx: 1540 });
  });

  it('a recreated interface (new ifindex) zeroes the baseline even when raw values grew past it', async () => {
    await tick(db, 'awg0', dump(100, 100), 5, T0);
    await tick(db, 'awg0', dump(500, 700), 9, T0);
    expect(await totals()).toMatchObject({ rx: 600, tx: 800 });
  });

  it('history: hourly and daily buckets add up to the totals across an interface restart, and old hours are pruned', async () => {
    await tick(db, 'awg0', dump(100, 1000), 5, T0);
    await tick(db, 'awg0', dump(150, 1500), 5, T0 + 10 * 60_000);
    // Interface recreated between ticks, with traffic on both sides of the restart.
    await tick(db, 'awg0', dump(30, 40), 6, T0 + 2 * 3_600_000);
    expect(await totals()).toMatchObject({ rx: 180, tx: 1540 });
    // The hour of 10:00 is in the buckets; the current one (12:00) is still pending, and the readers add it.
    expect(await db.selectFrom('traffic_hourly').select(['hour', 'rx', 'tx']).execute()).toEqual([{ hour: Date.UTC(2026, 10, 20, 10), rx: 150, tx: 1500 }]);
    expect(await dailyTrafficOfUser(db, 1, '2026-11-01')).toEqual([{ day: '2026-11-20', rx: 180, tx: 1540 }]);
    expect(await trafficSince(db, '2026-11-20')).toEqual({ rx: 180, tx: 1540 });
    expect(await trafficSince(db, '2026-11-21')).toEqual({ rx: 0, tx: 0 });

    // The next hour's first tick (nothing moved) moves 12:00 to the buckets; the readers give the same.
    await tick(db, 'awg0', dump(30, 40), 6, T0 + 3 * 3_600_000);
    const hourly = await db.selectFrom('traffic_hourly').select(['hour', 'rx', 'tx']).orderBy('hour').execute();
    expect(hourly).toEqual([
      { hour: Date.UTC(2026, 10, 20, 10), rx: 150, tx: 1500 },
      { hour: Date.UTC(2026, 10, 20, 12), rx: 30, tx: 40 },
    ]);
    expect(await db.selectFrom('traffic_daily').select(['day', 'rx', 'tx']).execute()).toEqual([{ day: '2026-11-20', rx: 180, tx: 1540 }]);
    expect(await db.selectFrom('peer_traffic').select(['pending_hour', 'pending_rx', 'pending_tx']).execute()).toEqual([{ pending_hour: null, pending_rx: 0, pending_tx: 0 }]);
    expect(await dailyTrafficOfUser(db, 1, '2026-11-01')).toEqual([{ day: '2026-11-20', rx: 180, tx: 1540 }]);

    await tick(db, 'awg0', dump(31, 41), 6, T0 + 15 * 86_400_000);
    await tick(db, 'awg0', dump(31, 41), 6, T0 + 15 * 86_400_000 + 3_600_000);
    expect((await db.selectFrom('traffic_hourly').select('hour').execute()).map((r) => r.hour)).toEqual([hourOf(T0 + 15 * 86_400_000)]);
    expect(await db.selectFrom('traffic_daily').select('day').orderBy('day').execute()).toEqual([{ day: '2026-11-20' }, { day: '2026-12-05' }]);
    expect(await dailyTrafficOfUser(db, 1, '2026-11-01')).toEqual([
      { day: '2026-11-20', rx: 180, tx: 1540 },
      { day: '2026-12-05', rx: 1, tx: 1 },
    ]);
  });

  it('usage: this hour counts at once for quotas and the card; a reset clears it; a deleted device still counts; a new period starts from zero', async () => {
    const resetDay = 1;
    await tick(db, 'awg0', dump(100, 1000), 5, T0, { resetDay, defaultPlan: 'month' });
    await transitionUser(db, 1, 'pending', 'active', null, T0);
    await setLimits(db, 1, { quota_bytes: 5000 });
    const user = async () => (await usersWithLimits(db)).find((u) => u.id === 1)!;
    expect((await findUser(db, 1))?.usage_bytes).toBe(0); // still pending
    expect((await user()).usage_bytes).toBe(1100);
    expect(await usageNow(db, (await findUser(db, 1))!)).toBe(1100);
    expect(withinLimits(await user(), T0).quota).toBe(true);
    await tick(db, 'awg0', dump(3100, 3000), 5, T0 + 60_000, { resetDay, defaultPlan: 'month' });
    expect(withinLimits(await user(), T0).quota).toBe(false); // 6100 bytes: over at once, not an hour later

    // An admin's reset: zero now, and still zero after the hour's traffic moves to the buckets.
    await setLimits(db, 1, { usage_bytes: 0, warned_quota: 0 });
    expect((await user()).usage_bytes).toBe(0);
    await tick(db, 'awg0', dump(3110, 3000), 5, T0 + 2 * 60_000, { resetDay, defaultPlan: 'month' });
    expect((await user()).usage_bytes).toBe(10);
    await tick(db, 'awg0', dump(3110, 3000), 5, T0 + 3_600_000, { resetDay, defaultPlan: 'month' });
    expect((await findUser(db, 1))?.usage_bytes).toBe(10);
    // The history kept every byte, reset or not.
    expect(await trafficSince(db, '2026-11-20')).toEqual({ rx: 3110, tx: 3000 });

    // A device deleted mid-hour: its bytes of the hour stay in the user's usage.
    await tick(db, 'awg0', dump(3210, 3000), 5, T0 + 3_600_000 + 60_000, { resetDay, defaultPlan: 'month' });
    expect((await user()).usage_bytes).toBe(110);
    const [peer] = await peersOnNode(db, 'awg0');
    await deletePeer(db, peer!, T0);
    expect((await user()).usage_bytes).toBe(110);
    expect((await findUser(db, 1))?.usage_bytes).toBe(110);

    // The first tick of the next period: zero again.
    await tick(db, 'awg0', dump(0, 0), 5, Date.UTC(2026, 11, 1, 0, 1), { resetDay, defaultPlan: 'month' });
    expect((await user()).usage_bytes).toBe(0);
  });

  it('a peer re-added between the read of its baseline and the write is counted against the baseline in the row, never twice', async () => {
    await tick(db, 'awg0', dump(10, 10), 5, T0);
    const stale = await beforeDump(db, 'awg0');
    const [peer] = await peersOnNode(db, 'awg0');
    await resetBaselines(db, [peer!.id]); // re-added meanwhile: its counters restart from zero
    // 20/30 since the restart. Against the stale baseline (10/10) that would be 10/20.
    expect(await recordTraffic(db, 'awg0', dump(20, 30), stale, 5, T0 + 60_000)).toBe(1);
    expect(await totals()).toMatchObject({ rx: 30, tx: 40 });
    expect(await tick(db, 'awg0', dump(20, 30), 5, T0 + 2 * 60_000)).toBe(0);
    expect(await tick(db, 'awg0', dump(25, 30), 5, T0 + 3 * 60_000)).toBe(1);
    expect(await totals()).toMatchObject({ rx: 35, tx: 40 });
  });

  // SQLite's statement log counts the transactions; the PostgreSQL statements run in every monitor test of the postgres project.
  it.skipIf(defaultTestDatabase() === 'postgres')('a big tick (1,301 moved peers of 651 users) writes every peer, bucket and user usage, in one transaction', async () => {
    const tx = new TransactionCounter();
    const logged = await openSqlite(path.join(dir, 'bot.db'), { log: tx.log });
    try {
      // 1,300 more peers, two per user.
      const peers: { id: number; userId: number; publicKey: string }[] = [];
      await logged.transaction().execute(async (trx) => {
        for (let i = 0; i < 1300; i++) {
          const userId = 100 + Math.floor(i / 2);
          if (i % 2 === 0) await requestAccess(trx, { id: userId, first_name: `U${userId}` }, 0);
          const k = generateKeyPair();
          const p = await insertPeer(trx, { user_id: userId, node: 'awg0', public_key: k.publicKey, private_key: k.privateKey, preshared_key: 'x', ip: `10.9.${i >> 8}.${i & 255}` }, 0);
          peers.push({ id: p.id, userId, publicKey: k.publicKey });
        }
      });
      const big: Dump = { ...dump(0, 0), peers: peers.map((p, i) => ({ ...dump(0, 0).peers[0]!, publicKey: p.publicKey, rx: i + 1, tx: 2 * (i + 1), latestHandshake: 1700000000 + i })) };
      tx.reset();
      expect(await tick(logged, 'awg0', big, 5, T0)).toBe(1300);
      expect(tx).toMatchObject({ begins: 1, loneWrites: 0 });
      expect(await trafficSince(logged, dayOf(T0))).toEqual({ rx: (1300 * 1301) / 2, tx: 1300 * 1301 });
      // The next hour's first tick moves it all to the buckets and usage, in one transaction too.
      tx.reset();
      expect(await tick(logged, 'awg0', big, 5, T0 + 3_600_000)).toBe(0);
      expect(tx).toMatchObject({ begins: 1, loneWrites: 0 });

      const stored = await logged.selectFrom('peers').innerJoin('peer_traffic', 'peer_traffic.peer_id', 'peers.id').select(['public_key', 'rx_total', 'tx_total', 'rx_last', 'last_handshake_at']).execute();
      const rows = new Map(stored.map((p) => [p.public_key, p]));
      peers.forEach((p, i) => expect(rows.get(p.publicKey), `peer ${i}`).toMatchObject({ rx_total: i + 1, tx_total: 2 * (i + 1), rx_last: i + 1, last_handshake_at: (1700000000 + i) * 1000 }));
      const sum = (k: 'rx' | 'tx', table: 'traffic_hourly' | 'traffic_daily') => logged.selectFrom(table).select((eb) => eb.fn.sum<number>(k).as('s')).executeTakeFirstOrThrow();
      const rx = (1300 * 1301) / 2;
      for (const table of ['traffic_hourly', 'traffic_daily'] as const) {
        expect(Number((await sum('rx', table)).s)).toBe(rx);
        expect(Number((await sum('tx', table)).s)).toBe(2 * rx);
      }
      // User 100 has peers 0 and 1: (1 + 2) + (2 + 4) bytes.
      expect((await findUser(logged, 100))?.usage_bytes).toBe(9);
      expect((await findUser(logged, 749))?.usage_bytes).toBe(3 * (1299 + 1300));
    } finally {
      await logged.destroy();
    }
  });
});
