import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, migrate, openSqlite } from '../../src/db/index.js';
import { getServer } from '../../src/db/servers.js';
import type { NodeRow } from '../../src/db/nodes.js';
import { realDoctorEnv } from '../../src/ops/doctor/real-host.js';
import { peersOnNode, setPeerStatus } from '../../src/db/peers.js';
import { setUserSpeed } from '../../src/db/speeds.js';
import { requestAccess } from '../../src/db/users.js';
import { CommandError } from '../../src/vpn/runner.js';
import { generateKeyPair, generatePresharedKey } from '../../src/vpn/keys.js';
import { parseDump } from '../../src/vpn/dump.js';
import { serverAddress } from '../../src/vpn/pool.js';
import { SecretBox } from '../../src/vpn/secrets.js';
import { classMinor, ifbName } from '../../src/vpn/shaper.js';
import { VpnService } from '../../src/vpn/service.js';
import type { VpnSettings } from '../../src/vpn/types.js';
import { shellCommand } from '../../src/vpn/argv.js';
import { fingerprintOf, HostKeyMismatchError } from '../../src/vpn/ssh-host-key.js';
import { createSshRunner, remoteScripts, script, type SshRunner, type SshRunnerOptions } from '../../src/vpn/ssh-runner.js';
import { NetnsLab } from '../support/netns.js';
import { addSshNode, type SshNode, sshdGate } from '../support/sshd.js';

/** As sshd runs it: the login shell (bash) parses the command string; stdin is a pipe. */
function runRemote(argv: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', shellCommand(argv)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => reject(new Error(`hung: ${argv.join(' ')}`)), 10_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(input);
  });
}

describe('the fixed remote scripts (run here by bash and sh, as the node would)', () => {
  const { WITH_STDIN_FILE, WRITE_FILE, LOGGED, CAT_IF_EXISTS } = remoteScripts;
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-scripts-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const mode = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

  it('stdin file: the command sees a 0600 file with the secret, in a 0700 directory; it is gone afterwards, failure or not', async () => {
    const secrets = path.join(dir, 'run it', 'secrets');
    const file = path.join(secrets, 'psk-1');
    const ok = await runRemote(script(WITH_STDIN_FILE, secrets, file, 'sh', '-c', 'stat -c %a "$1"; cat "$1"', 'sh', file), 'SECRET\n');
    expect(ok).toMatchObject({ code: 0, stdout: '600\nSECRET\n' });
    expect(await mode(secrets)).toBe(0o700);
    expect(await fs.readdir(secrets)).toEqual([]);
    const failed = await runRemote(script(WITH_STDIN_FILE, secrets, file, 'sh', '-c', 'echo nope >&2; exit 7'), 'SECRET\n');
    expect(failed).toMatchObject({ code: 7, stderr: 'nope\n' });
    expect(await fs.readdir(secrets)).toEqual([]);
    // A file planted at that name (or a symlink) is never written through.
    await fs.symlink(path.join(dir, 'target'), file);
    const planted = await runRemote(script(WITH_STDIN_FILE, secrets, file, 'true'), 'SECRET\n');
    expect(planted.code).not.toBe(0);
    expect(await fs.access(path.join(dir, 'target')).then(() => true, () => false)).toBe(false);
  });

  it('write file: replaced atomically, 0600, parent directories 0700, no temp file left', async () => {
    const file = path.join(dir, 'conf', "it's", 'wg0.conf');
    expect((await runRemote(script(WRITE_FILE, file), 'one\n')).code).toBe(0);
    expect(await fs.readFile(file, 'utf8')).toBe('one\n');
    expect(await mode(file)).toBe(0o600);
    expect(await mode(path.dirname(file))).toBe(0o700);
    expect(await mode(path.join(dir, 'conf'))).toBe(0o700);
    await fs.chmod(file, 0o644);
    expect((await runRemote(script(WRITE_FILE, file), 'two\n')).code).toBe(0);
    expect(await fs.readFile(file, 'utf8')).toBe('two\n');
    expect(await mode(file)).toBe(0o600);
    expect(await fs.readdir(path.dirname(file))).toEqual(['wg0.conf']);
    const bad = await runRemote(script(WRITE_FILE, path.join(file, 'under-a-file')), 'x');
    expect(bad.code).not.toBe(0);
  });

  it('logged: returns when the command exits although a daemon it started keeps running; a failure shows the log tail', async () => {
    const logs = path.join(dir, 'logs');
    const log = path.join(logs, 'x-quick.log');
    const ok = await runRemote(script(LOGGED, logs, log, 'sh', '-c', 'sleep 3 & echo started'));
    expect(ok).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(ok.ms).toBeLessThan(2500);
    expect(await fs.readFile(log, 'utf8')).toBe('started\n');
    expect(await mode(log)).toBe(0o600);
    const failed = await runRemote(script(LOGGED, logs, log, 'sh', '-c', 'echo "[#] ip link add"; echo "RTNETLINK answers: nope" >&2; exit 3'));
    expect(failed.code).toBe(3);
    expect(failed.stderr).toContain('RTNETLINK answers: nope');
  });

  it('cat if exists: the content, or nothing', async () => {
    await fs.writeFile(path.join(dir, 'ifindex'), '12\n');
    expect(await runRemote(script(CAT_IF_EXISTS, path.join(dir, 'ifindex')))).toMatchObject({ code: 0, stdout: '12\n' });
    expect(await runRemote(script(CAT_IF_EXISTS, path.join(dir, 'none')))).toMatchObject({ code: 0, stdout: '' });
  });
});

