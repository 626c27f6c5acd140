import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DatabaseTarget, migrate, MIGRATIONS } from '../../src/db/index.js';
import { type CheckResult, formatResult } from '../../src/ops/doctor/check.js';
import { type DoctorEnv, type FileInfo, SYSTEM_PATHS, type SystemPaths } from '../../src/ops/doctor/host.js';
import { realDoctorEnv } from '../../src/ops/doctor/real-host.js';
import { runDoctor } from '../../src/ops/doctor/run.js';
import { networkOf, parseUdpPorts } from '../../src/ops/doctor/vpn-network.js';
import { AMNEZIAWG_BIN, amneziawgBinaries, sharedPins } from '../support/amneziawg.js';
import { BotApiStandIn } from '../support/bot-api.js';
import { appDatabase } from '../support/database.js';
import { gateOn } from '../support/netns.js';

// Only --version is run, so the shared AmneziaWG binaries need no root here; under CI=true they must be there.
const sharedAwg = gateOn(amneziawgBinaries());

// Shaped like a real token, so the generic masking would catch it too.
const TOKEN = '1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const UDP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n';
const udpLine = (port: number) => `  1: 00000000:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 0 2 0000000000000000 0\n`;
const NAT_RULES = '-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE\n';

interface FakeFile {
  mode: number;
  dir?: boolean;
  text?: string;
}

/** A host where every check passes; each test breaks one thing. */
class FakeHost {
  files = new Map<string, FakeFile>();
  commands = new Map<string, string | Error>();
  notWritable = new Set<string>();
  migrations: string[] | Error = [...MIGRATIONS];
  /** The databases the doctor looked at. */
  readFrom: DatabaseTarget[] = [];
  network: Error | null = null;
  tokenAccepted = true;
  started = new Set<number>([111]);
  fetched: string[] = [];
  /** SSH nodes by host: their interface index, null (interface down), or why they cannot be reached. */
  nodes = new Map<string, number | null | Error>();
  denv: DoctorEnv;

  constructor() {
    this.exec('/usr/bin/awg');
    this.exec('/usr/bin/awg-quick');
    this.exec('/usr/sbin/iptables');
    this.file('/dev/net/tun', '', 0o666);
    this.file('/proc/self/status', 'Name:\tnode\nCapEff:\t0000000000000000\n');
    this.file('/proc/sys/net/ipv4/ip_forward', '1\n');
    this.file('/proc/net/udp', UDP_HEADER + udpLine(53) + udpLine(51820));
    this.file('/proc/net/udp6', UDP_HEADER);
    this.dir('/sys/module/amneziawg');
    this.dir('/sys/class/net/awg0');
    this.dir('/srv', 0o755);
    this.dir('/srv/bot', 0o700);
    this.file('/srv/bot/bot.db', '', 0o600);
    this.commands.set('iptables -t nat -S POSTROUTING', NAT_RULES);
    this.commands.set('awg --version', 'amneziawg-tools v1.0.20260223 - https://amnezia.org\n');
    this.commands.set('wg --version', 'wireguard-tools v1.0.20210914 - https://git.zx2c4.com/wireguard-tools/\n');
    this.commands.set('amneziawg-go --version', 'amneziawg-go v0.2.18\n\nUserspace AmneziaWG daemon for linux-amd64.\n');
    this.denv = {
      env: { BOT_TOKEN: TOKEN, ADMIN_IDS: '111', VPN_ENDPOINT: 'vpn.example.com', DATA_DIR: '/srv/bot', PATH: '/usr/local/bin:/usr/bin:/usr/sbin' },
      envFile: '.env',
      run: async (bin, args) => {
        const answer = this.commands.get([path.basename(bin), ...args].join(' '));
        if (answer === undefined) throw new Error(`spawn ${bin} ENOENT`);
        if (answer instanceof Error) throw answer;
        return answer;
      },
      readFile: async (p) => {
        const f = this.files.get(p);
        if (!f || f.dir) throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
        return f.text ?? '';
      },
      stat: async (p): Promise<FileInfo | null> => {
        const f = this.files.get(p);
        return f ? { mode: f.mode, isFile: !f.dir, isDirectory: !!f.dir } : null;
      },
      canWrite: async (p) => this.files.has(p) && !this.notWritable.has(p),
      readMigrations: async (target) => {
        this.readFrom.push(target);
        if (this.migrations instanceof Error) throw this.migrations;
        return this.migrations;
      },
      knownMigrations: MIGRATIONS,
      fetch: this.fetch,
      uid: 0,
      nodeVersion: 'v20.12.0',
      paths: SYSTEM_PATHS,
      probeNode: async (node) => {
        const answer = this.nodes.get(node.ssh_host!);
        if (answer === undefined || answer instanceof Error) throw answer ?? new Error('connect ECONNREFUSED');
        return answer;
      },
      now: () => Date.parse('2026-12-01T00:00:00Z'),
    };
  }

