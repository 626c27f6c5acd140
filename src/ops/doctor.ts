// `npm run doctor`: checks everything the bot needs on this host and explains each finding in
// one line, with the fix. Every check is a function over a DoctorEnv, so tests can run each
// one against fake files, commands and Telegram answers, without root.
//
// Output, one line per check:
//   ✔ name — detail                  passed
//   ! name — detail                  warning: worth knowing, but the bot handles it (does not fail)
//   ✘ name — problem. Fix: how       failed
//   - name — skipped (reason)        not checked because an earlier check failed (counts as failed)
// The report is ok (exit 0) only when nothing failed or was skipped.
import fs from 'node:fs/promises';
import path from 'node:path';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { appliedMigrations, type DatabaseTarget, MIGRATIONS, openForReading, redactUrl } from '../db/index.js';
import type { NodeRow } from '../db/nodes.js';
import { run } from '../vpn/runner.js';
import { localNodeRow, parseNodesFile } from '../vpn/nodes.js';
import { createSshRunner } from '../vpn/ssh-runner.js';
import { type BotApiAnswer, type BotChat, callBotApi, checkBotToken } from './telegram.js';

export interface FileInfo {
  mode: number;
  isFile: boolean;
  isDirectory: boolean;
}

/** System files the checks read; injectable so tests can point them at fakes. */
export interface SystemPaths {
  procSelfStatus: string;
  devNetTun: string;
  sysModule: string;
  sysClassNet: string;
  ipForward: string;
  procNetUdp: string[];
}

export const SYSTEM_PATHS: SystemPaths = {
  procSelfStatus: '/proc/self/status',
  devNetTun: '/dev/net/tun',
  sysModule: '/sys/module',
  sysClassNet: '/sys/class/net',
  ipForward: '/proc/sys/net/ipv4/ip_forward',
  procNetUdp: ['/proc/net/udp', '/proc/net/udp6'],
};

export interface DoctorEnv {
  /** The environment the bot would see (.env merged under process.env). */
  env: Record<string, string | undefined>;
  /** Where the configuration comes from, for the fix hints. */
  envFile: string;
  run: (bin: string, args: string[]) => Promise<string>;
  readFile: (p: string) => Promise<string>;
  /** null when the path does not exist. Follows symlinks. */
  stat: (p: string) => Promise<FileInfo | null>;
  canWrite: (p: string) => Promise<boolean>;
  /** Names in the database's kysely_migration table ([] when the table is missing). */
  readMigrations: (database: DatabaseTarget) => Promise<string[]>;
  knownMigrations: readonly string[];
  fetch: typeof fetch;
  uid: number;
  nodeVersion: string;
  paths: SystemPaths;
  /** Reaches an SSH node and reads its interface index (null: interface down); throws when the node does not answer. */
  probeNode: (node: NodeRow) => Promise<number | null>;
}

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
  /** Extra lines printed under the check (e.g. each configuration problem). */
  more?: string[];
}

export interface DoctorReport {
  ok: boolean;
  results: CheckResult[];
  lines: string[];
}

const pass = (name: string, detail: string): CheckResult => ({ name, status: 'pass', detail });
const warn = (name: string, detail: string): CheckResult => ({ name, status: 'warn', detail });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'fail', detail, fix });
const skip = (name: string, reason: string): CheckResult => ({ name, status: 'skip', detail: reason });

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

export function formatResult(r: CheckResult): string[] {
  const mark = { pass: '✔', warn: '!', fail: '✘', skip: '-' }[r.status];
  const detail = r.status === 'skip' ? `skipped (${r.detail})` : r.detail;
  const line = `${mark} ${r.name} — ${detail}${r.fix ? `. Fix: ${r.fix}` : ''}`;
  return [line, ...(r.more ?? []).map((m) => `    ${m}`)];
}

