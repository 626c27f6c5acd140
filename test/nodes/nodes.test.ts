import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { cb } from '../../src/bot/callback-data.js';
import { migrate, openSqlite } from '../../src/db/index.js';
import { getNode, listNodes } from '../../src/db/nodes.js';
import { peersOfUser } from '../../src/db/peers.js';
import { findUser } from '../../src/db/users.js';
import { FAILING_TICKS, type MonitorEvent, startMonitor } from '../../src/monitor/index.js';
import { parseKeyValues, parseNodeSpec } from '../../src/vpn/nodes.js';
import { activeUser, alerts, lastText } from '../devices/support.js';
import { Fleet } from '../../src/vpn/fleet.js';
import { toWire } from '../../src/vpn/types.js';
import { FakeWg } from '../support/fake-wg.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import { buttons, type From } from '../support/recorder.js';

const user = (i: number): From => ({ id: 7700 + i, first_name: `U${i}`, language_code: 'en' });

async function approveWithoutCaptcha(h: Harness, u: From) {
  await h.send(u, '/start');
  await h.press(ADMIN_A, cb.approve.pack({ userId: u.id }));
}

describe('several VPN nodes (in-memory interfaces)', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('new peers go to the least loaded node; each config names its node; each interface holds its own peers', async () => {
    h = await createHarness({ captcha: false, nodes: [{ name: 'ams', subnet: '10.20.0.0/24' }] });
    for (let i = 0; i < 4; i++) await approveWithoutCaptcha(h, user(i));
    const peers = (await Promise.all([0, 1, 2, 3].map((i) => peersOfUser(h.db, user(i).id)))).flat();
    const byNode = (n: string) => peers.filter((p) => p.node === n);
    expect(byNode('awg0')).toHaveLength(2);
    expect(byNode('ams')).toHaveLength(2);
    expect([...h.wgs.get('ams')!.peers.keys()].sort()).toEqual(byNode('ams').map((p) => p.public_key).sort());
    expect([...h.wg.peers.keys()].sort()).toEqual(byNode('awg0').map((p) => p.public_key).sort());
    for (const p of byNode('ams')) {
      expect(p.ip).toMatch(/^10\.20\.0\./);
      const conf = h.fleet.clientConfig(p, {});
      expect(conf).toContain('Endpoint = ams.vpn.example.com:51820');
    }
    // Each node has keys of its own.
    const amsKey = /PublicKey = (\S+)/.exec(h.fleet.clientConfig(byNode('ams')[0]!, {}))![1];
    const mainKey = /PublicKey = (\S+)/.exec(h.fleet.clientConfig(byNode('awg0')[0]!, {}))![1];
    expect(amsKey).not.toBe(mainKey);
  });

  it('draining and down nodes take no new peers; with none left the approval fails clearly and the user stays pending', async () => {
    h = await createHarness({ captcha: false, nodes: [{ name: 'ams', state: 'draining' }] });
    await approveWithoutCaptcha(h, user(1));
    await approveWithoutCaptcha(h, user(2));
    expect((await peersOfUser(h.db, user(1).id))[0]!.node).toBe('awg0');
    expect((await peersOfUser(h.db, user(2).id))[0]!.node).toBe('awg0');
    await h.fleet.markDown('awg0');
    await approveWithoutCaptcha(h, user(3));
    expect((await findUser(h.db, user(3).id))?.status).toBe('pending');
    expect(await peersOfUser(h.db, user(3).id)).toEqual([]);
    expect(lastText(h, ADMIN_A.id)).toContain('no VPN node takes new peers');
    await h.fleet.setState('ams', 'active');
    await approveWithoutCaptcha(h, user(3));
    expect((await peersOfUser(h.db, user(3).id))[0]!.node).toBe('ams');
  });

  it('a node that does not answer before the monitor marks it down: the approval goes to the next node, the peer tried there is not kept', async () => {
    h = await createHarness({ captcha: false, nodes: [{ name: 'ams' }] });
    await approveWithoutCaptcha(h, user(1)); // awg0: ams is the least loaded now
    h.wgs.get('ams')!.failing = 'ssh: timed out after 10000 ms';
    await approveWithoutCaptcha(h, user(2));
    expect((await findUser(h.db, user(2).id))?.status).toBe('active');
    const peers = await peersOfUser(h.db, user(2).id);
    expect(peers.map((p) => p.node)).toEqual(['awg0']);
    expect(h.wgs.get('ams')!.peers.size).toBe(0);
    await h.drain();
    expect(h.rec.find('sendMessage').filter((c) => /Creating VPN peers fails/.test(String(c.payload.text)))).toEqual([]);
    // Every node failing: the approval fails with the cause, and the user stays pending.
    h.wg.failing = 'wg: interface gone';
    await approveWithoutCaptcha(h, user(3));
    expect((await findUser(h.db, user(3).id))?.status).toBe('pending');
    expect(lastText(h, ADMIN_A.id)).toMatch(/timed out after 10000 ms|interface gone/);
  });

  it('/nodes lists every node; Drain and Resume change what takes peers; Remove refuses a node with peers', async () => {
    h = await createHarness({ captcha: false, nodes: [{ name: 'ams' }] });
    await approveWithoutCaptcha(h, user(1)); // awg0 (first of equals)
    await h.send(ADMIN_A, '/nodes');
    const list = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(list.payload.text).toContain('<b>awg0</b>');
    expect(list.payload.text).toContain('<b>ams</b>');
    expect(list.payload.text).toContain('1 active peers');
    expect(buttons(list).map((b) => b.callback_data)).toEqual(['ndd:awg0', 'ndx:awg0', 'ndd:ams', 'ndx:ams', 'ndl']);
    await h.press(ADMIN_A, cb.nodeDrain.pack({ node: 'ams' }), list);
    expect((await getNode(h.db, 'ams'))?.state).toBe('draining');
    await approveWithoutCaptcha(h, user(2));
    expect((await peersOfUser(h.db, user(2).id))[0]!.node).toBe('awg0');
    await h.press(ADMIN_A, cb.nodeResume.pack({ node: 'ams' }), list);
    expect((await getNode(h.db, 'ams'))?.state).toBe('active');

    await h.press(ADMIN_A, cb.nodeRemove.pack({ node: 'awg0' }), list);
    expect(alerts(h).at(-1)).toContain('still has peers');
    expect(await getNode(h.db, 'awg0')).toBeDefined();
    await h.press(ADMIN_A, cb.nodeRemove.pack({ node: 'ams' }), list);
    expect(await getNode(h.db, 'ams')).toBeUndefined();
    expect(h.fleet.names()).toEqual(['awg0']);
  });

  it('/nodes add: a bad spec names every problem and adds nothing; a good one is brought up and takes peers', async () => {
    h = await createHarness({ captcha: false });
    await h.send(ADMIN_A, '/nodes add name=bad/name ssh=root@host endpoint=x subnet=10.1.0.0/31 colour=red');
    const text = lastText(h, ADMIN_A.id);
    expect(text).toContain('Nothing added');
    expect(text).toContain('name:');
    expect(text).toContain('subnet:');
    expect(text).toContain('unknown: colour');
    expect(text).toContain('hostkey:');
    expect(await listNodes(h.db)).toHaveLength(1);

    // The same machine, interface or port as a node that exists: refused, nothing changes.
    await h.send(ADMIN_A, '/nodes add name=fra ssh=local endpoint=fra.example.com subnet=10.30.0.0/24');
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('nodes awg0 and fra are on one machine (this host) with the same interface awg0');
    await h.send(ADMIN_A, '/nodes add name=fra ssh=local iface=fra0 endpoint=fra.example.com subnet=10.30.0.0/24');
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('with the same port 51820');
    expect(await listNodes(h.db)).toHaveLength(1);
    expect(h.fleet.names()).toEqual(['awg0']);

    await h.send(ADMIN_A, '/nodes add name=fra ssh=local iface=fra0 port=51821 endpoint=fra.example.com subnet=10.30.0.0/24 location="Frankfurt am Main"');
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('Node fra is up');
    const fra = await getNode(h.db, 'fra');
    expect(fra).toMatchObject({ location: 'Frankfurt am Main', endpoint: 'fra.example.com:51821', subnet: '10.30.0.0/24', iface: 'fra0' });
    expect(h.wgs.get('fra')!.up_).toBe(true);
    await approveWithoutCaptcha(h, user(1)); // awg0
    await approveWithoutCaptcha(h, user(2)); // fra: fewer peers
    expect((await peersOfUser(h.db, user(2).id))[0]).toMatchObject({ node: 'fra', ip: '10.30.0.2' });
  });

  it('a node that cannot come up is not kept', async () => {
    h = await createHarness({ captcha: false });
    const broken = new FakeWg();
    broken.failing = 'Connection refused';
    h.wgs.set('dead', broken);
    await h.send(ADMIN_A, '/nodes add name=dead ssh=local iface=dead0 port=51899 endpoint=dead.example.com subnet=10.31.0.0/24');
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('was not added');
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('Connection refused');
    expect(await getNode(h.db, 'dead')).toBeUndefined();
    expect(h.fleet.names()).toEqual(['awg0']);
  });

  it('move: the peer keeps its keys, gets an address on the new node, leaves the old interface; the user gets the new config', async () => {
    h = await createHarness({ captcha: true, nodes: [{ name: 'ams', subnet: '10.20.0.0/24' }] });
    const u = user(1);
    await activeUser(h, u);
    const [before] = await peersOfUser(h.db, u.id);
    expect(before!.node).toBe('awg0');
    await h.press(ADMIN_A, cb.card.pack({ userId: u.id }));
    const card = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(buttons(card).map((b) => b.callback_data)).toContain(cb.moveMenu.pack({ userId: u.id }));
    await h.press(ADMIN_A, cb.moveMenu.pack({ userId: u.id }));
    const menu = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(buttons(menu).map((b) => b.callback_data)).toContain(cb.moveTo.pack({ userId: u.id, node: 'ams' }));
    const docsBefore = h.rec.find('sendDocument', u.id).length;
    await h.press(ADMIN_A, cb.moveTo.pack({ userId: u.id, node: 'ams' }), menu);
    const [after] = await peersOfUser(h.db, u.id);
    expect(after).toMatchObject({ id: before!.id, node: 'ams', public_key: before!.public_key, ip: '10.20.0.2' });
    expect(h.wg.peers.has(before!.public_key)).toBe(false);
    expect(h.wgs.get('ams')!.peers.get(before!.public_key)).toMatchObject({ ip: '10.20.0.2' });
    const docs = h.rec.find('sendDocument', u.id);
    expect(docs).toHaveLength(docsBefore + 1);
    expect(docs.at(-1)!.files.document!.data.toString()).toContain('Endpoint = ams.vpn.example.com:51820');
    expect(h.rec.find('sendMessage', u.id).map((c) => c.payload.text)).toContainEqual(expect.stringContaining('Your VPN moved'));
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('moved to ams');

    // The old node still had the key (it did not answer, say): its reconcile removes it.
    await h.wg.setPeer('awg0', { ...toWire(after!), ip: before!.ip });
    const r = await h.fleet.node('awg0').reconcile(await h.fleet.node('awg0').readDump());
    expect(r.removed).toEqual([after!.public_key]);
    expect(r.unknown).toEqual([]);
  });

  it('a crash between the move and queuing the new config: the restart sends it, once', async () => {
    const first = await createHarness({ captcha: true, nodes: [{ name: 'ams', subnet: '10.20.0.0/24' }] });
    const u = user(2);
    await activeUser(first, u);
    const [peer] = await peersOfUser(first.db, u.id);
    await first.fleet.move(peer!, 'ams'); // what AccessService.move does before it queues the config
    await first.crash();
    h = await createHarness({ captcha: true, nodes: [{ name: 'ams', subnet: '10.20.0.0/24' }], restartOf: { dir: first.dir, wg: first.wg, wgs: first.wgs, telegram: first.rec.state } });
    await h.recover();
    await h.recover();
    const docs = h.rec.find('sendDocument', u.id);
    expect(docs.map((d) => /Endpoint = ams\.vpn\.example\.com:51820/.test(d.files.document!.data.toString()))).toEqual([true]);
    expect((await peersOfUser(h.db, u.id))[0]!.delivered_at).not.toBeNull();
  });

  it('NODE_CHOICE=user: the newcomer picks a location and the peer is created there', async () => {
    h = await createHarness({ captcha: false, nodeChoice: 'user', nodes: [{ name: 'ams', subnet: '10.20.0.0/24' }] });
    await h.db.updateTable('nodes').set({ location: 'Amsterdam' }).where('name', '=', 'ams').execute();
    const u = user(1);
    await h.send(u, '/start');
    const ask = h.rec.find('sendMessage', u.id).find((c) => String(c.payload.text).includes('Where should your VPN connect'))!;
    expect(buttons(ask).map((b) => b.text)).toEqual(['Amsterdam', 'awg0']);
    // Another user's forged choice of a node that takes no peers changes nothing.
    await h.fleet.setState('awg0', 'draining');
    await h.press(u, cb.location.pack({ node: 'awg0' }), ask);
    expect((await findUser(h.db, u.id))?.node).toBeNull();
    await h.fleet.setState('awg0', 'active');
    await h.press(u, cb.location.pack({ node: 'ams' }), ask);
    expect((await findUser(h.db, u.id))?.node).toBe('ams');
    expect(h.rec.last('editMessageText', u.id)?.payload.text).toContain('Location: Amsterdam');
    await approveWithoutCaptcha(h, user(2)); // awg0 is emptier now, but u asked for ams anyway
    await h.press(ADMIN_A, cb.approve.pack({ userId: u.id }));
    expect((await peersOfUser(h.db, u.id))[0]!.node).toBe('ams');
  });

  it('monitor: a node that does not answer is marked down and alerted once; the other keeps counting; it comes back with its counters', async () => {
    h = await createHarness({ captcha: false, nodes: [{ name: 'ams' }] });
    await approveWithoutCaptcha(h, user(1)); // awg0
    await approveWithoutCaptcha(h, user(2)); // ams
    const [p1] = await peersOfUser(h.db, user(1).id);
    const [p2] = await peersOfUser(h.db, user(2).id);
    const events: MonitorEvent[] = [];
    const monitor = startMonitor({
      db: h.db,
      nodes: () => h.fleet.services(),
      log: h.deps.log,
      intervalMs: 3_600_000,
      onEvent: async (e) => void events.push(e),
      onHealth: (node, up) => (up ? h.fleet.markUp(node) : h.fleet.markDown(node)),
    });
    try {
      const ams = h.wgs.get('ams')!;
      ams.peers.get(p2!.public_key)!.rx = 1000;
      await monitor.tick();
      ams.failing = 'ssh: connect timed out';
      ams.peers.get(p2!.public_key)!.rx = 5000; // traffic while unreachable
      for (let i = 0; i < FAILING_TICKS + 1; i++) {
        h.wg.peers.get(p1!.public_key)!.rx += 100;
        await monitor.tick();
      }
      expect((await getNode(h.db, 'ams'))?.down_since).not.toBeNull();
      expect((await getNode(h.db, 'awg0'))?.down_since).toBeNull();
      expect(events.filter((e) => e.kind === 'failing')).toEqual([expect.objectContaining({ node: 'ams', ticks: FAILING_TICKS })]);
      expect((await peersOfUser(h.db, user(1).id))[0]!.rx_total).toBe(100 * (FAILING_TICKS + 1));
      // Down: new peers go elsewhere.
      await approveWithoutCaptcha(h, user(3));
      expect((await peersOfUser(h.db, user(3).id))[0]!.node).toBe('awg0');
      ams.failing = null;
      await monitor.tick();
      expect((await getNode(h.db, 'ams'))?.down_since).toBeNull();
      expect(events.map((e) => e.kind)).toContain('recovered');
      expect((await peersOfUser(h.db, user(2).id))[0]!.rx_total).toBe(5000);
    } finally {
      await monitor.stop();
    }
  });
});