  file(p: string, text = '', mode = 0o644) {
    this.files.set(p, { mode, text });
  }
  exec(p: string) {
    this.file(p, '', 0o755);
  }
  dir(p: string, mode = 0o755) {
    this.files.set(p, { mode, dir: true });
  }

  private readonly fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    this.fetched.push(url);
    // Like some fetch implementations, the error names the URL, token and all.
    if (this.network) throw new TypeError(`fetch failed: ${url}`, { cause: this.network });
    const [, token, method] = /\/bot([^/]+)\/(\w+)$/.exec(new URL(url).pathname) ?? [];
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (token !== TOKEN || !this.tokenAccepted) return json(401, { ok: false, error_code: 401, description: 'Unauthorized' });
    if (method === 'getMe') return json(200, { ok: true, result: { id: 1234567890, is_bot: true, first_name: 'VPN', username: 'andrey_vpn_bot' } });
    if (method === 'getWebhookInfo') return json(200, { ok: true, result: { url: '', has_custom_certificate: false, pending_update_count: 0 } });
    if (method === 'getChat') {
      const { chat_id } = JSON.parse(String(init?.body)) as { chat_id: number };
      if (this.started.has(chat_id)) return json(200, { ok: true, result: { id: chat_id, type: 'private', first_name: 'Ann', username: 'ann' } });
      return json(400, { ok: false, error_code: 400, description: 'Bad Request: chat not found' });
    }
    return json(404, { ok: false, error_code: 404, description: 'Not Found' });
  }) as typeof fetch;

  async doctor() {
    const report = await runDoctor(this.denv);
    for (const line of report.lines) expect(line).not.toContain(TOKEN);
    const find = (name: string): CheckResult & { line: string } => {
      const r = report.results.find((x) => x.name === name);
      if (!r) throw new Error(`no result named ${name}:\n${report.lines.join('\n')}`);
      return { ...r, line: formatResult(r)[0]! };
    };
    return { ...report, find };
  }
}

async function expectOnly(host: FakeHost, name: string, status: 'fail' | 'warn', message: RegExp) {
  const report = await host.doctor();
  const r = report.find(name);
  expect(r.status, r.line).toBe(status);
  expect(r.line).toMatch(message);
  if (status === 'fail') expect(r.line).toMatch(/\. Fix: \S/);
  // Every other check is unaffected.
  const others = report.results.filter((x) => x.name !== name && x.status !== 'pass');
  expect(others.map((x) => formatResult(x)[0])).toEqual([]);
  expect(report.ok).toBe(status !== 'fail');
  return r;
}

