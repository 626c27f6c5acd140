import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { deletePeer, peersOnNode, setPeerStatus } from '../../src/db/peers.js';
import { requestAccess } from '../../src/db/users.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import { PoolExhaustedError, VpnService, type VpnSettings } from '../../src/vpn/service.js';
import { FakeWg } from '../support/fake-wg.js';
import { openTestDatabase } from '../support/database.js';

const log = pino({ level: 'silent' });

describe('VpnService (real database, in-memory interface)', () => {
  let dir: string;
  let db: Db;
  let closeDb: () => Promise<void>;
  let wg: FakeWg;
  let settings: VpnSettings;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-svc-'));
    ({ db, close: closeDb } = await openTestDatabase(dir));
    wg = new FakeWg();
    settings = {
      flavor: 'amneziawg',
      node: 'awg0',
      iface: 'awg0',
      configDir: path.join(dir, 'conf'),
      endpoint: 'vpn.example.com:51820',
      port: 51820,
      subnet: '10.8.0.0/29',
      dns: ['1.1.1.1'],
      allowedIps: ['0.0.0.0/0'],
      awgProtocol: 2,
    };
    for (let id = 1; id <= 6; id++) await requestAccess(db, { id, first_name: `u${id}` }, 0);
  });
  afterEach(async () => {
    await closeDb();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('generates server keys and parameters once, writes the config 0600 and brings the interface up only when down', async () => {
    const a = new VpnService(db, wg, settings, log);
    await a.start();
    expect(wg.calls.filter((c) => c.startsWith('up '))).toEqual([`up ${path.join(dir, 'conf', 'awg0.conf')}`]);
    const conf = await fs.readFile(a.confPath, 'utf8');
    expect(conf).toMatch(/^Address = 10\.8\.0\.1\/29$/m);
    expect(conf).toMatch(/^S3 = \d+$/m);
    expect((await fs.stat(a.confPath)).mode & 0o777).toBe(0o600);

    const b = new VpnService(db, wg, settings, log);
    await b.start();
    expect(wg.calls.filter((c) => c.startsWith('up '))).toHaveLength(1);
    expect(await fs.readFile(b.confPath, 'utf8')).toBe(conf);
  });

  it('addPeer takes the next free address; a failing wg call or config write leaves nothing behind', async () => {
    const vpn = new VpnService(db, wg, settings, log);
    await vpn.start();
    expect((await vpn.addPeer(1)).ip).toBe('10.8.0.2');
    wg.failing = 'boom';
    await expect(vpn.addPeer(2)).rejects.toThrow(/boom/);
    wg.failing = null;
    expect(await peersOnNode(db, 'awg0')).toHaveLength(1);

    // The config directory becomes unusable: the peer must not stay on the interface or in the DB.
    await fs.rm(settings.configDir, { recursive: true });
    await fs.writeFile(settings.configDir, 'not a directory');
    await expect(vpn.addPeer(2)).rejects.toThrow();
    expect(await peersOnNode(db, 'awg0')).toHaveLength(1);
    expect(wg.peers.size).toBe(1);
  });

  it('a /29 holds five clients; the sixth gets PoolExhaustedError and nothing is created', async () => {
    const vpn = new VpnService(db, wg, settings, log);
    await vpn.start();
    const ips = [];
    for (let id = 1; id <= 5; id++) ips.push((await vpn.addPeer(id)).ip);
    expect(ips).toEqual(['10.8.0.2', '10.8.0.3', '10.8.0.4', '10.8.0.5', '10.8.0.6']);
    await expect(vpn.addPeer(6)).rejects.toBeInstanceOf(PoolExhaustedError);
    expect(await peersOnNode(db, 'awg0')).toHaveLength(5);
  });

  it('reconcile adds missing peers, removes disabled and deleted ones, reports unknown ones and leaves correct ones untouched', async () => {
    const vpn = new VpnService(db, wg, settings, log);
    await vpn.start();
    const keep = await vpn.addPeer(1);
    const lost = await vpn.addPeer(2);
    const off = await vpn.addPeer(3);
    const gone = await vpn.addPeer(4);
    wg.peers.delete(lost.public_key);
    await setPeerStatus(db, off.id, 'active', 'disabled');
    await deletePeer(db, gone, 1);
    const stranger = generateKeyPair().publicKey;
    await wg.setPeer('awg0', { publicKey: stranger, presharedKey: generateKeyPair().publicKey, ip: '10.8.0.7' });
    wg.calls.length = 0;

    const r = await vpn.reconcile(await vpn.readDump());
    expect(r.added).toEqual([lost.public_key]);
    expect(r.removed.sort()).toEqual([off.public_key, gone.public_key].sort());
    expect(r.unknown).toEqual([stranger]);
    expect(wg.calls.some((c) => c.includes(keep.public_key))).toBe(false);
    expect([...wg.peers.keys()].sort()).toEqual([keep.public_key, lost.public_key, stranger].sort());

    const strict = new VpnService(db, wg, { ...settings, removeUnknown: true }, log);
    await strict.start();
    expect(wg.peers.has(stranger)).toBe(false);
  });
});