describe('node specs', () => {
  const defaults = { flavor: 'amneziawg' as const, sshKeyFile: '/keys/id' };
  it('fills defaults: port 22, user root, flavor interface and config dir, endpoint port', () => {
    const r = parseNodeSpec({ name: 'ams', ssh: '203.0.113.5', hostkey: `SHA256:${'A'.repeat(43)}`, endpoint: '203.0.113.5', subnet: '10.9.0.0/24' }, defaults, 5);
    expect(r).toEqual({
      ok: true,
      node: expect.objectContaining({ ssh_host: '203.0.113.5', ssh_port: 22, ssh_user: 'root', ssh_key_file: '/keys/id', iface: 'awg0', config_dir: '/etc/amnezia/amneziawg', endpoint: '203.0.113.5:51820', listen_port: 51820, location: 'ams', created_at: 5 }),
    });
    const v6 = parseNodeSpec({ name: 'v6', ssh: 'ops@[2001:db8::1]:2222', hostkey: `SHA256:${'b'.repeat(43)}`, endpoint: '[2001:db8::1]:443', subnet: '10.9.0.0/24', flavor: 'wireguard' }, defaults, 0);
    expect(v6.ok && v6.node).toMatchObject({ ssh_host: '2001:db8::1', ssh_port: 2222, ssh_user: 'ops', iface: 'wg0', endpoint: '[2001:db8::1]:443' });
  });
  it('refuses shell metacharacters and relative paths wherever they could reach a command', () => {
    const bad = parseNodeSpec({ name: 'x', ssh: 'root@h;rm -rf /', hostkey: `SHA256:${'A'.repeat(43)}`, endpoint: 'h', subnet: '10.9.0.0/24', iface: 'a$(x)', dir: 'etc', key: 'id' }, defaults, 0);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problems.join('\n')).toMatch(/ssh:[\s\S]*key:[\s\S]*iface:[\s\S]*dir:/);
  });
  it('key=value words with quoted values; stray words are reported', () => {
    expect(parseKeyValues('name=a location="New York" port=1')).toEqual({ name: 'a', location: 'New York', port: '1' });
    expect(parseKeyValues('name=a oops')).toBe('not key=value: oops');
  });
});

