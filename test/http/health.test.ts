import type { KyselyPlugin } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseChatLocale } from '../../src/db/chat-locales.js';
import { peersOfUser } from '../../src/db/peers.js';
import { requestAccess, transitionUser } from '../../src/db/users.js';
import { type DatabaseEvent, HealthWatch } from '../../src/health.js';
import { startMonitor } from '../../src/monitor/index.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';

// The database going away, as its clients see it (the real outage on PostgreSQL: test/db/outage.test.ts).
describe('health watch: the database unreachable', () => {
  let h: Harness;
  let down: Error | null;
  let told: { e: DatabaseEvent; locales: Record<number, string> }[];
  const watch = () =>
    new HealthWatch({
      db: h.db.withPlugin(failing),
      nodes: () => h.fleet.names(),
      adminIds: [ADMIN_A.id, ADMIN_B.id],
      botUp: () => true,
      intervalMs: 3_600_000,
      staleAfterMs: 3_600_000,
      onDatabase: async (e, locales) => void told.push({ e, locales: Object.fromEntries(locales) }),
      log: h.deps.log,
      now: h.deps.now,
    });
  const failing: KyselyPlugin = {
    transformQuery: (a) => {
      if (down) throw down;
      return a.node;
    },
    transformResult: async (a) => a.result,
  };
  beforeEach(async () => {
    h = await createHarness();
    down = null;
    told = [];
  });
  afterEach(() => h.close());

  it('makes /healthz 503, and the replica running the monitor tells the admins once per incident and once when it is back, in their languages', async () => {
    await chooseChatLocale(h.db, ADMIN_B.id, 'ru');
    const health = watch();
    await health.start();
    health.monitorStarted();
    await health.probe(); // the last good probe saw this replica run the monitor
    expect(health.report()).toMatchObject({ ok: true, database: 'up' });

    down = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    await health.probe();
    health.monitorStopped(); // the leader's lock went with the database
    await health.probe();
    await health.probe();
    expect(health.report()).toMatchObject({ ok: false, database: 'down', interface: 'up' });
    expect(told).toEqual([{ e: { kind: 'database-down', error: 'Error: connect ECONNREFUSED 127.0.0.1:5432' }, locales: { [ADMIN_B.id]: 'ru' } }]);

    down = null;
    await health.probe();
    await health.probe();
    expect(health.report()).toMatchObject({ ok: true, database: 'up' });
    expect(told.map((t) => t.e.kind)).toEqual(['database-down', 'database-restored']);

    // The next incident is told again; a replica that did not run the monitor tells nothing.
    down = new Error('Query read timeout');
    await health.probe();
    down = null;
    await health.probe();
    expect(told.map((t) => t.e.kind)).toEqual(['database-down', 'database-restored']);
    await health.stop();

    const leader = watch();
    await leader.start();
    leader.monitorStarted();
    await leader.probe();
    down = new Error('Query read timeout');
    await leader.probe();
    down = null;
    await leader.probe();
    await leader.stop();
    expect(told.map((t) => t.e.kind)).toEqual(['database-down', 'database-restored', 'database-down', 'database-restored']);
  });

  it('the monitor skips its ticks meanwhile: no node is blamed, and the traffic is counted once the database is back', async () => {
    const health = watch();
    await health.start();
    const events: string[] = [];
    const marked: string[] = [];
    const monitor = startMonitor({
      db: h.db,
      nodes: () => h.fleet.services(),
      onHealth: async (node, up) => void marked.push(`${node} ${up ? 'up' : 'down'}`),
      onEvent: async (e) => void events.push(e.kind),
      databaseUp: () => health.databaseUp(),
      log: h.deps.log,
      intervalMs: 3_600_000,
    });
    await requestAccess(h.db, { id: 1, first_name: 'A' }, 0);
    await transitionUser(h.db, 1, 'pending', 'active', null, 0);
    const peer = await h.fleet.addPeer(1);
    h.wg.traffic(peer.public_key, 1000, 2000, 1_800_000_000);
    await monitor.tick();

    down = new Error('timeout exceeded when trying to connect');
    await health.probe();
    h.wg.calls.length = 0;
    for (let i = 0; i < 5; i++) {
      h.wg.traffic(peer.public_key, 10, 20, 1_800_000_000 + i);
      await monitor.tick();
    }
    expect(h.wg.calls).toEqual([]);
    down = null;
    await health.probe();
    await monitor.tick();
    await monitor.stop();
    await health.stop();
    expect(h.wg.calls.filter((c) => c.startsWith('dump'))).toHaveLength(1);
    expect({ events, marked }).toEqual({ events: [], marked: [] });
    expect((await peersOfUser(h.db, 1))[0]).toMatchObject({ rx_total: 1050, tx_total: 2100 });
  });
});