/** First executable file called `name` in the PATH directories, without spawning `which`. */
export async function findOnPath(denv: DoctorEnv, name: string): Promise<string | null> {
  for (const dir of (denv.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    // An unreadable PATH entry is skipped, as the shell would.
    const info = await denv.stat(file).catch(() => null);
    if (info?.isFile && (info.mode & 0o111) !== 0) return file;
  }
  return null;
}

const exists = async (denv: DoctorEnv, p: string): Promise<boolean> => (await denv.stat(p)) !== null;

// ---------------------------------------------------------------- checks without config

export function checkNode(denv: DoctorEnv): CheckResult {
  const m = /^v?(\d+)\.(\d+)/.exec(denv.nodeVersion);
  const [major, minor] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (major > 20 || (major === 20 && minor >= 12)) return pass('node', `Node.js ${denv.nodeVersion}`);
  return fail('node', `Node.js ${denv.nodeVersion} is too old, the bot needs ≥ 20.12`, 'install Node.js 20 LTS or newer (nodejs.org or NodeSource packages)');
}

export function checkConfig(denv: DoctorEnv): { result: CheckResult; config: Config | null } {
  try {
    const config = loadConfig(denv.env);
    const v = config.vpn;
    return { result: pass('config', `valid (${v.flavor}, interface ${v.iface}, endpoint ${v.endpoint})`), config };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const n = e.problems.length;
    return {
      result: {
        ...fail('config', `${n} problem${n === 1 ? '' : 's'} in the configuration`, `edit ${denv.envFile} (see .env.example) or run npm run setup`),
        more: e.problems,
      },
      config: null,
    };
  }
}

// ---------------------------------------------------------------- checks that need config

type Check = (denv: DoctorEnv, config: Config) => Promise<CheckResult | CheckResult[]>;

const flavorNames = (config: Config) =>
  config.vpn.flavor === 'amneziawg'
    ? { tool: 'awg', quick: 'awg-quick', module: 'amneziawg', userspace: 'amneziawg-go', pkg: 'amneziawg-tools' }
    : { tool: 'wg', quick: 'wg-quick', module: 'wireguard', userspace: 'wireguard-go', pkg: 'wireguard-tools' };

/** The first line of `<file> --version` (`awg`: "amneziawg-tools v1.0.20260223"), or why it did not run. */
async function versionOf(denv: DoctorEnv, file: string): Promise<{ version: string } | { problem: string }> {
  try {
    const first = (await denv.run(file, ['--version'])).split('\n').find((l) => l.trim()) ?? '';
    // The tools add " - <homepage>" after the version.
    return { version: first.trim().replace(/ - https?:\/\/\S*$/, '') || 'no version printed' };
  } catch (e) {
    return { problem: `${path.basename(file)} --version failed: ${errorText(e).slice(0, 200)}` };
  }
}

export const checkBinaries: Check = async (denv, config) => {
  const { tool, quick, pkg } = flavorNames(config);
  const [toolFile, quickFile] = await Promise.all([tool, quick].map((b) => findOnPath(denv, b)));
  if (!toolFile || !quickFile) {
    const missing = [toolFile ? '' : tool, quickFile ? '' : quick].filter(Boolean);
    return fail('binaries', `${missing.join(' and ')} not found on PATH`, `install ${pkg} (it provides ${tool} and ${quick})`);
  }
  const v = await versionOf(denv, toolFile);
  if ('problem' in v) return fail('binaries', `${toolFile} does not run: ${v.problem}`, `reinstall ${pkg} for this machine`);
  return pass('binaries', `${toolFile} (${v.version}), ${quickFile}`);
};

const CAP_NET_ADMIN = 12n;

export const checkPrivileges: Check = async (denv) => {
  if (denv.uid === 0) return pass('privileges', 'running as root');
  const fix = 'run the bot (and this check) as root, e.g. sudo npm run doctor, or grant CAP_NET_ADMIN (systemd: AmbientCapabilities=CAP_NET_ADMIN)';
  let status: string;
  try {
    status = await denv.readFile(denv.paths.procSelfStatus);
  } catch (e) {
    return fail('privileges', `not root (uid ${denv.uid}) and cannot read ${denv.paths.procSelfStatus}: ${errorText(e)}`, fix);
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)/m.exec(status);
  if (m && (BigInt(`0x${m[1]}`) >> CAP_NET_ADMIN) & 1n) return pass('privileges', `uid ${denv.uid} with CAP_NET_ADMIN`);
  return fail('privileges', `not root (uid ${denv.uid}) and no CAP_NET_ADMIN: the bot cannot manage the interface`, fix);
};

export const checkTun: Check = async (denv, config) => {
  if (await exists(denv, denv.paths.devNetTun)) return pass('tun device', `${denv.paths.devNetTun} exists`);
  // /dev/net/tun only matters for the userspace fallback; with the kernel module loaded it is not used.
  const { module } = flavorNames(config);
  if (await exists(denv, path.join(denv.paths.sysModule, module))) {
    return warn('tun device', `${denv.paths.devNetTun} is missing; not needed while the ${module} kernel module is loaded`);
  }
  return fail(
    'tun device',
    `${denv.paths.devNetTun} is missing (the userspace fallback needs it)`,
    'modprobe tun; in Docker pass --device /dev/net/tun (compose: devices: ["/dev/net/tun"])',
  );
};

export const checkKernelOrUserspace: Check = async (denv, config) => {
  const { module, userspace } = flavorNames(config);
  const name = 'vpn backend';
  if (await exists(denv, path.join(denv.paths.sysModule, module))) {
    // Modules that declare a version show it here; the in-tree wireguard does not.
    const version = (await denv.readFile(path.join(denv.paths.sysModule, module, 'version')).catch(() => '')).trim();
    return pass(name, `${module} kernel module ${version ? `${version} ` : ''}loaded`);
  }
  // Installed but not loaded yet: the first `ip link add type <module>` loads it.
  const modinfo = await findOnPath(denv, 'modinfo');
  if (modinfo) {
    try {
      await denv.run(modinfo, ['-F', 'filename', module]);
      return pass(name, `${module} kernel module installed (loaded on first use)`);
    } catch {
      // not installed; look for the userspace implementation
    }
  }
  const go = await findOnPath(denv, userspace);
  if (go) {
    const v = await versionOf(denv, go);
    if ('problem' in v) return fail(name, `no ${module} kernel module, and ${go} does not run: ${v.problem}`, `reinstall ${userspace} for this machine, or install the ${module} kernel module`);
    return pass(name, `userspace ${go} (${v.version}; no ${module} kernel module)`);
  }
  const fix =
    module === 'amneziawg'
      ? 'install the amneziawg kernel module (DKMS package from the Amnezia PPA) or put amneziawg-go on PATH'
      : 'modprobe wireguard (Linux ≥ 5.6 has it), or apt-get install wireguard-go';
  return fail(name, `neither the ${module} kernel module nor ${userspace} found`, fix);
};

const ifaceExists = (denv: DoctorEnv, iface: string) => exists(denv, path.join(denv.paths.sysClassNet, iface));

/** The VPN nodes: the local one (VPN_*), and those of NODES_FILE, each reached over SSH. */
export const checkVpnNodes: Check = async (denv, config) => {
  const name = 'vpn nodes';
  const local = config.vpn.local ? [`${config.vpn.node} (local)`] : [];
  if (!config.nodes.file) return pass(name, local.join(', '));
  let rows: NodeRow[];
  try {
    const localRow = config.vpn.local ? [localNodeRow(config.vpn, 0)] : [];
    rows = parseNodesFile(await denv.readFile(config.nodes.file), config.nodes.file, { flavor: config.vpn.flavor, sshKeyFile: config.nodes.sshKeyFile }, 0, localRow);
  } catch (e) {
    const [first, ...rest] = errorText(e).split('\n');
    return { ...fail(name, first!, 'fix the nodes file (a JSON array; see the README, "Several VPN nodes")'), more: rest.map((l) => l.trim()) };
  }
  const found: string[] = [...local];
  const problems: string[] = [];
  for (const node of rows.filter((r) => r.ssh_host !== null)) {
    const where = `${node.name} (${node.ssh_user}@${node.ssh_host}:${node.ssh_port})`;
    const key = await denv.stat(node.ssh_key_file!);
    if (!key?.isFile) {
      problems.push(`${where}: no SSH key at ${node.ssh_key_file}`);
      continue;
    }
    try {
      const index = await denv.probeNode(node);
      found.push(`${where}: ${index === null ? `${node.iface} down (the bot brings it up)` : `${node.iface} up`}`);
    } catch (e) {
      problems.push(`${where}: ${errorText(e).slice(0, 200)}`);
    }
  }
  for (const node of rows.filter((r) => r.ssh_host === null)) found.push(`${node.name} (local)`);
  if (problems.length) {
    return { ...fail(name, `${problems.length} of ${rows.length + local.length} nodes cannot be reached`, "put the bot's public key in root's authorized_keys on the node and check ssh= and hostkey= (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)"), more: [...problems, ...found] };
  }
  return { ...pass(name, `${found.length} nodes answer`), more: found };
};

export const checkInterface: Check = async (denv, config) => {
  const { iface } = config.vpn;
  if (await ifaceExists(denv, iface)) return pass('interface', `${iface} is up`);
  // Not a failure: on start the bot writes the config and runs *-quick up itself.
  return warn('interface', `${iface} is down (the bot brings it up on start)`);
};

export const checkIpForward: Check = async (denv) => {
  const fix = 'sysctl -w net.ipv4.ip_forward=1, and persist it: echo net.ipv4.ip_forward=1 > /etc/sysctl.d/99-andreyvpn.conf';
  let value: string;
  try {
    value = (await denv.readFile(denv.paths.ipForward)).trim();
  } catch (e) {
    return fail('ip_forward', `cannot read ${denv.paths.ipForward}: ${errorText(e)}`, fix);
  }
  if (value === '1') return pass('ip_forward', 'on');
  return fail('ip_forward', `net.ipv4.ip_forward is ${value || 'empty'}: clients cannot reach the internet through the server`, fix);
};

/** 10.8.0.7/24 → 10.8.0.0/24, the form iptables prints. */
export function networkOf(cidr: string): string {
  const [ip = '', prefixText = '32'] = cidr.split('/');
  const prefix = Number(prefixText);
  const n = ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  const mask = prefix === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - prefix)) - 1n);
  const net = n & mask;
  return `${[24n, 16n, 8n, 0n].map((s) => (net >> s) & 255n).join('.')}/${prefix}`;
}

