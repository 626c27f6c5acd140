import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { deletePeer, setPeerStatus } from '../../src/db/peers.js';
import type { Peer } from '../../src/db/schema.js';
import { setUserSpeed } from '../../src/db/speeds.js';
import { requestAccess } from '../../src/db/users.js';
import { changeSpeed } from '../../src/use-cases/speed.js';
import type { Fleet } from '../../src/vpn/fleet.js';
import { serverAddress } from '../../src/vpn/pool.js';
import { createRunner } from '../../src/vpn/runner.js';
import { classMinor, ifbName } from '../../src/vpn/shaper.js';
import type { VpnService } from '../../src/vpn/service.js';
import type { VpnFlavor, VpnSettings } from '../../src/vpn/types.js';
import { amneziawgGate } from '../support/amneziawg.js';
import { defaultTestDatabase, openTestDatabase } from '../support/database.js';
import { singleNodeFleet } from '../support/harness.js';
import { gateOn, NetnsLab, onPath, realPartsGate, run } from '../support/netns.js';

// Speed limits on real tunnels: the bot's node runs in this (root) namespace with the local runner,
// two clients in namespaces of their own, each over its own veth. One client has DEFAULT_SPEED_MBIT
// (8 down / 4 up), the other is set to unlimited; iperf3 measures a real TCP transfer through the
// tunnel both ways. Then: the shaping comes back from the database after a flush, follows a change
// of speed at once, and goes with a disabled or deleted peer.

const tools = ['iperf3', 'tc'].filter((b) => !onPath(b));
const real = (await realPartsGate()) && gateOn({ ok: tools.length === 0, missing: tools });
const awg = real && (await amneziawgGate());

const DEFAULT = { downKbit: 8000, upKbit: 4000 };
const ADMIN = { id: 1, name: 'admin' };
const log = pino({ level: 'silent' });

/** Mbit/s that the receiving side of a 3 s iperf3 run saw (the first second left out: TCP's ramp). */
async function measure(ns: string | null, server: string, port: number, download: boolean): Promise<number> {
  const argv = ['iperf3', '-c', server, '-p', String(port), '-t', '3', '-O', '1', '-J', ...(download ? ['-R'] : [])];
  const { stdout } = await run(ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv, { timeoutMs: 30_000 });
  const report = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
  return report.end.sum_received.bits_per_second / 1e6;
}

const tc = async (...argv: string[]) => (await run(['tc', ...argv])).stdout;

