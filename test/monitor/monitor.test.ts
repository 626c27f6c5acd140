import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAILING_TICKS, type MonitorEvent, startMonitor } from '../../src/monitor/index.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import { peersOfUser } from '../../src/db/peers.js';
import { requestAccess, transitionUser } from '../../src/db/users.js';
import { createHarness, type Harness } from '../support/harness.js';

describe('monitor loop', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(() => h.close());

  it('reads the dump once per tick, never runs two ticks at once, and stop() waits for the running one', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let dumps = 0;
    const realDump = h.wg.dump.bind(h.wg);
    h.wg.dump = async (iface) => {
      dumps++;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      return realDump(iface);
    };
    const monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: 10 });
    await Promise.all([monitor.tick(), monitor.tick(), monitor.tick()]);
    const last = monitor.tick();
    await monitor.stop();
    expect(inFlight).toBe(0);
    await last;
    expect(maxInFlight).toBe(1);
    const after = dumps;
    await new Promise((r) => setTimeout(r, 60));
    expect(dumps).toBe(after); // stopped means stopped
    expect(dumps).toBeGreaterThanOrEqual(4);
  });

  it('a failing tick is logged and the next one still runs; traffic and reconcile use the same dump', async () => {
    await requestAccess(h.db, { id: 1, first_name: 'A' }, 0);
    await transitionUser(h.db, 1, 'pending', 'active', null, 0);
    const peer = await h.fleet.addPeer(1);
    const monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: 3_600_000 });
    h.wg.failing = 'Unable to access interface: No such device';
    await monitor.tick();
    expect(h.logs.some((l) => l.msg === 'monitor tick failed' && JSON.stringify(l).includes('No such device'))).toBe(true);
    h.wg.failing = null;
    h.wg.peers.delete(peer.public_key); // lost from the interface: reconcile puts it back
    h.wg.calls.length = 0;
    await monitor.tick();
    await monitor.stop();
    expect(h.wg.calls.filter((c) => c.startsWith('dump'))).toHaveLength(1);
    expect(h.wg.peers.has(peer.public_key)).toBe(true);
    expect(await h.db.selectFrom('peer_traffic').select(['rx_last', 'tx_last']).where('peer_id', '=', peer.id).executeTakeFirst()).toEqual({ rx_last: 0, tx_last: 0 });
  });
});

describe('interface gone', () => {
  it('is brought back with every active peer, the admins hear of it once, and counted traffic is kept', async () => {
    const h = await createHarness();
    try {
      await requestAccess(h.db, { id: 1, first_name: 'A' }, 0);
      await transitionUser(h.db, 1, 'pending', 'active', null, 0);
      const peer = await h.fleet.addPeer(1);
      const events: string[] = [];
      const monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: 3_600_000, onEvent: async (e) => void events.push(e.kind) });
      h.wg.traffic(peer.public_key, 1000, 2000, 1_800_000_000);
      await monitor.tick();

      // The daemon dies: the device and its peers are gone.
      h.wg.up_ = false;
      h.wg.peers.clear();
      h.wg.failing = 'Unable to access interface: No such device';
      await monitor.tick();
      await monitor.tick();
      expect(events).toEqual(['interface-down']);
      h.wg.failing = null;
      h.wg.index = 99;
      await monitor.tick();
      expect(events).toEqual(['interface-down', 'interface-restored']);
      expect(h.wg.up_).toBe(true);
      expect(h.wg.peers.has(peer.public_key)).toBe(true);

      h.wg.traffic(peer.public_key, 10, 20, 1_800_000_100);
      await monitor.tick();
      await monitor.stop();
      expect((await peersOfUser(h.db, 1))[0]).toMatchObject({ rx_total: 1010, tx_total: 2020 });
    } finally {
      await h.close();
    }
  });
});

describe('unknown peers', () => {
  it('are reported to the admins once, and left in place', async () => {
    const h = await createHarness();
    try {
      const events: MonitorEvent[] = [];
      const monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: 3_600_000, onEvent: async (e) => void events.push(e) });
      const stranger = generateKeyPair().publicKey;
      await h.wg.setPeer('awg0', { publicKey: stranger, presharedKey: generateKeyPair().publicKey, ip: '10.8.0.50' });
      await monitor.tick();
      await monitor.tick();
      await monitor.stop();
      expect(events).toEqual([{ kind: 'unknown-peers', node: 'awg0', iface: 'awg0', keys: [stranger] }]);
      expect(h.wg.peers.has(stranger)).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('alerts', () => {
  it('a monitor failing several ticks in a row is reported once, and its recovery once', async () => {
    const h = await createHarness();
    try {
      const events: string[] = [];
      const monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: 3_600_000, onEvent: async (e) => void events.push(e.kind) });
      h.wg.failing = 'Unable to access interface: Protocol not supported';
      for (let i = 0; i < FAILING_TICKS + 3; i++) await monitor.tick();
      expect(events).toEqual(['failing']);
      h.wg.failing = null;
      await monitor.tick();
      await monitor.tick();
      expect(events).toEqual(['failing', 'recovered']);
      h.wg.failing = 'again';
      await monitor.tick(); // a single bad tick is no incident
      h.wg.failing = null;
      await monitor.tick();
      await monitor.stop();
      expect(events).toEqual(['failing', 'recovered']);
    } finally {
      await h.close();
    }
  });
});