export const checkNat: Check = async (denv, config) => {
  const { nat, subnet, iface } = config.vpn;
  if (!nat) return pass('nat', 'off (VPN_NAT=off)');
  const iptables = await findOnPath(denv, 'iptables');
  if (!iptables) return fail('nat', 'iptables not found on PATH (VPN_NAT=on needs it)', 'apt-get install iptables');
  let rules: string;
  try {
    rules = await denv.run(iptables, ['-t', 'nat', '-S', 'POSTROUTING']);
  } catch (e) {
    return fail('nat', `cannot list NAT rules: ${errorText(e)}`, 'run this check as root (sudo npm run doctor)');
  }
  const source = networkOf(subnet);
  const found = rules
    .split('\n')
    .some((l) => /\s-j MASQUERADE\b/.test(l) && l.split(/\s+/).some((w, i, all) => w === '-s' && all[i + 1] === source));
  if (found) return pass('nat', `MASQUERADE for ${source}`);
  // The bot's PostUp adds the rule when it brings the interface up; before that, missing is expected.
  if (!(await ifaceExists(denv, iface))) return warn('nat', `no MASQUERADE rule for ${source} yet (added by PostUp when the bot brings ${iface} up)`);
  return fail(
    'nat',
    `no MASQUERADE rule for ${source} while ${iface} is up: clients have no internet`,
    `iptables -t nat -A POSTROUTING -s ${source} -o <WAN interface, e.g. eth0> -j MASQUERADE (or set VPN_WAN_INTERFACE and restart ${iface})`,
  );
};