for (const flavor of ['wireguard', 'amneziawg'] as VpnFlavor[]) {
  describe.skipIf(!(flavor === 'wireguard' ? real : awg))(`speed limits with tc on a real ${flavor} node (local runner)`, () => {
    let lab: NetnsLab;
    let db: Db;
    let closeDb: (() => Promise<void>) | undefined;
    let fleet: Fleet;
    let vpn: VpnService;
    let settings: VpnSettings;
    let iperf: ChildProcess | undefined;
    const iperfPort = 20_000 + randomInt(20_000);
    const clients: { ns: string; peer: Peer }[] = [];

    const minorHex = (p: Peer) => classMinor(settings.subnet, p.ip)!.toString(16);
    const classes = async (dev: string) => tc('class', 'show', 'dev', dev);

    beforeAll(async () => {
      lab = await NetnsLab.create();
      const iface = `avsp${lab.suffix}`;
      lab.trackInterface(iface);
      const subnet = `10.${150 + randomInt(40)}.${randomInt(256)}.0/24`;
      const port = 40_000 + randomInt(20_000);
      settings = {
        node: iface,
        flavor,
        iface,
        configDir: path.join(lab.tmpDir, 'conf'),
        endpoint: `127.0.0.1:${port}`,
        port,
        subnet,
        dns: [],
        allowedIps: [subnet],
        awgProtocol: 1,
        defaultSpeed: DEFAULT,
      };
      ({ db, close: closeDb } = await openTestDatabase(lab.tmpDir));
      for (const id of [10, 20]) await requestAccess(db, { id, first_name: `u${id}` }, 0);
      await setUserSpeed(db, 20, { speed_down_kbit: 0, speed_up_kbit: 0 }); // unlimited whatever the default
      const runner = createRunner(flavor, { logDir: path.join(lab.tmpDir, 'logs'), secretsDir: path.join(lab.tmpDir, 'run') });
      fleet = await singleNodeFleet(db, runner, settings, log);
      await fleet.start();
      vpn = fleet.node(iface);
      for (const [userId, ns] of [
        [10, lab.clientNs],
        [20, await lab.addNamespace('cu')],
      ] as const) {
        const peer = await vpn.addPeer(userId);
        const link = await lab.link(null, ns);
        const conf = vpn.clientConfig(peer, {}).replace(/^Endpoint = .*$/m, `Endpoint = ${link.aIp}:${port}`);
        await lab.wgQuickUp(flavor, ns, conf, `avc${userId}${lab.suffix}`);
        clients.push({ ns, peer });
      }
      iperf = spawn('iperf3', ['-s', '-B', serverAddress(subnet), '-p', String(iperfPort)], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 500));
    }, 90_000);

    afterAll(async () => {
      iperf?.kill('SIGKILL');
      await closeDb?.();
      // The node's interface and IFB device live in this namespace: the lab would not remove them.
      for (const dev of settings ? [settings.iface, ifbName(settings.iface)] : []) {
        if (fs.existsSync(`/sys/class/net/${dev}`)) await run(['ip', 'link', 'del', dev]).catch(() => {});
      }
      await lab?.cleanup();
    }, 60_000);

    // Throughput does not depend on the database: measured in the sqlite project only.
    const measured = defaultTestDatabase() === 'sqlite';

    it.runIf(measured)('the limited user gets 8 Mbit/s down and 4 up (±25 %); the unlimited one on the same interface is not slowed', async () => {
      const [limited, free] = clients as [(typeof clients)[number], (typeof clients)[number]];
      const server = serverAddress(settings.subnet);
      expect(await lab.ping(limited.ns, server)).toBe(true);
      expect(await lab.ping(free.ns, server)).toBe(true);
      const down = await measure(limited.ns, server, iperfPort, true);
      const up = await measure(limited.ns, server, iperfPort, false);
      const freeDown = await measure(free.ns, server, iperfPort, true);
      const freeUp = await measure(free.ns, server, iperfPort, false);
      console.info(`[${flavor}] limited ↓ ${down.toFixed(2)} ↑ ${up.toFixed(2)} Mbit/s; unlimited ↓ ${freeDown.toFixed(1)} ↑ ${freeUp.toFixed(1)} Mbit/s`);
      expect(down).toBeGreaterThan(8 * 0.75);
      expect(down).toBeLessThan(8 * 1.25);
      expect(up).toBeGreaterThan(4 * 0.75);
      expect(up).toBeLessThan(4 * 1.25);
      expect(freeDown).toBeGreaterThan(2 * 8);
      expect(freeUp).toBeGreaterThan(2 * 4);
    }, 60_000);

    it('rebuilt from the database at start and by the monitor tick after a flush; a change of speed is applied at once', async () => {
      const [limited, free] = clients as [(typeof clients)[number], (typeof clients)[number]];
      const ifb = ifbName(settings.iface);
      const flush = async () => {
        await tc('qdisc', 'del', 'dev', settings.iface, 'root');
        await tc('qdisc', 'del', 'dev', settings.iface, 'ingress');
        await run(['ip', 'link', 'del', ifb]);
        expect(await classes(settings.iface)).toBe('');
      };
      const limitedClass = (minor: string, mbit: number) => new RegExp(`class htb 1:${minor} root .*rate ${mbit}Mbit ceil ${mbit}Mbit`);

      await flush();
      await vpn.start();
      expect(await classes(settings.iface)).toMatch(limitedClass(minorHex(limited.peer), 8));
      expect(await classes(ifb)).toMatch(limitedClass(minorHex(limited.peer), 4));
      expect(await classes(settings.iface)).not.toContain(`1:${minorHex(free.peer)} `);

      await flush();
      await vpn.reconcile(await vpn.readDump());
      expect(await classes(settings.iface)).toMatch(limitedClass(minorHex(limited.peer), 8));
      expect(await classes(ifb)).toMatch(limitedClass(minorHex(limited.peer), 4));

      expect(await changeSpeed({ db, fleet }, 20, 20, ADMIN, 0)).toEqual({ kind: 'applied' });
      expect(await classes(settings.iface)).toMatch(limitedClass(minorHex(free.peer), 20));
      expect(await classes(ifb)).toMatch(limitedClass(minorHex(free.peer), 20));
      if (measured) {
        const twenty = await measure(free.ns, serverAddress(settings.subnet), iperfPort, true);
        expect(twenty).toBeGreaterThan(20 * 0.75);
        expect(twenty).toBeLessThan(20 * 1.25);
      }

      // Back to unlimited: the classes go; the tick after finds nothing to do.
      expect(await changeSpeed({ db, fleet }, 20, 'unlimited', ADMIN, 0)).toEqual({ kind: 'applied' });
      expect(await classes(settings.iface)).not.toContain(`1:${minorHex(free.peer)} `);
      expect(await classes(ifb)).not.toContain(`1:${minorHex(free.peer)} `);
    }, 60_000);

    it('a disabled peer loses its classes, gets them back when enabled, and a deleted one loses them for good', async () => {
      const [limited] = clients as [(typeof clients)[number]];
      const ifb = ifbName(settings.iface);
      const minor = `1:${minorHex(limited.peer)} `;
      await setPeerStatus(db, limited.peer.id, 'active', 'disabled');
      await vpn.apply(limited.peer, false);
      expect(await classes(settings.iface)).not.toContain(minor);
      expect(await classes(ifb)).not.toContain(minor);
      await setPeerStatus(db, limited.peer.id, 'disabled', 'active');
      await vpn.apply(limited.peer, true);
      expect(await classes(settings.iface)).toContain(minor);
      await deletePeer(db, limited.peer, 0);
      await vpn.apply(limited.peer, false);
      expect(await classes(settings.iface)).not.toContain(minor);
      expect(await classes(ifb)).not.toContain(minor);
      // And no tick brings them back: the database has no such peer.
      await vpn.reconcile(await vpn.readDump());
      expect(await classes(settings.iface)).not.toContain(minor);
    }, 30_000);
  });
}
