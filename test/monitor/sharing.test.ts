import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMonitor } from '../../src/monitor/index.js';
import { movedEndpoints } from '../../src/monitor/traffic.js';
import { setChatLocale } from '../../src/db/chat-locales.js';
import { findPeer } from '../../src/db/peers.js';
import type { Peer } from '../../src/db/schema.js';
import { findUser, requestAccess, transitionUser } from '../../src/db/users.js';
import { type SharingSettings, watchSharing } from '../../src/use-cases/sharing.js';
import { endpointAddress } from '../../src/vpn/dump.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import { buttons } from '../support/recorder.js';

// The shared-config check on a real migrated database (each test project's), through the monitor
// and the outbox to the Telegram stand-in; the interface is the in-memory one, whose endpoints
// the tests set. sharing-live.test.ts does the same on real tunnels.

const MINUTE = 60_000;
const WINDOW = 30 * MINUTE;

describe('endpointAddress', () => {
  it('keeps the address and drops the port, IPv4 and IPv6', () => {
    expect(endpointAddress('203.0.113.7:51820')).toBe('203.0.113.7');
    expect(endpointAddress('[2001:db8::1]:4500')).toBe('2001:db8::1');
    expect(endpointAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});

describe('shared-config check', () => {
  let h: Harness;
  let peer: Peer;
  let moveCalls: number;
  const user = { id: 4242, first_name: 'Ира <&>', username: 'ira' };

  const monitorWith = (sharing: SharingSettings) =>
    startMonitor({
      db: h.db,
      nodes: () => h.fleet.services(),
      log: h.deps.log,
      intervalMs: 3_600_000,
      now: h.deps.now,
      onEndpointMoves: async (moves, t) => {
        moveCalls++;
        await watchSharing({ db: h.db, access: h.deps.access, adminIds: h.deps.adminIds, sharing }, moves, t);
      },
    });

  /** The client at `endpoint`, then a tick a minute later, then the outbox sent. */
  const seenAt = async (monitor: ReturnType<typeof monitorWith>, endpoint: string, key = peer.public_key) => {
    h.wg.from(key, endpoint);
    h.advance(MINUTE);
    await monitor.tick();
    await h.drain();
  };
  const alertsTo = (chatId: number) => h.rec.find('sendMessage', chatId).filter((c) => /several devices|нескольких устройствах/.test(c.payload.text));

  beforeEach(async () => {
    h = await createHarness();
    moveCalls = 0;
    await requestAccess(h.db, user, 0);
    await transitionUser(h.db, user.id, 'pending', 'active', null, 0);
    h.rec.state.knowUser(user);
    peer = await h.fleet.addPeer(user.id);
    await setChatLocale(h.db, ADMIN_B.id, 'ru');
  });
  afterEach(() => h.close());

  it('a peer going back to an address it left is reported once to every admin, with the addresses and Disable; later flips are the same incident', async () => {
    const monitor = monitorWith({ action: 'alert', windowMs: WINDOW });
    await seenAt(monitor, '198.51.100.10:40000');
    await seenAt(monitor, '203.0.113.20:50000');
    expect(alertsTo(ADMIN_A.id)).toHaveLength(0); // one move is roaming
    await seenAt(monitor, '198.51.100.10:40001');
    for (const admin of [ADMIN_A, ADMIN_B]) {
      const alerts = alertsTo(admin.id);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.payload.text).toContain('198.51.100.10, 203.0.113.20');
      expect(alerts[0]!.payload.text).toContain('Ира &lt;&amp;&gt;');
      expect(buttons(alerts[0])).toEqual([expect.objectContaining({ callback_data: `dis:${user.id}` })]);
    }
    expect(alertsTo(ADMIN_B.id)[0]!.payload.text).toContain('Один конфиг');
    for (let i = 0; i < 4; i++) await seenAt(monitor, i % 2 ? '198.51.100.10:40002' : '203.0.113.20:50001');
    expect(alertsTo(ADMIN_A.id)).toHaveLength(1);
    // A whole window without a return ends the incident: the next one is reported again.
    h.advance(WINDOW);
    await seenAt(monitor, '192.0.2.30:1000');
    await seenAt(monitor, '203.0.113.40:2000');
    expect(alertsTo(ADMIN_A.id)).toHaveLength(1);
    await seenAt(monitor, '192.0.2.30:1001');
    expect(alertsTo(ADMIN_A.id)).toHaveLength(2);
    // The address left at the start of the new incident still counts; the one left a window ago does not.
    expect(alertsTo(ADMIN_A.id)[1]!.payload.text).toContain('198.51.100.10, 192.0.2.30, 203.0.113.40');
    expect(alertsTo(ADMIN_A.id)[1]!.payload.text).not.toContain('203.0.113.20');
    await monitor.stop();
    expect((await findUser(h.db, user.id))!.status).toBe('active');
  });

  it('a port change is not a move, one-way moves and a return after the window are not reported, and quiet ticks write nothing', async () => {
    const monitor = monitorWith({ action: 'alert', windowMs: WINDOW });
    await seenAt(monitor, '198.51.100.10:40000');
    expect(moveCalls).toBe(1);
    for (let port = 40001; port < 40005; port++) await seenAt(monitor, `198.51.100.10:${port}`);
    expect(moveCalls).toBe(1);
    await seenAt(monitor, '203.0.113.20:1');
    await seenAt(monitor, '192.0.2.30:1');
    h.advance(WINDOW);
    await seenAt(monitor, '198.51.100.10:40000'); // left 31 minutes ago
    await monitor.stop();
    expect(moveCalls).toBe(4);
    expect(alertsTo(ADMIN_A.id)).toHaveLength(0);
    // Only the window is kept.
    const rows = await h.db.selectFrom('peer_endpoints').select('address').where('peer_id', '=', peer.id).orderBy('address').execute();
    expect(rows.map((r) => r.address)).toEqual(['192.0.2.30', '198.51.100.10']);
  });

  it('peers on several devices are told apart: only the one that flips is reported', async () => {
    const other = await h.fleet.addPeer(user.id, { name: 'laptop', maxDevices: 3 });
    const monitor = monitorWith({ action: 'alert', windowMs: WINDOW });
    h.wg.from(other.public_key, '198.51.100.10:1');
    for (const e of ['198.51.100.10:40000', '203.0.113.20:50000', '198.51.100.10:40001']) await seenAt(monitor, e);
    await monitor.stop();
    const alerts = alertsTo(ADMIN_A.id);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.payload.text).toContain(peer.ip);
    expect(alerts[0]!.payload.text).not.toContain('laptop');
  });

  it('Disable disables the user, all devices off the interface; pressed again it says so', async () => {
    const monitor = monitorWith({ action: 'alert', windowMs: WINDOW });
    for (const e of ['198.51.100.10:40000', '203.0.113.20:50000', '198.51.100.10:40001']) await seenAt(monitor, e);
    const alert = alertsTo(ADMIN_A.id)[0]!;
    await h.press(ADMIN_A, buttons(alert)[0]!.callback_data, alert);
    expect((await findUser(h.db, user.id))!.status).toBe('disabled');
    expect(h.wg.peers.has(peer.public_key)).toBe(false);
    expect(h.rec.textsTo(user.id).at(-1)).toMatch(/suspended/);
    const other = alertsTo(ADMIN_B.id)[0]!;
    await h.press(ADMIN_B, buttons(other)[0]!.callback_data, other);
    expect(h.rec.last('answerCallbackQuery')!.payload).toMatchObject({ show_alert: true, text: expect.stringMatching(/disabled|отключён/) });
    await h.press(ADMIN_A, buttons(alert)[0]!.callback_data, alert);
    expect(h.rec.last('answerCallbackQuery')!.payload).toMatchObject({ show_alert: true, text: 'Already handled: the user is disabled.' });
    await monitor.stop();
  });

  it('SHARING_ACTION=disable disables the user at once and the alert says so, without a button', async () => {
    const monitor = monitorWith({ action: 'disable', windowMs: WINDOW });
    for (const e of ['198.51.100.10:40000', '203.0.113.20:50000']) await seenAt(monitor, e);
    expect((await findUser(h.db, user.id))!.status).toBe('active');
    await seenAt(monitor, '198.51.100.10:40001');
    await monitor.stop();
    expect((await findUser(h.db, user.id))!.status).toBe('disabled');
    expect((await findPeer(h.db, peer.id))!.status).toBe('disabled');
    expect(h.wg.peers.has(peer.public_key)).toBe(false);
    for (const admin of [ADMIN_A, ADMIN_B]) {
      const alerts = alertsTo(admin.id);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.payload.text).toMatch(/The bot disabled the user|Бот отключил пользователя/);
      expect(buttons(alerts[0])).toEqual([]);
    }
    const audit = await h.db.selectFrom('audit_log').select(['action', 'actor_id']).where('user_id', '=', user.id).where('action', '=', 'disable').execute();
    expect(audit).toEqual([{ action: 'disable', actor_id: null }]);
  });

  it('movedEndpoints: only active peers whose address differs from the stored one', () => {
    const baselines = new Map([
      ['k1', { id: 1, public_key: 'k1', rx_last: 0, tx_last: 0, last_handshake_at: null, endpoint: '198.51.100.10' }],
      ['k2', { id: 2, public_key: 'k2', rx_last: 0, tx_last: 0, last_handshake_at: null, endpoint: null }],
      ['k3', { id: 3, public_key: 'k3', rx_last: 0, tx_last: 0, last_handshake_at: null, endpoint: '192.0.2.1' }],
    ]);
    const line = (publicKey: string, endpoint: string | null) => ({ publicKey, presharedKey: null, endpoint, allowedIps: [], latestHandshake: null, rx: 0, tx: 0, keepalive: null });
    const dump = { iface: { privateKey: '', publicKey: '', listenPort: 1, fwmark: 'off', extra: [] }, peers: [line('k1', '198.51.100.10:9'), line('k2', '[2001:db8::5]:7'), line('k3', null), line('k4', '192.0.2.9:1')] };
    expect(movedEndpoints(baselines, dump)).toEqual([{ id: 2, address: '2001:db8::5', previous: null }]);
  });
});