/** Local ports in /proc/net/udp{,6} text. */
export function parseUdpPorts(text: string): Set<number> {
  const ports = new Set<number>();
  for (const line of text.split('\n').slice(1)) {
    const local = line.trim().split(/\s+/)[1];
    const hex = local?.split(':').pop();
    if (hex && /^[0-9A-Fa-f]{4}$/.test(hex)) ports.add(parseInt(hex, 16));
  }
  return ports;
}

export const checkUdpPort: Check = async (denv, config) => {
  const { port, iface } = config.vpn;
  const name = 'udp port';
  let bound = false;
  let readable = 0;
  for (const file of denv.paths.procNetUdp) {
    try {
      if (parseUdpPorts(await denv.readFile(file)).has(port)) bound = true;
      readable++;
    } catch {
      // udp6 is absent when IPv6 is disabled
    }
  }
  if (readable === 0) return warn(name, `cannot read ${denv.paths.procNetUdp.join(' or ')}; port ${port} not checked`);
  const ours = await ifaceExists(denv, iface);
  if (!bound) {
    if (ours) return warn(name, `${iface} is up but nothing listens on UDP ${port} (was VPN_PORT changed after the first start?)`);
    return pass(name, `UDP ${port} is free`);
  }
  if (ours) return pass(name, `UDP ${port} is bound by ${iface}`);
  return fail(name, `port ${port} is used by another program`, `find it with ss -ulpn 'sport = :${port}' and stop it, or set VPN_PORT to a free port`);
};