describe('doctor checks (fake host)', () => {
  it('a healthy host passes every check, one line each', async () => {
    const report = await new FakeHost().doctor();
    expect(report.ok).toBe(true);
    expect(report.lines.every((l) => l.startsWith('✔ '))).toBe(true);
    expect(report.results.map((r) => r.name)).toEqual([
      'node', 'config', 'binaries', 'privileges', 'tun device', 'vpn backend', 'interface', 'ip_forward', 'nat', 'udp port',
      'vpn nodes', 'data dir', 'database', 'bot token', 'admin 111', 'webhook',
    ]);
    expect(report.find('webhook').line).toBe('✔ webhook — none set (BOT_MODE=polling), 0 pending update(s)');
    expect(report.find('bot token').line).toBe('✔ bot token — @andrey_vpn_bot');
    expect(report.find('binaries').line).toBe('✔ binaries — /usr/bin/awg (amneziawg-tools v1.0.20260223), /usr/bin/awg-quick');
    expect(report.find('vpn backend').line).toBe('✔ vpn backend — amneziawg kernel module loaded');
  });

  it('node: older than 20.12 fails; 20.12 and later pass', async () => {
    const host = new FakeHost();
    host.denv.nodeVersion = 'v20.11.1';
    await expectOnly(host, 'node', 'fail', /✘ node — Node\.js v20\.11\.1 is too old, the bot needs ≥ 20\.12/);
    host.denv.nodeVersion = 'v22.3.0';
    expect((await host.doctor()).ok).toBe(true);
  });

  it('config: every problem is listed and the checks that need config are skipped, so the result is not ok', async () => {
    const host = new FakeHost();
    host.denv.env = { ...host.denv.env, BOT_TOKEN: undefined, VPN_PORT: '70000' };
    const report = await host.doctor();
    expect(report.ok).toBe(false);
    const config = report.find('config');
    expect(config.line).toMatch(/^✘ config — 2 problems in the configuration\. Fix: edit \.env/);
    expect(report.lines).toContain('    BOT_TOKEN: is required (missing)');
    expect(report.lines.some((l) => l.startsWith('    VPN_PORT:'))).toBe(true);
    const skipped = report.results.filter((r) => r.status === 'skip');
    expect(skipped.length).toBe(13);
    expect(report.find('nat').line).toBe('- nat — skipped (the configuration is invalid)');
    expect(host.fetched).toEqual([]);
  });

  it('binaries: both flavor tools must be executable files on PATH', async () => {
    const host = new FakeHost();
    host.files.delete('/usr/bin/awg-quick');
    await expectOnly(host, 'binaries', 'fail', /awg-quick not found on PATH\. Fix: install amneziawg-tools/);
    host.exec('/usr/bin/awg-quick');
    host.file('/usr/bin/awg', '', 0o644); // present but not executable
    await expectOnly(host, 'binaries', 'fail', /awg not found on PATH/);

    const wg = new FakeHost();
    wg.denv.env.VPN_FLAVOR = 'wireguard';
    wg.dir('/sys/module/wireguard');
    wg.dir('/sys/class/net/wg0');
    await expectOnly(wg, 'binaries', 'fail', /wg and wg-quick not found on PATH\. Fix: install wireguard-tools/);
    wg.exec('/usr/local/bin/wg');
    wg.exec('/usr/bin/wg-quick');
    expect((await wg.doctor()).find('binaries').line).toBe('✔ binaries — /usr/local/bin/wg (wireguard-tools v1.0.20210914), /usr/bin/wg-quick');
  });

  it('binaries: with DEFAULT_SPEED_MBIT set, tc must be on PATH too', async () => {
    const host = new FakeHost();
    host.denv.env.DEFAULT_SPEED_MBIT = '20/5';
    await expectOnly(host, 'binaries', 'fail', /✘ binaries — tc not found on PATH: DEFAULT_SPEED_MBIT cannot be applied\. Fix: install iproute2/);
    host.exec('/usr/sbin/tc');
    expect((await host.doctor()).ok).toBe(true);
    const unlimited = new FakeHost();
    unlimited.denv.env.DEFAULT_SPEED_MBIT = '0';
    expect((await unlimited.doctor()).ok).toBe(true);
  });

  it('binaries: a tool that does not run (--version fails or times out) fails, naming why', async () => {
    const host = new FakeHost();
    host.commands.set('awg --version', new Error('/usr/bin/awg --version: timed out after 10000 ms'));
    await expectOnly(host, 'binaries', 'fail', /✘ binaries — \/usr\/bin\/awg does not run: awg --version failed: .*timed out after 10000 ms\. Fix: reinstall amneziawg-tools/);
  });

  it('privileges: root, or CAP_NET_ADMIN in CapEff', async () => {
    const host = new FakeHost();
    host.denv.uid = 1000;
    await expectOnly(host, 'privileges', 'fail', /not root \(uid 1000\) and no CAP_NET_ADMIN.*Fix: run the bot \(and this check\) as root/);
    host.file('/proc/self/status', 'Name:\tnode\nCapEff:\t0000000000001000\n'); // bit 12 alone
    expect((await host.doctor()).find('privileges').line).toBe('✔ privileges — uid 1000 with CAP_NET_ADMIN');
    host.file('/proc/self/status', 'Name:\tnode\nCapEff:\t000001ffffffefff\n'); // everything but bit 12
    expect((await host.doctor()).find('privileges').status).toBe('fail');
  });

  it('tun device: missing fails unless the kernel module makes it unnecessary', async () => {
    const host = new FakeHost();
    host.files.delete('/dev/net/tun');
    await expectOnly(host, 'tun device', 'warn', /\/dev\/net\/tun is missing; not needed while the amneziawg kernel module is loaded/);
    host.files.delete('/sys/module/amneziawg');
    host.exec('/usr/bin/amneziawg-go');
    await expectOnly(host, 'tun device', 'fail', /\/dev\/net\/tun is missing \(the userspace fallback needs it\)\. Fix: modprobe tun/);
  });

  it('vpn backend: kernel module loaded, installed (modinfo), or the userspace implementation', async () => {
    const host = new FakeHost();
    host.files.delete('/sys/module/amneziawg');
    await expectOnly(host, 'vpn backend', 'fail', /neither the amneziawg kernel module nor amneziawg-go found\. Fix: install the amneziawg kernel module/);
    host.exec('/usr/sbin/modinfo');
    host.commands.set('modinfo -F filename amneziawg', '/lib/modules/6.1.0/updates/dkms/amneziawg.ko\n');
    expect((await host.doctor()).find('vpn backend').line).toBe('✔ vpn backend — amneziawg kernel module installed (loaded on first use)');
    host.commands.set('modinfo -F filename amneziawg', new Error('modinfo: ERROR: Module amneziawg not found.'));
    host.exec('/usr/local/bin/amneziawg-go');
    expect((await host.doctor()).find('vpn backend').line).toBe('✔ vpn backend — userspace /usr/local/bin/amneziawg-go (amneziawg-go v0.2.18; no amneziawg kernel module)');
    host.commands.set('amneziawg-go --version', new Error('spawn /usr/local/bin/amneziawg-go ENOEXEC'));
    await expectOnly(host, 'vpn backend', 'fail', /no amneziawg kernel module, and \/usr\/local\/bin\/amneziawg-go does not run: .*ENOEXEC\. Fix: reinstall amneziawg-go/);

    // A loaded module that declares its version names it.
    host.dir('/sys/module/amneziawg');
    host.file('/sys/module/amneziawg/version', '1.0.0\n');
    expect((await host.doctor()).find('vpn backend').line).toBe('✔ vpn backend — amneziawg kernel module 1.0.0 loaded');

    const wg = new FakeHost();
    wg.denv.env.VPN_FLAVOR = 'wireguard';
    wg.exec('/usr/bin/wg');
    wg.exec('/usr/bin/wg-quick');
    wg.dir('/sys/class/net/wg0');
    await expectOnly(wg, 'vpn backend', 'fail', /neither the wireguard kernel module nor wireguard-go found\. Fix: modprobe wireguard/);
  });

  it('interface: down is a warning, not a failure (the bot brings it up)', async () => {
    const host = new FakeHost();
    host.files.delete('/sys/class/net/awg0');
    host.file('/proc/net/udp', UDP_HEADER); // nobody on the port either
    const r = await expectOnly(host, 'interface', 'warn', /^! interface — awg0 is down \(the bot brings it up on start\)$/);
    expect(r.fix).toBeUndefined();
  });

  it('ip_forward must be 1', async () => {
    const host = new FakeHost();
    host.file('/proc/sys/net/ipv4/ip_forward', '0\n');
    await expectOnly(host, 'ip_forward', 'fail', /net\.ipv4\.ip_forward is 0.*Fix: sysctl -w net\.ipv4\.ip_forward=1.*\/etc\/sysctl\.d\/99-andreyvpn\.conf/);
  });

  it('nat: a MASQUERADE rule for VPN_SUBNET, iptables present, or VPN_NAT=off', async () => {
    const host = new FakeHost();
    host.commands.set('iptables -t nat -S POSTROUTING', '-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.9.0.0/24 -o eth0 -j MASQUERADE\n');
    await expectOnly(host, 'nat', 'fail', /no MASQUERADE rule for 10\.8\.0\.0\/24 while awg0 is up.*Fix: iptables -t nat -A POSTROUTING -s 10\.8\.0\.0\/24/);

    host.commands.set('iptables -t nat -S POSTROUTING', new Error('iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)'));
    await expectOnly(host, 'nat', 'fail', /cannot list NAT rules: .*Permission denied/);

    host.files.delete('/usr/sbin/iptables');
    await expectOnly(host, 'nat', 'fail', /iptables not found on PATH.*Fix: apt-get install iptables/);

    host.denv.env.VPN_NAT = 'off';
    expect((await host.doctor()).find('nat').line).toBe('✔ nat — off (VPN_NAT=off)');

    // iptables prints the network address; a subnet written with a host part still matches.
    const other = new FakeHost();
    other.denv.env.VPN_SUBNET = '10.8.0.1/24';
    expect((await other.doctor()).find('nat').line).toBe('✔ nat — MASQUERADE for 10.8.0.0/24');
  });

  it('nat: before the interface is up the missing rule is expected (PostUp adds it)', async () => {
    const host = new FakeHost();
    host.commands.set('iptables -t nat -S POSTROUTING', '-P POSTROUTING ACCEPT\n');
    host.files.delete('/sys/class/net/awg0');
    host.file('/proc/net/udp', UDP_HEADER);
    const report = await host.doctor();
    expect(report.find('nat').line).toMatch(/^! nat — no MASQUERADE rule for 10\.8\.0\.0\/24 yet \(added by PostUp/);
    expect(report.ok).toBe(true);
  });

  it('udp port: bound without our interface means another program has it', async () => {
    const host = new FakeHost();
    host.files.delete('/sys/class/net/awg0');
    const report = await host.doctor();
    const r = report.find('udp port');
    expect(r.line).toMatch(/^✘ udp port — port 51820 is used by another program\. Fix: find it with ss -ulpn/);
    expect(report.ok).toBe(false);

    // IPv6 sockets count too.
    const v6 = new FakeHost();
    v6.denv.env.VPN_PORT = '443';
    v6.file('/proc/net/udp6', `${UDP_HEADER}  5: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 0 2 0000000000000000 0\n`);
    expect((await v6.doctor()).find('udp port').line).toBe('✔ udp port — UDP 443 is bound by awg0');
    v6.files.delete('/sys/class/net/awg0');
    expect((await v6.doctor()).find('udp port').line).toMatch(/✘ udp port — port 443 is used by another program/);

    const free = new FakeHost();
    free.files.delete('/sys/class/net/awg0');
    free.file('/proc/net/udp', UDP_HEADER + udpLine(53));
    expect((await free.doctor()).find('udp port').line).toBe('✔ udp port — UDP 51820 is free');
  });

  it('data dir: 0700 and writable; missing is fine when it can be created', async () => {
    const host = new FakeHost();
    host.dir('/srv/bot', 0o755);
    await expectOnly(host, 'data dir', 'fail', /\/srv\/bot has mode 0755, it holds private keys\. Fix: chmod 700 \/srv\/bot/);

    host.dir('/srv/bot', 0o700);
    host.notWritable.add('/srv/bot');
    await expectOnly(host, 'data dir', 'fail', /\/srv\/bot is not writable by uid 0/);

    const fresh = new FakeHost();
    fresh.denv.env.DATA_DIR = '/srv/new/data';
    expect((await fresh.doctor()).find('data dir').line).toBe('✔ data dir — /srv/new/data does not exist yet (created 0700 on first start)');
    fresh.notWritable.add('/srv');
    await expectOnly(fresh, 'data dir', 'fail', /\/srv\/new\/data does not exist and \/srv is not writable\. Fix: mkdir -m 700 -p \/srv\/new\/data/);

    const notDir = new FakeHost();
    notDir.file('/srv/bot', 'x', 0o700);
    notDir.denv.env.DATABASE_URL = 'sqlite:/srv/db/bot.db';
    await expectOnly(notDir, 'data dir', 'fail', /\/srv\/bot is not a directory/);
  });

  it('database: 0600, migrated by this version; a missing file is created on first start', async () => {
    const host = new FakeHost();
    host.file('/srv/bot/bot.db', '', 0o644);
    await expectOnly(host, 'database', 'fail', /\/srv\/bot\/bot\.db has mode 0644.*Fix: chmod 600 \/srv\/bot\/bot\.db/);

    host.file('/srv/bot/bot.db', '', 0o600);
    host.migrations = [];
    await expectOnly(host, 'database', 'warn', new RegExp(`${MIGRATIONS.length} migration\\(s\\) pending \\(${MIGRATIONS.join(', ')}\\), applied on next start`));

    host.migrations = [...MIGRATIONS, '9999_from_the_future'];
    await expectOnly(host, 'database', 'fail', /migrated by a newer version of the bot \(unknown: 9999_from_the_future\)/);

    host.migrations = new Error('file is not a database');
    await expectOnly(host, 'database', 'fail', /cannot read \/srv\/bot\/bot\.db: file is not a database/);

    host.files.delete('/srv/bot/bot.db');
    expect((await host.doctor()).find('database').line).toBe('✔ database — /srv/bot/bot.db does not exist yet (created on first start)');
  });

  it('database on PostgreSQL: migrations read through DATABASE_URL; the password is never shown', async () => {
    const host = new FakeHost();
    const url = 'postgres://bot:hunter2@db.example.com:5432/vpn';
    host.denv.env.DATABASE_URL = url;
    host.files.delete('/srv/bot/bot.db'); // no SQLite file is involved
    const ok = (await host.doctor()).find('database');
    expect(ok.line).toBe(`✔ database — PostgreSQL postgres://bot:***@db.example.com:5432/vpn, schema up to date (${MIGRATIONS.length} migrations)`);
    expect(host.readFrom.at(-1)).toMatchObject({ kind: 'postgres', url });

    host.migrations = [];
    await expectOnly(host, 'database', 'warn', /PostgreSQL postgres:\/\/bot:\*\*\*@db\.example\.com:5432\/vpn: \d+ migration\(s\) pending/);
    host.migrations = [...MIGRATIONS, '9999_from_the_future'];
    await expectOnly(host, 'database', 'fail', /migrated by a newer version of the bot \(unknown: 9999_from_the_future\)/);
    host.migrations = new Error('password authentication failed for user "bot"');
    const r = await expectOnly(host, 'database', 'fail', /^✘ database — cannot read PostgreSQL postgres:\/\/bot:\*\*\*@db\.example\.com:5432\/vpn: password authentication failed for user "bot"\. Fix: check DATABASE_URL/);
    expect(r.line).not.toContain('hunter2');
  });

  it('bot token: a rejected token and an unreachable Telegram each fail, without printing the token', async () => {
    const host = new FakeHost();
    host.tokenAccepted = false;
    const report = await host.doctor();
    expect(report.find('bot token').line).toMatch(/^✘ bot token — BOT_TOKEN rejected by Telegram \(401 Unauthorized\)\. Fix: copy the token again from @BotFather/);
    expect(report.find('admin 111').line).toBe('- admin 111 — skipped (the bot token does not work)');
    expect(report.find('webhook').line).toBe('- webhook — skipped (the bot token does not work)');
    expect(report.ok).toBe(false);

    host.tokenAccepted = true;
    host.network = Object.assign(new Error('connect ECONNREFUSED 149.154.167.220:443'), { code: 'ECONNREFUSED' });
    const offline = await host.doctor();
    const line = offline.find('bot token').line;
    expect(line).toMatch(/^✘ bot token — cannot reach https:\/\/api\.telegram\.org: fetch failed: .*<BOT_TOKEN>.*\(ECONNREFUSED\)\. Fix: check that this server can make outgoing HTTPS/);
    expect(host.fetched.every((u) => u.includes(TOKEN))).toBe(true); // the token was used, just not shown
  });

  it('admins: each admin must have sent /start to the bot', async () => {
    const host = new FakeHost();
    host.denv.env.ADMIN_IDS = '111,222';
    const report = await host.doctor();
    expect(report.find('admin 111').line).toBe('✔ admin 111 — @ann has started the bot');
    expect(report.find('admin 222').line).toMatch(/^✘ admin 222 — admin 222 has not sent \/start to the bot yet\. Fix: open https:\/\/t\.me\/andrey_vpn_bot/);
    expect(report.ok).toBe(false);
  });

  it('vpn nodes: the nodes file is validated and every SSH node must answer; VPN_LOCAL=off needs nothing local', async () => {
    const host = new FakeHost();
    const hostkey = `SHA256:${'A'.repeat(43)}`;
    const spec = (name: string, ip: string) => ({ name, ssh: `root@${ip}`, hostkey, endpoint: ip, subnet: '10.9.0.0/24' });
    host.file('/srv/nodes.json', JSON.stringify([spec('ams', '192.0.2.1'), spec('fra', '192.0.2.2')]));
    host.file('/srv/bot/ssh/id_ed25519', 'key', 0o600);
    host.denv.env.NODES_FILE = '/srv/nodes.json';
    host.nodes.set('192.0.2.1', 4);
    host.nodes.set('192.0.2.2', null);
    let report = await host.doctor();
    expect(report.ok).toBe(true);
    expect(report.find('vpn nodes').line).toBe('✔ vpn nodes — 3 nodes answer');
    expect(report.lines).toContain('    fra (root@192.0.2.2:22): awg0 down (the bot brings it up)');

    host.nodes.set('192.0.2.2', new Error('host key mismatch'));
    report = await host.doctor();
    expect(report.ok).toBe(false);
    expect(report.find('vpn nodes').line).toMatch(/^✘ vpn nodes — 1 of 3 nodes cannot be reached\. Fix: put the bot's public key/);
    expect(report.lines).toContain('    fra (root@192.0.2.2:22): host key mismatch');

    host.file('/srv/nodes.json', JSON.stringify([{ ...spec('ams', '192.0.2.1'), subnet: 'x' }, spec('ams', '192.0.2.1')]));
    report = await host.doctor();
    expect(report.find('vpn nodes').line).toMatch(/^✘ vpn nodes — NODES_FILE \/srv\/nodes\.json:\. Fix: fix the nodes file/);
    expect(report.lines).toContain('    - node 1: subnet: an IPv4 CIDR like 10.9.0.0/24');

    // Two nodes on one machine with one interface would overwrite each other's config and keys.
    host.file('/srv/nodes.json', JSON.stringify([spec('ams', '192.0.2.1'), { ...spec('ams2', '192.0.2.1'), port: 51821 }, { ...spec('here', '192.0.2.9'), ssh: 'local', iface: 'awg1' }]));
    report = await host.doctor();
    expect(report.find('vpn nodes').line).toMatch(/^✘ vpn nodes — NODES_FILE \/srv\/nodes\.json:/);
    expect(report.lines).toContain('    - nodes ams and ams2 are on one machine (192.0.2.1) with the same interface awg0: give each node its own interface and port');
    expect(report.lines).toContain('    - nodes awg0 and here are on one machine (this host) with the same port 51820: give each node its own interface and port');

    // No node on this host: its checks are not needed, whatever the host lacks.
    host.file('/srv/nodes.json', JSON.stringify([spec('ams', '192.0.2.1')]));
    host.denv.env.VPN_LOCAL = 'off';
    host.files.delete('/usr/bin/awg');
    host.files.delete('/dev/net/tun');
    report = await host.doctor();
    expect(report.ok).toBe(true);
    expect(report.find('binaries').line).toBe('✔ binaries — not needed: VPN_LOCAL=off, this host runs no VPN node');
    expect(report.find('vpn nodes').line).toBe('✔ vpn nodes — 1 nodes answer');
  });

  it('parsers: /proc/net/udp ports and subnet normalisation', () => {
    expect([...parseUdpPorts(UDP_HEADER + udpLine(53) + udpLine(51820))]).toEqual([53, 51820]);
    expect(parseUdpPorts('')).toEqual(new Set());
    expect(networkOf('10.8.0.77/24')).toBe('10.8.0.0/24');
    expect(networkOf('192.168.5.9/30')).toBe('192.168.5.8/30');
    expect(networkOf('10.8.0.0/0')).toBe('0.0.0.0/0');
  });
});

describe('doctor on the real host functions (temp files, Bot API stand-in)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** `path`: PATH instead of the fake awg and awg-quick; `module: false`: no amneziawg kernel module. */
  async function setUp(adminIds: string, opts: { migrated?: boolean; path?: string; module?: boolean } = {}) {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-doctor-'));
    cleanup.push(() => fs.rm(root, { recursive: true, force: true }));
    const api = new BotApiStandIn({ token: TOKEN, botUsername: 'andrey_vpn_bot' });
    await api.listen();
    cleanup.push(() => api.close());
    api.sendText({ id: 111, first_name: 'Ann' }, '/start');

    const bin = path.join(root, 'bin');
    await fs.mkdir(bin);
    for (const b of ['awg', 'awg-quick']) await fs.writeFile(path.join(bin, b), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const sys = (p: string) => path.join(root, 'sys', p);
    await fs.mkdir(sys(opts.module === false ? 'module' : 'module/amneziawg'), { recursive: true });
    await fs.mkdir(sys('class/net/awg0'), { recursive: true });
    await fs.writeFile(sys('status'), 'Name:\tnode\nCapEff:\t0000000000001000\n');
    await fs.writeFile(sys('tun'), '');
    await fs.writeFile(sys('ip_forward'), '1\n');
    await fs.writeFile(sys('udp'), UDP_HEADER + udpLine(51820));
    const paths: SystemPaths = {
      procSelfStatus: sys('status'),
      devNetTun: sys('tun'),
      sysModule: sys('module'),
      sysClassNet: sys('class/net'),
      ipForward: sys('ip_forward'),
      procNetUdp: [sys('udp'), sys('udp6-absent')],
    };

    // The project's database: DATA_DIR/bot.db, or a PostgreSQL schema named by DATABASE_URL.
    const dataDir = path.join(root, 'data');
    await fs.mkdir(dataDir, { mode: 0o700 });
    const database = await appDatabase({ dataDir });
    cleanup.push(database.drop);
    const db = await database.open();
    if (opts.migrated !== false) await migrate(db);
    await db.destroy();

    const env = {
      BOT_TOKEN: TOKEN,
      ADMIN_IDS: adminIds,
      VPN_ENDPOINT: 'vpn.example.com',
      TELEGRAM_API_ROOT: api.apiRoot,
      DATA_DIR: dataDir,
      VPN_NAT: 'off',
      PATH: opts.path ?? bin,
      ...database.env,
    };
    return { dataDir, bin, denv: realDoctorEnv(env, { paths }) };
  }

  it('all good: ok, every line passes', async () => {
    const { denv } = await setUp('111');
    const report = await runDoctor(denv);
    expect(report.lines.filter((l) => !l.startsWith('✔ '))).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.lines).toContain('✔ bot token — @andrey_vpn_bot');
    expect(report.lines.some((l) => new RegExp(`^✔ database — .*schema up to date \\(${MIGRATIONS.length} migrations?\\)$`).test(l))).toBe(true);
  });

  it('database: not migrated yet is a warning; an unreachable PostgreSQL fails with its fix', async () => {
    const { denv } = await setUp('111', { migrated: false });
    const fresh = await runDoctor(denv);
    expect(fresh.results.find((r) => r.name === 'database')).toMatchObject({ status: 'warn', detail: expect.stringMatching(new RegExp(`: ${MIGRATIONS.length} migration\\(s\\) pending`)) });
    expect(fresh.ok).toBe(true);

    // Nothing listens on port 1.
    denv.env.DATABASE_URL = 'postgres://bot:hunter2@127.0.0.1:1/vpn';
    const down = await runDoctor(denv);
    const line = down.lines.find((l) => l.includes('database —'))!;
    expect(line).toMatch(/^✘ database — cannot read PostgreSQL postgres:\/\/bot:\*\*\*@127\.0\.0\.1:1\/vpn: .*ECONNREFUSED.*\. Fix: check DATABASE_URL/);
    expect(down.lines.join('\n')).not.toContain('hunter2');
    expect(down.ok).toBe(false);
  });

  it.skipIf(!sharedAwg)('names the AmneziaWG it finds: the shared amneziawg-go (no kernel module) and awg, with the versions they print', async () => {
    const { denv } = await setUp('111', { path: AMNEZIAWG_BIN, module: false });
    const report = await runDoctor(denv);
    const pins = sharedPins();
    expect(report.lines).toContain(`✔ binaries — ${AMNEZIAWG_BIN}/awg (amneziawg-tools ${pins.get('amnezia-vpn/amneziawg-tools')?.tag}), ${AMNEZIAWG_BIN}/awg-quick`);
    expect(report.lines).toContain(`✔ vpn backend — userspace ${AMNEZIAWG_BIN}/amneziawg-go (amneziawg-go ${pins.get('amnezia-vpn/amneziawg-go')?.tag}; no amneziawg kernel module)`);
    expect(report.ok).toBe(true);
  });

  it('without the kernel module and without amneziawg-go on PATH: the backend fails, with both ways to fix it', async () => {
    const { denv, bin } = await setUp('111', { module: false });
    const report = await runDoctor(denv);
    expect(report.lines.filter((l) => !l.startsWith('✔ '))).toEqual([
      `✘ vpn backend — neither the amneziawg kernel module nor amneziawg-go found. Fix: install the amneziawg kernel module (DKMS package from the Amnezia PPA) or put amneziawg-go on PATH`,
    ]);
    expect(report.lines).toContain(`✔ binaries — ${bin}/awg (no version printed), ${bin}/awg-quick`);
    expect(report.ok).toBe(false);
  });

  it('an admin without /start and an open DATA_DIR: not ok, each named with its fix', async () => {
    const { denv, dataDir } = await setUp('111,222');
    await fs.chmod(dataDir, 0o755);
    const report = await runDoctor(denv);
    expect(report.ok).toBe(false);
    const failed = report.lines.filter((l) => l.startsWith('✘ '));
    expect(failed).toEqual([
      `✘ data dir — ${dataDir} has mode 0755, it holds private keys. Fix: chmod 700 ${dataDir}`,
      expect.stringMatching(/^✘ admin 222 — admin 222 has not sent \/start to the bot yet\. Fix: /),
    ]);
    expect(report.lines.join('\n')).not.toContain(TOKEN);
  });
});