describe('upgrade to several nodes (migration 0006)', () => {
  it('peers, server keys and tombstones of a one-interface database belong to the node named after the interface', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-mig-'));
    const db = await openSqlite(path.join(dir, 'bot.db'));
    try {
      await migrate(db, '0005_device_requests');
      await sql`insert into users (id, first_name, status, created_at, updated_at) values (1, 'A', 'active', 0, 0)`.execute(db);
      await sql`insert into peers (user_id, iface, public_key, private_key, preshared_key, ip, status, created_at) values (1, 'awg0', 'pub', 'priv', 'psk', '10.8.0.2', 'active', 0)`.execute(db);
      await sql`insert into servers (iface, private_key, public_key, address, listen_port, created_at) values ('awg0', 'sk', 'pk', '10.8.0.1/24', 51820, 0)`.execute(db);
      await sql`insert into removed_peers (public_key, iface, removed_at) values ('old', 'awg0', 0)`.execute(db);
      await migrate(db);
      expect(await db.selectFrom('peers').select(['node', 'ip']).execute()).toEqual([{ node: 'awg0', ip: '10.8.0.2' }]);
      expect(await db.selectFrom('servers').select(['node', 'public_key']).execute()).toEqual([{ node: 'awg0', public_key: 'pk' }]);
      expect(await db.selectFrom('removed_peers').select(['node']).execute()).toEqual([{ node: 'awg0' }]);
      expect(await db.selectFrom('users').select('node').execute()).toEqual([{ node: null }]);
      // The (node, ip) pair is still unique.
      await expect(sql`insert into peers (user_id, node, public_key, private_key, preshared_key, ip, status, created_at) values (1, 'awg0', 'pub2', 'p', 'p', '10.8.0.2', 'active', 0)`.execute(db)).rejects.toThrow(/unique/i);
    } finally {
      await db.destroy();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('nodes added or removed by another replica', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('are joined (and brought up) or let go by the periodic refresh, and picked without a restart', async () => {
    h = await createHarness({ captcha: false });
    await approveWithoutCaptcha(h, user(1)); // awg0
    // Another replica added "waw" to the shared database.
    await h.db
      .insertInto('nodes')
      .values({ name: 'waw', location: 'Warsaw', ssh_host: null, ssh_port: null, ssh_user: null, ssh_key_file: null, ssh_host_key: null, flavor: 'amneziawg', iface: 'waw', endpoint: 'waw.example.com:51820', listen_port: 51820, subnet: '10.40.0.0/24', config_dir: path.join(h.dir, 'waw'), state_dir: null, created_at: 1 })
      .execute();
    await approveWithoutCaptcha(h, user(2));
    expect((await peersOfUser(h.db, user(2).id))[0]!.node).toBe('awg0'); // not joined yet: only driven nodes are picked
    await h.fleet.refresh(); // every monitor interval, on every replica
    await approveWithoutCaptcha(h, user(3));
    expect((await peersOfUser(h.db, user(3).id))[0]!.node).toBe('waw');
    expect(h.wgs.get('waw')!.up_).toBe(true);
    expect(h.fleet.names().sort()).toEqual(['awg0', 'waw']);
    await h.db.deleteFrom('peers').where('node', '=', 'waw').execute();
    await h.db.deleteFrom('nodes').where('name', '=', 'waw').execute();
    await h.fleet.refresh();
    expect(h.fleet.names()).toEqual(['awg0']);
  });
});

describe('which nodes a process drives', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('with VPN_LOCAL=off the local rows of the table are left alone; only SSH nodes are driven', async () => {
    h = await createHarness({ captcha: false });
    await h.db
      .insertInto('nodes')
      .values({ name: 'remote', location: 'Remote', ssh_host: '192.0.2.9', ssh_port: 22, ssh_user: 'root', ssh_key_file: '/k', ssh_host_key: `SHA256:${'A'.repeat(43)}`, flavor: 'wireguard', iface: 'wg0', endpoint: '192.0.2.9:51820', listen_port: 51820, subnet: '10.50.0.0/24', config_dir: path.join(h.dir, 'remote'), state_dir: '/var/lib/andreyvpn', created_at: 2 })
      .execute();
    const remote = new FakeWg();
    const fleet = new Fleet({ db: h.db, log: h.deps.log, shared: { dns: [], allowedIps: ['0.0.0.0/0'], awgProtocol: 1, local: {} }, runnerFor: () => remote, drives: (n) => n.ssh_host !== null });
    await fleet.start();
    expect(fleet.names()).toEqual(['remote']);
    expect(remote.up_).toBe(true);
    expect((await fleet.candidates()).map((n) => n.name)).toEqual(['remote']);
  });
});