export const checkDataDir: Check = async (denv, config) => {
  const dir = config.dataDir;
  const name = 'data dir';
  const info = await denv.stat(dir);
  if (!info) {
    // The bot creates it (0700) on start; that only needs the nearest existing parent to be writable.
    let parent = path.dirname(dir);
    while (!(await denv.stat(parent)) && parent !== path.dirname(parent)) parent = path.dirname(parent);
    if (await denv.canWrite(parent)) return pass(name, `${dir} does not exist yet (created 0700 on first start)`);
    return fail(name, `${dir} does not exist and ${parent} is not writable`, `mkdir -m 700 -p ${dir} as the user that runs the bot`);
  }
  if (!info.isDirectory) return fail(name, `${dir} is not a directory`, 'set DATA_DIR to a directory');
  if (!(await denv.canWrite(dir))) return fail(name, `${dir} is not writable by uid ${denv.uid}`, `run the bot as the owner of ${dir}, or chown it to that user`);
  if ((info.mode & 0o777) !== 0o700) {
    return fail(name, `${dir} has mode ${octal(info.mode)}, it holds private keys`, `chmod 700 ${dir}`);
  }
  return pass(name, `${dir} (0700)`);
};

export const checkDatabase: Check = async (denv, config) => {
  const name = 'database';
  const { database } = config;
  let where: string;
  let fix: string;
  if (database.kind === 'sqlite') {
    const file = database.path;
    const info = await denv.stat(file);
    if (!info) return pass(name, `${file} does not exist yet (created on first start)`);
    if ((info.mode & 0o777) !== 0o600) return fail(name, `${file} has mode ${octal(info.mode)}, it holds private keys`, `chmod 600 ${file}`);
    where = file;
    fix = 'check the file is a SQLite database the bot wrote, or restore a backup from DATA_DIR/backups';
  } else {
    where = `PostgreSQL ${redactUrl(database.url)}`;
    fix = 'check DATABASE_URL (host, port, user, password, database) and that PostgreSQL is running and lets this user connect';
  }
  let applied: string[];
  try {
    applied = await denv.readMigrations(database);
  } catch (e) {
    return fail(name, `cannot read ${where}: ${errorText(e)}`, fix);
  }
  const unknown = applied.filter((m) => !denv.knownMigrations.includes(m));
  if (unknown.length) {
    return fail(name, `migrated by a newer version of the bot (unknown: ${unknown.join(', ')})`, 'run that newer version, or restore a backup made by this one');
  }
  const pending = denv.knownMigrations.filter((m) => !applied.includes(m));
  // Pending migrations are normal after an upgrade (or before the first start): the bot applies them on start.
  if (pending.length) return warn(name, `${where}: ${pending.length} migration(s) pending (${pending.join(', ')}), applied on next start`);
  return pass(name, `${where}, schema up to date (${applied.length} migration${applied.length === 1 ? '' : 's'})`);
};

export const checkTelegram: Check = async (denv, config) => {
  const me = await checkBotToken(denv.fetch, config.telegramApiRoot, config.botToken);
  if (!me.ok) {
    return [fail('bot token', me.problem, me.fix), ...config.adminIds.map((id) => skip(`admin ${id}`, 'the bot token does not work'))];
  }
  const admins = await Promise.all(config.adminIds.map((id) => checkAdmin(denv, config, id, me.username)));
  return [pass('bot token', `@${me.username}`), ...admins];
};