const real = await sshdGate();

describe.skipIf(!real)('createSshRunner: VpnService on a node over SSH (real sshd, real wireguard-go), keys sealed with SECRETS_KEY', () => {
  const log = pino({ level: 'silent' });
  const box = new SecretBox(randomBytes(32));
  const commands: string[] = [];
  let lab: NetnsLab;
  let node: SshNode;
  let db: Db;
  let runner: SshRunner;
  let vpn: VpnService;
  let settings: VpnSettings;
  let nodeDirs: { logDir: string; secretsDir: string };
  const opts = (): SshRunnerOptions => ({
    ...nodeDirs,
    timeoutMs: 10_000,
    connectTimeoutMs: 2000,
    keepaliveIntervalMs: 500,
    keepaliveCountMax: 2,
    onCommand: (c) => commands.push(c),
  });
  /** sshd logs one line per authenticated connection. */
  const logins = (): number => node.sshd.output().split('\n').filter((l) => l.includes('Accepted publickey')).length;
  const elapsed = async (p: Promise<unknown>): Promise<{ ms: number; error: unknown }> => {
    const t = Date.now();
    const error = await p.then(() => null, (e: unknown) => e);
    return { ms: Date.now() - t, error };
  };

  beforeAll(async () => {
    lab = await NetnsLab.create();
    node = await addSshNode(lab, 'N');
    nodeDirs = { logDir: path.join(lab.tmpDir, 'node-log'), secretsDir: path.join(lab.tmpDir, 'node-run') };
    db = await openSqlite(path.join(lab.tmpDir, 'bot.db'));
    await migrate(db);
    for (const id of [1, 2]) await requestAccess(db, { id, first_name: `u${id}` }, 0);
    const iface = `avw${lab.suffix}`;
    lab.trackInterface(iface);
    const subnet = `10.${150 + randomInt(40)}.${randomInt(256)}.0/24`;
    const port = 40_000 + randomInt(20_000);
    settings = {
      node: iface,
      flavor: 'wireguard',
      iface,
      configDir: path.join(lab.tmpDir, 'node-conf', 'wireguard'),
      endpoint: `${node.endpointIp}:${port}`,
      port,
      subnet,
      dns: ['1.1.1.1'],
      allowedIps: [subnet],
      awgProtocol: 1,
    };
    runner = createSshRunner('wireguard', node.sshd.target(), opts());
    vpn = new VpnService(db, runner, settings, log, Date.now, box);
  }, 60_000);

  afterAll(async () => {
    await runner?.close();
    await db?.destroy();
    await lab?.cleanup();
  }, 60_000);

  it('start(): writes the config on the node (0600, directories 0700) and brings the interface up there', async () => {
    await vpn.start();
    const st = await fs.stat(vpn.confPath);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await fs.stat(settings.configDir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.dirname(settings.configDir))).mode & 0o777).toBe(0o700);
    const server = await getServer(db, settings.iface);
    expect(server!.private_key).toMatch(/^enc:v1:/);
    expect(await fs.readFile(vpn.confPath, 'utf8')).toContain(`PrivateKey = ${box.open(server!.private_key)}`);
    // The interface lives in the node's namespace, not here.
    const index = await vpn.ifindex();
    expect(index).toBeGreaterThan(0);
    expect((await lab.exec(node.ns, ['cat', `/sys/class/net/${settings.iface}/ifindex`])).stdout.trim()).toBe(String(index));
    expect(await fs.access(`/sys/class/net/${settings.iface}`).then(() => true, () => false)).toBe(false);
    expect((await vpn.readDump()).iface.listenPort).toBe(settings.port);
    // wg-quick's output went to the node's log, not through the channel.
    expect(await fs.readFile(path.join(nodeDirs.logDir, `${settings.iface}-quick.log`), 'utf8')).toContain('wireguard-go');

  }, 60_000);

  it('addPeer: the client config brings up a tunnel that pings the server through the node; the dump shows it; disabling cuts it', async () => {
    const peer = await vpn.addPeer(1);
    expect(peer.preshared_key).toMatch(/^enc:v1:/);
    const clientIf = `avc${lab.suffix}`;
    await lab.bringUpClient('wireguard', vpn.clientConfig(peer, {}), clientIf);
    const serverIp = serverAddress(settings.subnet);
    expect(await lab.ping(lab.clientNs, serverIp)).toBe(true);

    const dump = await vpn.readDump();
    const live = dump.peers.find((p) => p.publicKey === peer.public_key);
    expect(live).toMatchObject({ presharedKey: box.open(peer.preshared_key), allowedIps: [`${peer.ip}/32`] });
    expect(live?.latestHandshake).toBeGreaterThan(0);
    expect(live?.rx).toBeGreaterThan(0);
    await vpn.flushConfig();
    expect(await fs.readFile(vpn.confPath, 'utf8')).toContain(`PublicKey = ${peer.public_key}`);

    await setPeerStatus(db, peer.id, 'active', 'disabled');
    await vpn.apply(peer, false);
    expect((await vpn.readDump()).peers.map((p) => p.publicKey)).not.toContain(peer.public_key);
    expect(await lab.ping(lab.clientNs, serverIp, 2)).toBe(false);
    await vpn.flushConfig();
    expect(await fs.readFile(vpn.confPath, 'utf8')).not.toContain(peer.public_key);
  }, 90_000);

  it('secrets never appear in a command string; the preshared key file is gone; all of it over one connection', async () => {
    await vpn.addPeer(2);
    const peers = await peersOnNode(db, settings.iface);
    const server = await getServer(db, settings.iface);
    const secrets = [server!.private_key, ...peers.flatMap((p) => [p.preshared_key, p.private_key])].flatMap((sealed) => [sealed, box.open(sealed)]);
    expect(commands.length).toBeGreaterThan(5);
    expect(commands.some((c) => c.includes("'set'") && c.includes("'preshared-key'"))).toBe(true);
    for (const secret of secrets) for (const c of commands) expect(c).not.toContain(secret);
    expect(await fs.readdir(nodeDirs.secretsDir)).toEqual([]);
    expect((await fs.stat(nodeDirs.secretsDir)).mode & 0o777).toBe(0o700);
    // What wg was given: the key from the file matches the database.
    const live = (await vpn.readDump()).peers.find((p) => p.publicKey === peers.find((x) => x.user_id === 2)?.public_key);
    expect(live?.presharedKey).toBe(box.open(peers.find((x) => x.user_id === 2)!.preshared_key));
    // Many calls at once (more than OpenSSH's 10 sessions per connection) share the one connection.
    const dumps = await Promise.all(Array.from({ length: 25 }, () => runner.dump(settings.iface)));
    expect(new Set(dumps.map((d) => parseDump(d).peers.length))).toEqual(new Set([1]));
    expect(logins()).toBe(1);
  }, 60_000);

  it('setPeers: many peers in one addconf (keys on stdin, the file gone after), each set to exactly what was given', async () => {
    const ip = (n: number) => serverAddress(settings.subnet).replace(/\.1$/, `.${200 + n}`);
    const peers = [0, 1, 2].map((n) => ({ publicKey: generateKeyPair().publicKey, presharedKey: generatePresharedKey(), ip: ip(n) }));
    const before = commands.length;
    await runner.setPeers(settings.iface, peers);
    const sent = commands.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain("'addconf'");
    for (const p of peers) expect(sent[0]).not.toContain(p.presharedKey);
    // A peer given again with another address and key is replaced, not added to.
    const changed = { ...peers[0]!, presharedKey: generatePresharedKey(), ip: ip(9) };
    await runner.setPeers(settings.iface, [changed]);
    const live = (await vpn.readDump()).peers;
    expect(live.find((p) => p.publicKey === changed.publicKey)).toMatchObject({ presharedKey: changed.presharedKey, allowedIps: [`${ip(9)}/32`] });
    expect(live.find((p) => p.publicKey === peers[1]!.publicKey)).toMatchObject({ presharedKey: peers[1]!.presharedKey, allowedIps: [`${ip(1)}/32`] });
    expect(await fs.readdir(nodeDirs.secretsDir)).toEqual([]);
    for (const p of peers) await runner.removePeer(settings.iface, p.publicKey);
  }, 60_000);

  it("speed limits: a limited user's peer gets its classes on the node, tc run over the same connection; a tick after a flush rebuilds them", async () => {
    const tc = async (dev: string) => (await lab.exec(node.ns, ['tc', 'class', 'show', 'dev', dev])).stdout;
    const ifb = ifbName(settings.iface);
    const peer = (await peersOnNode(db, settings.iface, 'active')).find((p) => p.user_id === 2)!;
    const minor = `1:${classMinor(settings.subnet, peer.ip)!.toString(16)} `;
    const before = commands.length;
    await setUserSpeed(db, 2, { speed_down_kbit: 8000, speed_up_kbit: 4000 });
    await vpn.reconcile(await vpn.readDump());
    expect(await tc(settings.iface)).toMatch(new RegExp(`class htb ${minor}root .*rate 8Mbit ceil 8Mbit`));
    expect(await tc(ifb)).toMatch(new RegExp(`class htb ${minor}root .*rate 4Mbit ceil 4Mbit`));
    expect(commands.slice(before).some((c) => c.includes("'tc' '-batch' '-'"))).toBe(true);
    expect(await fs.access(`/sys/class/net/${ifb}`).then(() => true, () => false)).toBe(false); // on the node, not here

    await lab.exec(node.ns, ['tc', 'qdisc', 'del', 'dev', settings.iface, 'root']);
    await vpn.reconcile(await vpn.readDump());
    expect(await tc(settings.iface)).toContain(minor);

    await setUserSpeed(db, 2, { speed_down_kbit: null, speed_up_kbit: null });
    await vpn.reconcile(await vpn.readDump());
    expect(await tc(settings.iface)).not.toContain(minor);
    expect(await tc(ifb)).not.toContain(minor);
    expect(logins()).toBe(1);
  }, 60_000);

  it('errors carry the node, the remote argv, the exit code and stderr; a failing up shows its log', async () => {
    const err = await runner.dump('avnone0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ argv: ['wg', 'show', 'avnone0', 'dump'], code: 1, where: `ssh root@${node.sshd.host}:${node.sshd.port}` });
    expect((err as CommandError).stderr).toMatch(/Unable to access interface/);
    const up = await runner.up(path.join(lab.tmpDir, 'missing', 'avnone0.conf')).catch((e: unknown) => e);
    expect(up).toBeInstanceOf(CommandError);
    expect((up as CommandError).message).toMatch(/wg-quick up \S+avnone0\.conf: exited with code 1: .*does not exist/s);
    expect(await runner.ifindex('avnone0')).toBeNull();
    await expect(runner.dump('x; id')).rejects.toThrow(/invalid interface name/);
  }, 30_000);

  it('an unknown host key is refused, whichever form the pin takes; the right one in each form connects', async () => {
    const wrongLine = (await fs.readFile(`${node.sshd.clientKeyFile}.pub`, 'utf8')).trim(); // a real key, not this host's
    const wrongFp = fingerprintOf(randomBytes(51));
    for (const hostKey of [wrongLine, wrongFp, `256 ${wrongFp} x (ED25519)`]) {
      const seen: string[] = [];
      const bad = createSshRunner('wireguard', node.sshd.target(hostKey), { ...opts(), onCommand: (c) => seen.push(c) });
      const err = await bad.dump(settings.iface).catch((e: unknown) => e);
      await bad.close();
      expect(err).toBeInstanceOf(CommandError);
      expect((err as Error).message).toMatch(/host key mismatch: the server presented SHA256:\S+ \(ssh-ed25519\), the pinned one is SHA256:/);
      expect((err as Error).cause).toBeInstanceOf(HostKeyMismatchError);
    }
    const bareFp = node.sshd.hostFingerprint.split(' ')[1]!;
    for (const hostKey of [node.sshd.hostPublicKey, bareFp]) {
      const good = createSshRunner('wireguard', node.sshd.target(hostKey), opts());
      expect(parseDump(await good.dump(settings.iface)).iface.listenPort).toBe(settings.port);
      await good.close();
    }
  }, 30_000);

  it('sshd stopped: calls reject at once, never hang; started again: the next call reconnects', async () => {
    await runner.dump(settings.iface); // the pooled connection is up
    await node.sshd.stop();
    const peersBefore = (await peersOnNode(db, settings.iface)).length;
    const results = await Promise.all([elapsed(runner.dump(settings.iface)), elapsed(runner.ifindex(settings.iface)), elapsed(vpn.addPeer(1))]);
    for (const r of results) {
      expect(r.error).toBeInstanceOf(CommandError);
      expect((r.error as Error).message).toMatch(/^ssh root@\S+: /);
      expect(r.ms).toBeLessThan(2000);
    }
    // The failed addPeer left nothing behind.
    expect(await peersOnNode(db, settings.iface)).toHaveLength(peersBefore);

    await node.sshd.start();
    expect(parseDump(await runner.dump(settings.iface)).iface.listenPort).toBe(settings.port);
    expect(logins()).toBe(1);
  }, 60_000);

  it('a node that refuses every session (MaxSessions 0): the channel is asked for again a few times, then the call fails saying why', async () => {
    const config = path.join(node.sshd.dir, 'sshd_config');
    const original = await fs.readFile(config, 'utf8');
    await node.sshd.stop();
    await fs.writeFile(config, `${original}MaxSessions 0\n`, { mode: 0o600 });
    const refused = createSshRunner('wireguard', node.sshd.target(), opts());
    try {
      await node.sshd.start();
      const t = Date.now();
      const err = await refused.dump(settings.iface).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandError);
      expect((err as Error).message).toMatch(/cannot open a channel/);
      // Asked again after 25, 50, 100 and 200 ms: a refusal right after another channel closed passes.
      expect(Date.now() - t).toBeGreaterThanOrEqual(375);
    } finally {
      await refused.close();
      await node.sshd.stop();
      await fs.writeFile(config, original, { mode: 0o600 });
      await node.sshd.start();
    }
    expect(parseDump(await runner.dump(settings.iface)).iface.listenPort).toBe(settings.port);
  }, 60_000);

  it('a node that stops answering: keepalive drops the dead connection, a call times out (channel closed), never hangs; then it recovers', async () => {
    // Without keepalive only the per-command timeout ends a call to a silent node.
    const noKeepalive = createSshRunner('wireguard', node.sshd.target(), { ...opts(), keepaliveIntervalMs: 0, timeoutMs: 3000 });
    await noKeepalive.dump(settings.iface);
    await runner.dump(settings.iface);
    const before = logins();
    node.sshd.pause();
    try {
      const [viaKeepalive, viaTimeout] = await Promise.all([elapsed(runner.dump(settings.iface)), elapsed(noKeepalive.ifindex(settings.iface))]);
      // Keepalive every 500 ms, 2 unanswered: the connection is given up after about a second.
      expect((viaKeepalive.error as Error).message).toMatch(/No response from server|connection was lost|Keepalive timeout/);
      expect(viaKeepalive.ms).toBeLessThan(2500);
      expect((viaTimeout.error as Error).message).toMatch(/cat \/sys\/class\/net\/\S+\/ifindex: timed out after 3000 ms/);
      expect(viaTimeout.ms).toBeGreaterThanOrEqual(2900);
      expect(viaTimeout.ms).toBeLessThan(3000 + 1000);
      // A new connection is accepted by the kernel but sshd never greets: the connect timeout ends the call.
      const again = await elapsed(runner.dump(settings.iface));
      expect((again.error as Error).message).toMatch(/cannot connect: Timed out while waiting for handshake/);
      expect(again.ms).toBeLessThan(2000 + 1000);
    } finally {
      node.sshd.resume();
    }
    expect(parseDump(await runner.dump(settings.iface)).iface.listenPort).toBe(settings.port);
    expect(logins()).toBeGreaterThan(before); // reconnected rather than reusing the dead connection
    // The connection without keepalive was never dropped: it answers again.
    expect(await noKeepalive.ifindex(settings.iface)).toBeGreaterThan(0);
    await noKeepalive.close();
  }, 60_000);

  it('`npm run doctor` reaches a node the same way: its interface index, null for a missing interface, or why it cannot', async () => {
    const t = node.sshd.target();
    const row = { name: 'n', ssh_host: t.host, ssh_port: t.port, ssh_user: t.user, ssh_key_file: t.privateKeyFile, ssh_host_key: t.hostKey, flavor: 'wireguard', iface: settings.iface } as NodeRow;
    const { probeNode } = realDoctorEnv({});
    expect(await probeNode(row)).toBe(await vpn.ifindex());
    expect(await probeNode({ ...row, iface: 'avnone0' })).toBeNull();
    await expect(probeNode({ ...row, ssh_host_key: `SHA256:${'A'.repeat(43)}` })).rejects.toThrow(/host key/i);

  }, 30_000);

  it('close(): later calls reject', async () => {
    const c = createSshRunner('wireguard', node.sshd.target(), opts());
    await c.dump(settings.iface);
    await c.close();
    await expect(c.dump(settings.iface)).rejects.toThrow(/closed/);
  }, 30_000);
});
