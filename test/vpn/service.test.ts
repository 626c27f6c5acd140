import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { deletePeer, insertPeer, peersOnNode, setPeerStatus } from '../../src/db/peers.js';
import { requestAccess } from '../../src/db/users.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import { PEERS_PER_CALL } from '../../src/vpn/reconcile.js';
import { PoolExhaustedError, VpnService } from '../../src/vpn/service.js';
import type { VpnSettings } from '../../src/vpn/types.js';
import { FakeWg } from '../support/fake-wg.js';
import { openTestDatabase } from '../support/database.js';
import { singleNodeFleet } from '../support/harness.js';

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

  it('addPeer takes the next free address; a failing wg call leaves nothing behind', async () => {
    const vpn = new VpnService(db, wg, settings, log);
    await vpn.start();
    expect((await vpn.addPeer(1)).ip).toBe('10.8.0.2');
    wg.failing = 'boom';
    await expect(vpn.addPeer(2)).rejects.toThrow(/boom/);
    wg.failing = null;
    expect(await peersOnNode(db, 'awg0')).toHaveLength(1);
    expect(wg.peers.size).toBe(1);
    await vpn.flushConfig();
  });

  it('addPeer: one lookup when the addresses in use leave no gap; a gap is filled from the full list', async () => {
    const selects: string[] = [];
    const counted = db.withPlugin({
      transformQuery: ({ node }) => (node.kind === 'SelectQueryNode' && selects.push(node.kind), node),
      transformResult: async ({ result }) => result,
    });
    const vpn = new VpnService(counted, wg, settings, log);
    await vpn.start();
    const first = await vpn.addPeer(1);
    await vpn.addPeer(2);
    selects.length = 0;
    expect((await vpn.addPeer(3)).ip).toBe('10.8.0.4');
    expect(selects).toHaveLength(3); // the count and the one lookup, then the new peer's speed limit
    await deletePeer(db, first, 0);
    selects.length = 0;
    expect((await vpn.addPeer(4)).ip).toBe('10.8.0.2');
    expect(selects).toHaveLength(4); // the guess (10.8.0.4) is taken: every address read (and the speed limit)
    await vpn.flushConfig();
  });

  it('the config file follows peer changes: live at once, one rewrite for a burst, at once on flushConfig', async () => {
    const vpn = new VpnService(db, wg, { ...settings, configWriteDelayMs: 200 }, log);
    await vpn.start();
    const writes = () => wg.calls.filter((c) => c.startsWith('write ')).length;
    const before = writes();
    const peers = [await vpn.addPeer(1), await vpn.addPeer(2), await vpn.addPeer(3)];
    await vpn.apply(peers[1]!, false);
    expect(wg.peers.size).toBe(2); // every change is live when the call returns
    expect(writes()).toBe(before); // the file waits
    await new Promise((r) => setTimeout(r, 400));
    expect(writes()).toBe(before + 1); // one rewrite for the four changes, with all of them
    const conf = await fs.readFile(vpn.confPath, 'utf8');
    expect(conf).toContain(peers[0]!.public_key);
    expect(conf).toContain(peers[1]!.public_key); // apply() does not change the database: still active there
    expect(conf).toContain(peers[2]!.public_key);

    await setPeerStatus(db, peers[2]!.id, 'active', 'disabled');
    await vpn.apply(peers[2]!, false);
    await vpn.flushConfig();
    expect(writes()).toBe(before + 2);
    expect(await fs.readFile(vpn.confPath, 'utf8')).not.toContain(peers[2]!.public_key);
    await vpn.flushConfig(); // nothing waiting: no write
    expect(writes()).toBe(before + 2);
  });

  it('a config write that fails keeps the change live and in the database; the next flush writes it', async () => {
    const vpn = new VpnService(db, wg, { ...settings, configWriteDelayMs: 60_000 }, log);
    await vpn.start();
    await fs.rm(settings.configDir, { recursive: true });
    await fs.writeFile(settings.configDir, 'not a directory');
    const peer = await vpn.addPeer(1);
    expect(wg.peers.has(peer.public_key)).toBe(true);
    await expect(vpn.flushConfig()).rejects.toThrow();
    expect(await peersOnNode(db, 'awg0')).toHaveLength(1);
    await fs.rm(settings.configDir);
    await vpn.flushConfig();
    expect(await fs.readFile(vpn.confPath, 'utf8')).toContain(peer.public_key);
  });

  it('Fleet.close() writes the config files that still wait for a change', async () => {
    const fleet = await singleNodeFleet(db, wg, { ...settings, configWriteDelayMs: 60_000 }, log);
    await fleet.start();
    const peer = await fleet.addPeer(1);
    expect(await fs.readFile(path.join(settings.configDir, 'awg0.conf'), 'utf8')).not.toContain(peer.public_key);
    await fleet.close();
    expect(await fs.readFile(path.join(settings.configDir, 'awg0.conf'), 'utf8')).toContain(peer.public_key);
  });

  it('start on a missing interface: up from the config without peers, then the peers in addconf batches; the file has them all', async () => {
    const big = { ...settings, subnet: '10.8.0.0/20' };
    // One commit for them all: a commit per peer takes seconds on PostgreSQL.
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < PEERS_PER_CALL + 5; i++) {
        const k = generateKeyPair();
        await insertPeer(trx, { user_id: 1, node: 'awg0', public_key: k.publicKey, private_key: k.privateKey, preshared_key: generateKeyPair().publicKey, ip: `10.8.${(i + 2) >> 8}.${(i + 2) & 255}` }, 0);
      }
    });
    const upConfig: string[] = [];
    const up = wg.up.bind(wg);
    wg.up = async (conf) => {
      upConfig.push(await fs.readFile(conf, 'utf8'));
      return up(conf);
    };
    const vpn = new VpnService(db, wg, big, log);
    const r = await vpn.start();
    expect(upConfig).toHaveLength(1);
    expect(upConfig[0]).not.toContain('[Peer]');
    const batches = wg.calls.filter((c) => c.startsWith('addconf ')).map((c) => c.split(' ').length - 2);
    expect(batches).toEqual([PEERS_PER_CALL, 5]);
    expect(wg.peers.size).toBe(PEERS_PER_CALL + 5);
    expect(r.added).toHaveLength(PEERS_PER_CALL + 5);
    expect((await fs.readFile(vpn.confPath, 'utf8')).match(/\[Peer\]/g)).toHaveLength(PEERS_PER_CALL + 5);
  }, 30_000); // a thousand peers through a real database: seconds on PostgreSQL

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