async function checkAdmin(denv: DoctorEnv, config: Config, id: number, botUsername: string): Promise<CheckResult> {
  const name = `admin ${id}`;
  let answer: BotApiAnswer<BotChat>;
  try {
    answer = await callBotApi<BotChat>(denv.fetch, config.telegramApiRoot, config.botToken, 'getChat', { chat_id: id });
  } catch (e) {
    return fail(name, errorText(e), 'check the network, then run the doctor again');
  }
  if (answer.ok) {
    const who = answer.result.username ? `@${answer.result.username}` : (answer.result.first_name ?? 'user');
    return pass(name, `${who} has started the bot`);
  }
  if (answer.status === 400 && /chat not found/i.test(answer.description)) {
    return fail(name, `admin ${id} has not sent /start to the bot yet`, `open https://t.me/${botUsername} from that account and press Start (and check the id with @userinfobot)`);
  }
  return fail(name, `getChat answered ${answer.status} ${answer.description}`, 'check ADMIN_IDS');
}

/** The checks that need a valid configuration, in output order. */
/** local: a check of this host's own VPN node, not needed when VPN_LOCAL=off. */
export const CONFIG_CHECKS: { name: string; check: Check; local?: true }[] = [
  { name: 'binaries', check: checkBinaries, local: true },
  { name: 'privileges', check: checkPrivileges, local: true },
  { name: 'tun device', check: checkTun, local: true },
  { name: 'vpn backend', check: checkKernelOrUserspace, local: true },
  { name: 'interface', check: checkInterface, local: true },
  { name: 'ip_forward', check: checkIpForward, local: true },
  { name: 'nat', check: checkNat, local: true },
  { name: 'udp port', check: checkUdpPort, local: true },
  { name: 'vpn nodes', check: checkVpnNodes },
  { name: 'data dir', check: checkDataDir },
  { name: 'database', check: checkDatabase },
  { name: 'telegram', check: checkTelegram },
];

export async function runDoctor(denv: DoctorEnv): Promise<DoctorReport> {
  const results: CheckResult[] = [checkNode(denv)];
  const { result, config } = checkConfig(denv);
  results.push(result);
  if (!config) {
    results.push(...CONFIG_CHECKS.map((c) => skip(c.name, 'the configuration is invalid')));
  } else {
    // Independent of each other, so they run together; results keep the listed order.
    const found = await Promise.all(
      CONFIG_CHECKS.map(({ name, check, local }) =>
        (local && !config.vpn.local ? Promise.resolve(pass(name, 'not needed: VPN_LOCAL=off, this host runs no VPN node')) : check(denv, config)).catch((e: unknown) => fail(name, `could not check: ${errorText(e)}`, 'run the doctor as the user that runs the bot (usually root)')),
      ),
    );
    results.push(...found.flat());
  }
  const ok = results.every((r) => r.status === 'pass' || r.status === 'warn');
  return { ok, results, lines: results.flatMap(formatResult) };
}

// ---------------------------------------------------------------- the real host

async function statOrNull(p: string): Promise<FileInfo | null> {
  try {
    const s = await fs.stat(p);
    return { mode: s.mode, isFile: s.isFile(), isDirectory: s.isDirectory() };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

async function readMigrations(target: DatabaseTarget): Promise<string[]> {
  // SQLite read-only, so the doctor can look at the database of a running bot without disturbing it.
  const db = await openForReading(target);
  try {
    return await appliedMigrations(db);
  } finally {
    await db.destroy();
  }
}

/** A DoctorEnv over the real host; `overrides` replace parts (tests point paths at temp files). */
export function realDoctorEnv(env: Record<string, string | undefined>, overrides: Partial<DoctorEnv> = {}): DoctorEnv {
  return {
    env,
    envFile: env.ENV_FILE ?? '.env',
    run: (bin, args) => run(bin, args, { timeoutMs: 10_000 }),
    readFile: (p) => fs.readFile(p, 'utf8'),
    stat: statOrNull,
    canWrite: (p) =>
      fs.access(p, fs.constants.W_OK).then(
        () => true,
        () => false,
      ),
    readMigrations,
    knownMigrations: MIGRATIONS,
    fetch: globalThis.fetch,
    uid: process.getuid?.() ?? -1,
    nodeVersion: process.version,
    paths: SYSTEM_PATHS,
    probeNode: async (node) => {
      const runner = createSshRunner(node.flavor, { host: node.ssh_host!, port: node.ssh_port!, user: node.ssh_user!, privateKeyFile: node.ssh_key_file!, hostKey: node.ssh_host_key! }, { timeoutMs: 8_000, connectTimeoutMs: 5_000 });
      try {
        return await runner.ifindex(node.iface);
      } finally {
        await runner.close();
      }
    },
    ...overrides,
  };
}
