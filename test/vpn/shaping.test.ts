import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { deletePeer, setPeerStatus } from '../../src/db/peers.js';
import { setUserSpeed } from '../../src/db/speeds.js';
import { requestAccess } from '../../src/db/users.js';
import { changeSpeed } from '../../src/use-cases/speed.js';
import type { Fleet } from '../../src/vpn/fleet.js';
import type { VpnService } from '../../src/vpn/service.js';
import type { VpnSettings } from '../../src/vpn/types.js';
import { openTestDatabase } from '../support/database.js';
import { FakeWg } from '../support/fake-wg.js';
import { singleNodeFleet } from '../support/harness.js';

// How the node's shaping follows the database (the commands themselves: shaper.test.ts; on real
// tunnels: speed-live.test.ts). The in-memory node answers `tc qdisc show` from what it was sent.

const log = pino({ level: 'silent' });
const ADMIN = { id: 1, name: 'admin' };

describe('speed limits follow the database (real database, in-memory node)', () => {
  let dir: string;
  let db: Db;
  let closeDb: () => Promise<void>;
  let wg: FakeWg;
  let fleet: Fleet;
  let vpn: VpnService;
  const settings = (over: Partial<VpnSettings> = {}): VpnSettings => ({
    flavor: 'wireguard',
    node: 'wg0',
    iface: 'wg0',
    configDir: path.join(dir, 'conf'),
    endpoint: 'vpn.example.com:51820',
    port: 51820,
    subnet: '10.8.0.0/24',
    dns: [],
    allowedIps: ['0.0.0.0/0'],
    awgProtocol: 1,
    ...over,
  });
  const start = async (over: Partial<VpnSettings> = {}) => {
    fleet = await singleNodeFleet(db, wg, settings(over), log);
    await fleet.start();
    vpn = fleet.node('wg0');
  };
  /** The tc batch lines sent since `from`. */
  const tcLines = (from = 0) => wg.shaped.slice(from).flatMap((s) => (s.input ?? '').split('\n').filter(Boolean));
  const tick = async () => vpn.reconcile(await vpn.readDump());

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-shaping-'));
    ({ db, close: closeDb } = await openTestDatabase(dir));
    wg = new FakeWg();
    for (const id of [10, 20]) await requestAccess(db, { id, first_name: `u${id}` }, 0);
  });
  afterEach(async () => {
    await closeDb();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('no one limited: no tc at all, at start, on a new peer or on a tick', async () => {
    await start();
    await vpn.addPeer(10);
    await tick();
    expect(wg.shaped).toEqual([]);
  });

  it('the default applies to users without their own; a limited peer builds the tree, the next one adds only its class', async () => {
    await setUserSpeed(db, 20, { speed_down_kbit: 0, speed_up_kbit: 0 });
    await start({ defaultSpeed: { downKbit: 8000, upKbit: 4000 } });
    expect(wg.shaped).toEqual([]);
    const a = await vpn.addPeer(10);
    expect(wg.ifbs).toEqual(new Set(['ifb-wg0']));
    expect(wg.htbRoots).toEqual(new Set(['wg0', 'ifb-wg0']));
    expect(tcLines()).toContain(`class replace dev wg0 parent 1: classid 1:2 htb rate 8000kbit ceil 8000kbit`);
    expect(tcLines()).toContain(`class replace dev ifb-wg0 parent 1: classid 1:2 htb rate 4000kbit ceil 4000kbit`);
    expect(a.ip).toBe('10.8.0.2');
    const before = wg.shaped.length;
    await vpn.addPeer(20); // unlimited: nothing to send
    expect(wg.shaped.length).toBe(before);
    await vpn.addPeer(10);
    expect(tcLines(before)).toEqual([
      'class replace dev wg0 parent 1: classid 1:4 htb rate 8000kbit ceil 8000kbit',
      'filter replace dev wg0 parent 1: prio 10 handle 2:4:1 protocol ip u32 ht 2:4: match ip dst 10.8.0.4/32 flowid 1:4',
      'class replace dev ifb-wg0 parent 1: classid 1:4 htb rate 4000kbit ceil 4000kbit',
      'filter replace dev ifb-wg0 parent 1: prio 10 handle 2:4:1 protocol ip u32 ht 2:4: match ip src 10.8.0.4/32 flowid 1:4',
    ]);
  });

  it('a tick in step sends only `tc qdisc show`; a change made elsewhere (another replica) is sent as a difference', async () => {
    await start({ defaultSpeed: { downKbit: 8000, upKbit: 4000 } });
    await vpn.addPeer(10);
    let before = wg.shaped.length;
    await tick();
    expect(wg.shaped.slice(before).map((s) => s.argv)).toEqual([['tc', 'qdisc', 'show']]);
    await setUserSpeed(db, 10, { speed_down_kbit: 8000, speed_up_kbit: 0 });
    before = wg.shaped.length;
    await tick();
    expect(tcLines(before)).toEqual(['filter del dev ifb-wg0 parent 1: prio 10 handle 2:2:1 protocol ip u32', 'class del dev ifb-wg0 classid 1:2']);
  });

  it('rebuilt when the qdisc is gone (flushed, interface restarted) and after a command failed', async () => {
    await start({ defaultSpeed: { downKbit: 8000, upKbit: 4000 } });
    await vpn.addPeer(10);
    wg.htbRoots.clear();
    let before = wg.shaped.length;
    await tick();
    expect(wg.htbRoots).toEqual(new Set(['wg0', 'ifb-wg0']));
    expect(tcLines(before)).toContain('class replace dev wg0 parent 1: classid 1:2 htb rate 8000kbit ceil 8000kbit');

    // A failed step does not undo the peer; the node's state is in doubt until the next tick rebuilds it.
    wg.failingShape = 'RTNETLINK answers: Invalid argument';
    const b = await vpn.addPeer(10);
    expect(b.ip).toBe('10.8.0.3');
    wg.failingShape = null;
    before = wg.shaped.length;
    await tick();
    expect(wg.shaped.slice(before).map((s) => s.argv.join(' '))).toEqual(['tc -force -batch -', 'ip link del ifb-wg0', 'ip link add ifb-wg0 type ifb', 'ip link set dev ifb-wg0 up', 'tc -batch -']);
    expect(tcLines(before)).toContain('class replace dev wg0 parent 1: classid 1:3 htb rate 8000kbit ceil 8000kbit');
  });

  it('a tick fails while tc fails, so the monitor reports it', async () => {
    await start({ defaultSpeed: { downKbit: 8000, upKbit: 4000 } });
    await vpn.addPeer(10);
    wg.failingShape = 'tc: not found';
    await expect(tick()).rejects.toThrow(/tc: not found/);
  });

  it('disable, delete, move away: the classes go; enable: they come back; all from the database at start', async () => {
    await start({ defaultSpeed: { downKbit: 8000, upKbit: 4000 } });
    const p = await vpn.addPeer(10);
    await setPeerStatus(db, p.id, 'active', 'disabled');
    let before = wg.shaped.length;
    await fleet.apply(p, false);
    expect(tcLines(before)).toEqual([
      'filter del dev wg0 parent 1: prio 10 handle 2:2:1 protocol ip u32',
      'class del dev wg0 classid 1:2',
      'filter del dev ifb-wg0 parent 1: prio 10 handle 2:2:1 protocol ip u32',
      'class del dev ifb-wg0 classid 1:2',
    ]);
    await setPeerStatus(db, p.id, 'disabled', 'active');
    before = wg.shaped.length;
    await fleet.apply(p, true);
    expect(tcLines(before)).toHaveLength(4);

    // A restart: everything removed, then built from the database.
    await start({ defaultSpeed: { downKbit: 8000, upKbit: 4000 } });
    expect(tcLines()).toContain('class replace dev wg0 parent 1: classid 1:2 htb rate 8000kbit ceil 8000kbit');

    await deletePeer(db, p, 0);
    before = wg.shaped.length;
    await fleet.apply(p, false);
    expect(tcLines(before)).toContain('class del dev wg0 classid 1:2');
    before = wg.shaped.length;
    await tick();
    expect(tcLines(before)).toEqual([]);
  });

  it("an admin's change is applied at once on the user's node; 'default' and 'unlimited' are stored apart", async () => {
    await start({ defaultSpeed: { downKbit: 8000, upKbit: 4000 } });
    await vpn.addPeer(10);
    let before = wg.shaped.length;
    expect(await changeSpeed({ db, fleet }, 10, 50, ADMIN, 0)).toEqual({ kind: 'applied' });
    expect(tcLines(before)).toContain('class replace dev wg0 parent 1: classid 1:2 htb rate 50000kbit ceil 50000kbit');
    expect(await changeSpeed({ db, fleet }, 10, 'unlimited', ADMIN, 0)).toEqual({ kind: 'applied' });
    expect(await db.selectFrom('users').select(['speed_down_kbit', 'speed_up_kbit']).where('id', '=', 10).executeTakeFirst()).toEqual({ speed_down_kbit: 0, speed_up_kbit: 0 });
    before = wg.shaped.length;
    expect(await changeSpeed({ db, fleet }, 10, 'default', ADMIN, 0)).toEqual({ kind: 'applied' });
    expect(await db.selectFrom('users').select(['speed_down_kbit', 'speed_up_kbit']).where('id', '=', 10).executeTakeFirst()).toEqual({ speed_down_kbit: null, speed_up_kbit: null });
    expect(tcLines(before)).toContain('class replace dev wg0 parent 1: classid 1:2 htb rate 8000kbit ceil 8000kbit');
    expect(await changeSpeed({ db, fleet }, 999, 5, ADMIN, 0)).toEqual({ kind: 'not-found' });
    wg.failingShape = 'RTNETLINK answers: No such device';
    const later = await changeSpeed({ db, fleet }, 10, 5, ADMIN, 0);
    expect(later.kind).toBe('applied-later');
  });
});
