import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMonitor } from '../../src/monitor/index.js';
import { findUser, requestAccess, transitionUser } from '../../src/db/users.js';
import { currentImitationValues } from '../../src/use-cases/imitation.js';
import { type SharingSettings, watchSharing } from '../../src/use-cases/sharing.js';
import { endpointAddress } from '../../src/vpn/dump.js';
import { gatedVariants } from '../support/e2e.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import { labServerRunner } from '../support/lab-runner.js';
import { flavorTools, type LabLink, NetnsLab, realPartsGate, run } from '../support/netns.js';
import { buttons } from '../support/recorder.js';

// One config on two devices, for real: the bot (in-process, with the Telegram stand-in) runs a
// real interface in the lab's server namespace; two client namespaces with different addresses
// bring up the same config and ping the server in turn, so the server's endpoint for that peer
// flips between them; the monitor ticks by hand. The harness tests (sharing.test.ts) cover the
// rules in detail; here the real dumps must trigger them.

const variants = await gatedVariants(await realPartsGate());
const MINUTE = 60_000;
const SERVER_TUNNEL_IP = '10.8.0.1';

for (const variant of variants) describe.skipIf(!variant.ready)(`shared config on real tunnels (${variant.name})`, () => {
  const { tool } = flavorTools(variant.flavor);
  let lab: NetnsLab;
  let h: Harness;
  let nsB: string;
  let linkB: LabLink;
  let serverIf: string;
  let nextUser = 7100;

  beforeAll(async () => {
    lab = await NetnsLab.create();
    try {
      nsB = await lab.addNamespace('B');
      linkB = await lab.link(lab.serverNs, nsB);
      // The second device reaches the same server address as the first, from an address of its own.
      await lab.exec(nsB, ['ip', 'route', 'add', `${lab.serverIp}/32`, 'via', linkB.aIp]);
      serverIf = `avsh${lab.suffix}`;
      h = await createHarness({ flavor: variant.flavor, ...(variant.flavor === 'amneziawg' ? { awgProtocol: variant.awgProtocol } : {}), runner: labServerRunner(lab, variant.flavor, serverIf) });
    } catch (e) {
      await lab.cleanup();
      throw e;
    }
  }, 90_000);

  afterAll(async () => {
    await h?.close();
    await lab?.cleanup();
  }, 60_000);

  const monitorWith = (sharing: SharingSettings) =>
    startMonitor({
      db: h.db,
      nodes: () => h.fleet.services(),
      log: h.deps.log,
      intervalMs: 3_600_000,
      now: h.deps.now,
      onEndpointMoves: (moves, t) => watchSharing({ db: h.db, access: h.deps.access, adminIds: h.deps.adminIds, sharing }, moves, t).then(() => undefined),
    });

  /** An active user with one device; its config as the bot hands it out, pointed at the lab's server, without keepalives (only the pings move the endpoint). */
  async function sharedConfig() {
    const user = { id: nextUser++, first_name: 'Shared', username: 'shared' };
    await requestAccess(h.db, user, 0);
    await transitionUser(h.db, user.id, 'pending', 'active', null, 0);
    h.rec.state.knowUser(user);
    const peer = await h.fleet.addPeer(user.id);
    const conf = h.fleet
      .clientConfig(peer, variant.flavor === 'amneziawg' ? await currentImitationValues(h.db) : {})
      .replace(/^Endpoint = .*$/m, `Endpoint = ${lab.serverIp}:51820`)
      .replace(/^AllowedIPs = .*$/m, `AllowedIPs = ${SERVER_TUNNEL_IP}/32`)
      .replace(/^PersistentKeepalive = .*\n/m, '');
    return { user, peer, conf };
  }

  const endpointOf = async (key: string): Promise<string | undefined> => {
    const { stdout } = await run([tool, 'show', serverIf, 'endpoints']);
    return stdout.split('\n').map((l) => l.split('\t')).find(([k]) => k === key)?.[1];
  };

  /** Pings from `ns` until the server sees the peer at `address` (and `port`, if given). */
  async function speak(ns: string, key: string, address: string, port?: number): Promise<void> {
    const deadline = Date.now() + 40_000;
    for (;;) {
      await lab.exec(ns, ['ping', '-n', '-q', '-c', '1', '-W', '1', SERVER_TUNNEL_IP], { timeoutMs: 5000 }).catch(() => undefined);
      const e = await endpointOf(key);
      if (e && endpointAddress(e) === address && (port === undefined || e.endsWith(`:${port}`))) return;
      if (Date.now() > deadline) throw new Error(`the server never saw ${key} at ${address}${port ? `:${port}` : ''} (last: ${e})`);
    }
  }

  const tick = async (monitor: ReturnType<typeof monitorWith>) => {
    h.advance(MINUTE);
    await monitor.tick();
    await h.drain();
  };
  const alertsAbout = (chatId: number, userId: number) => h.rec.find('sendMessage', chatId).filter((c) => /several devices/.test(c.payload.text) && c.payload.text.includes(`<code>${userId}</code>`));

  it('both devices in turn: one alert to each admin with both addresses and Disable, not repeated; Disable takes the peer off the interface', async () => {
    const { user, peer, conf } = await sharedConfig();
    const [ifA, ifB] = [`ava${lab.suffix}`, `avb${lab.suffix}`];
    await lab.bringUpClient(variant.flavor, conf, ifA);
    await lab.wgQuickUp(variant.flavor, nsB, conf, ifB);
    const monitor = monitorWith({ action: 'alert', windowMs: 30 * MINUTE });
    const devices = [
      { ns: lab.clientNs, address: lab.clientIp },
      { ns: nsB, address: linkB.bIp },
    ];
    for (let i = 0; i < 6; i++) {
      const d = devices[i % 2]!;
      await speak(d.ns, peer.public_key, d.address);
      await tick(monitor);
    }
    await monitor.stop();
    for (const admin of [ADMIN_A, ADMIN_B]) {
      const alerts = alertsAbout(admin.id, user.id);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.payload.text).toContain(lab.clientIp);
      expect(alerts[0]!.payload.text).toContain(linkB.bIp);
      expect(buttons(alerts[0])).toEqual([expect.objectContaining({ callback_data: `dis:${user.id}` })]);
    }
    const alert = alertsAbout(ADMIN_A.id, user.id)[0]!;
    await h.press(ADMIN_A, buttons(alert)[0]!.callback_data, alert);
    expect((await findUser(h.db, user.id))!.status).toBe('disabled');
    expect(await endpointOf(peer.public_key)).toBeUndefined();
    expect(await lab.ping(lab.clientNs, SERVER_TUNNEL_IP, 2)).toBe(false);
    await h.press(ADMIN_A, buttons(alert)[0]!.callback_data, alert);
    expect(h.rec.last('answerCallbackQuery')!.payload).toMatchObject({ show_alert: true, text: 'Already handled: the user is disabled.' });
    await lab.wgQuickDown(lab.clientNs, ifA);
    await lab.wgQuickDown(nsB, ifB);
  }, 240_000);

  it('one device whose port changes (NAT rebinding) is not reported', async () => {
    const { user, peer, conf } = await sharedConfig();
    const ifC = `avc${lab.suffix}`;
    await lab.bringUpClient(variant.flavor, conf, ifC);
    const monitor = monitorWith({ action: 'alert', windowMs: 30 * MINUTE });
    await speak(lab.clientNs, peer.public_key, lab.clientIp);
    await tick(monitor);
    const ports = new Set([(await endpointOf(peer.public_key))!]);
    // Back and forth between ports: counted by ip:port it would be a return, so an alert.
    for (const port of [41001, 41002, 41001, 41002]) {
      await lab.exec(lab.clientNs, [tool, 'set', ifC, 'listen-port', String(port)]);
      await speak(lab.clientNs, peer.public_key, lab.clientIp, port);
      ports.add((await endpointOf(peer.public_key))!);
      await tick(monitor);
    }
    await monitor.stop();
    expect(ports.size).toBe(3); // the server did see it move
    expect(alertsAbout(ADMIN_A.id, user.id)).toEqual([]);
    expect((await findUser(h.db, user.id))!.status).toBe('active');
    await lab.wgQuickDown(lab.clientNs, ifC);
  }, 240_000);

  it('SHARING_ACTION=disable: the user is disabled at once, the peer leaves the interface, and the alert says so', async () => {
    const { user, peer, conf } = await sharedConfig();
    const [ifA, ifB] = [`avd${lab.suffix}`, `ave${lab.suffix}`];
    await lab.bringUpClient(variant.flavor, conf, ifA);
    await lab.wgQuickUp(variant.flavor, nsB, conf, ifB);
    const monitor = monitorWith({ action: 'disable', windowMs: 30 * MINUTE });
    const devices = [
      { ns: lab.clientNs, address: lab.clientIp },
      { ns: nsB, address: linkB.bIp },
    ];
    for (let i = 0; i < 6 && (await findUser(h.db, user.id))!.status === 'active'; i++) {
      const d = devices[i % 2]!;
      await speak(d.ns, peer.public_key, d.address);
      await tick(monitor);
    }
    await monitor.stop();
    expect((await findUser(h.db, user.id))!.status).toBe('disabled');
    expect(await endpointOf(peer.public_key)).toBeUndefined();
    const alerts = alertsAbout(ADMIN_A.id, user.id);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.payload.text).toContain('The bot disabled the user');
    expect(alerts[0]!.payload.text).toContain(linkB.bIp);
    expect(buttons(alerts[0])).toEqual([]);
    await lab.wgQuickDown(lab.clientNs, ifA);
    await lab.wgQuickDown(nsB, ifB);
  }, 240_000);
});
