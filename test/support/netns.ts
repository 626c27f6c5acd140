// Real WireGuard tunnels between two network namespaces, for tests that run as root.
//
// Usage in a test file (vitest allows top-level await, and skipIf needs a plain boolean):
//
//   import { NetnsLab, realPartsGate } from '../support/netns.js';
//   const real = await realPartsGate(); // throws when CI=true and parts are missing
//   describe.skipIf(!real)('real tunnel', () => {
//     let lab: NetnsLab;
//     beforeAll(async () => { lab = await NetnsLab.create(); }, 30_000);
//     afterAll(async () => { await lab?.cleanup(); });
//     it('pings', async () => { … await lab.bringUpClient('wireguard', conf, `wgc${lab.suffix}`); … });
//   });
//
// Every name carries a per-run suffix: the UAPI sockets in /var/run/wireguard (and
// /var/run/amneziawg) are shared by all namespaces, so two runs using "wg0" would collide.
// Private keys travel by stdin only. The amneziawg flavor needs the shared binaries on PATH
// (test/support/amneziawg.ts).
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { intToIp, ipToInt } from '../../src/vpn/pool.js';
import type { VpnFlavor } from '../../src/vpn/types.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  stdin?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LabSpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default: stdin ignored, stdout+stderr captured (see LabProcess.output()). */
  stdio?: StdioOptions;
}

export interface LabProcess {
  child: ChildProcess;
  pid: number | undefined;
  /** Captured stdout+stderr (last 1 MiB), when the default stdio was used. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface WgQuickOptions {
  /** Drop `DNS =` lines (no resolvconf here). Default true. */
  stripDns?: boolean;
  /**
   * Replace `0.0.0.0/0` / `::/0` in AllowedIPs by two /1 halves each. wg-quick sets up a
   * default route with nft or iptables-restore, neither of which is installed here; the
   * halves route the same traffic through plain routes. Default true.
   */
  splitDefaultRoute?: boolean;
  timeoutMs?: number;
}

// wireguard-go refuses to run on a kernel with WireGuard without it; amneziawg-go ignores it.
const WG_ENV = { WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' };
const UAPI_DIRS = ['/var/run/wireguard', '/var/run/amneziawg'];
const REQUIRED_BINARIES = ['ip', 'wg', 'wg-quick', 'wireguard-go', 'ping'];

/** A flavor's command-line tool, its *-quick script and the userspace daemon *-quick falls back to. */
export function flavorTools(flavor: VpnFlavor): { tool: 'wg' | 'awg'; quick: 'wg-quick' | 'awg-quick'; daemon: 'wireguard-go' | 'amneziawg-go' } {
  return flavor === 'amneziawg' ? { tool: 'awg', quick: 'awg-quick', daemon: 'amneziawg-go' } : { tool: 'wg', quick: 'wg-quick', daemon: 'wireguard-go' };
}

/** A veth pair made by NetnsLab.link(); `aNs` null = the root namespace. */
export interface LabLink {
  aNs: string | null;
  aDev: string;
  aIp: string;
  bNs: string;
  bDev: string;
  bIp: string;
}

/** The address ranges routed in a namespace (null: root), as [first, last] integers. */
async function routedRanges(ns: string | null): Promise<[number, number][]> {
  const { stdout } = await run(['ip', ...(ns ? ['-n', ns] : []), '-4', '-o', 'route', 'show', 'table', 'all']);
  const ranges: [number, number][] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(?:(?:local|broadcast|unicast) )?(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?\s/.exec(line);
    if (!m) continue;
    const size = 2 ** (32 - Number(m[2] ?? 32));
    const start = ipToInt(m[1]!) - (ipToInt(m[1]!) % size);
    ranges.push([start, start + size - 1]);
  }
  return ranges;
}

/** Short random [a-z0-9]{5}. */
export function uniqueSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

export function onPath(bin: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, bin), fs.constants.X_OK);
      return true;
    } catch {
      /* keep looking */
    }
  }
  return false;
}

/** Runs argv (no shell), rejecting with the command, exit status and stderr. Never echoes stdin. */
export function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new Error('run: empty argv'));
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        encoding: 'utf8',
        timeout: opts.timeoutMs ?? 30_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        env: opts.env ?? process.env,
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
      },
      (err, stdout, stderr) => {
        if (err) {
          const status = err.killed ? 'timed out' : `exit ${String(err.code ?? err.signal ?? '?')}`;
          reject(new Error(`\`${argv.join(' ')}\` failed (${status}): ${stderr.trim() || err.message}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.stdin ?? '');
  });
}

let availability: Promise<{ ok: boolean; missing: string[] }> | null = null;

/** Whether the real-tunnel tests can run here (root, binaries, /dev/net/tun, `ip netns add`). */
export function realPartsAvailable(): Promise<{ ok: boolean; missing: string[] }> {
  availability ??= (async () => {
    const missing: string[] = [];
    const root = process.getuid?.() === 0;
    if (!root) missing.push('root (uid 0)');
    for (const bin of REQUIRED_BINARIES) if (!onPath(bin)) missing.push(bin);
    if (!fs.existsSync('/dev/net/tun')) missing.push('/dev/net/tun');
    if (root && onPath('ip')) {
      const probe = `avP${uniqueSuffix()}`;
      try {
        await run(['ip', 'netns', 'add', probe], { timeoutMs: 10_000 });
        await run(['ip', 'netns', 'del', probe], { timeoutMs: 10_000 });
      } catch (err) {
        missing.push(`ip netns add (${err instanceof Error ? err.message : String(err)})`);
        await run(['ip', 'netns', 'del', probe]).catch(() => undefined);
      }
    }
    return { ok: missing.length === 0, missing };
  })();
  return availability;
}

/**
 * true when real parts are available. When they are not: throws if CI=true (a CI run must
 * not silently skip the real-tunnel tests), otherwise returns false for describe.skipIf.
 */
export async function realPartsGate(): Promise<boolean> {
  return gateOn(await realPartsAvailable());
}

/** realPartsGate's rule for any availability check. */
export function gateOn({ ok, missing }: { ok: boolean; missing: string[] }): boolean {
  if (ok) return true;
  if (process.env.CI === 'true') {
    throw new Error(`real-parts tests cannot run: missing ${missing.join(', ')} (CI=true, refusing to skip)`);
  }
  return false;
}

/** A fresh WireGuard key pair (`wg genkey`, `wg pubkey` with the private key on stdin). */
export async function wgKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = (await run(['wg', 'genkey'])).stdout.trim();
  const publicKey = (await run(['wg', 'pubkey'], { stdin: `${privateKey}\n` })).stdout.trim();
  return { privateKey, publicKey };
}

/** Rewrites a wg-quick config for this machine: see WgQuickOptions. Other lines (I1–I5 above all) stay byte for byte. */
export function adaptConfForLab(conf: string, opts: Pick<WgQuickOptions, 'stripDns' | 'splitDefaultRoute'> = {}): string {
  const stripDns = opts.stripDns ?? true;
  const split = opts.splitDefaultRoute ?? true;
  return conf
    .split(/\r?\n/)
    .filter((line) => !(stripDns && /^\s*DNS\s*=/i.test(line)))
    .map((line) => {
      const m = /^(\s*AllowedIPs\s*=\s*)(.*)$/i.exec(line);
      if (!split || !m) return line;
      const ips = (m[2] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .flatMap((ip) => (ip === '0.0.0.0/0' ? ['0.0.0.0/1', '128.0.0.0/1'] : ip === '::/0' ? ['::/1', '8000::/1'] : [ip]));
      return `${m[1] ?? ''}${ips.join(', ')}`;
    })
    .join('\n');
}

function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    alive = alive.filter(isAlive);
  }
  return alive;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

export class NetnsLab {
  readonly serverNs: string;
  readonly clientNs: string;
  readonly serverVeth: string;
  readonly clientVeth: string;
  /** The veth /24, e.g. "10.213.7" (server .1, client .2). */
  readonly subnetPrefix: string;
  readonly serverIp: string;
  readonly clientIp: string;
  /** A 0700 directory for configs, logs, databases of this lab; removed by cleanup(). */
  tmpDir = '';

  private readonly namespaces: string[] = [];
  /** Veth ends in the root namespace: they go with their peer's namespace, but not if that failed. */
  private readonly rootDevs: string[] = [];
  private links = 0;
  private readonly interfaces = new Set<string>();
  /** The flavor each wgQuickUp used, so its wgQuickDown runs the same *-quick. */
  private readonly quickFlavors = new Map<string, VpnFlavor>();
  private readonly processes = new Set<LabProcess>();
  private readonly cleanups: (() => Promise<void>)[] = [];
  private cleanupPromise: Promise<void> | null = null;

  private constructor(readonly suffix: string) {
    this.serverNs = `avS${suffix}`;
    this.clientNs = `avC${suffix}`;
    this.serverVeth = `avvS${suffix}`;
    this.clientVeth = `avvC${suffix}`;
    this.subnetPrefix = `10.${200 + randomInt(55)}.${randomInt(256)}`;
    this.serverIp = `${this.subnetPrefix}.1`;
    this.clientIp = `${this.subnetPrefix}.2`;
  }

  static async create(): Promise<NetnsLab> {
    const lab = new NetnsLab(uniqueSuffix());
    try {
      lab.tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), `avlab-${lab.suffix}-`));
      await fsp.chmod(lab.tmpDir, 0o700);
      for (const ns of [lab.serverNs, lab.clientNs]) await lab.addNamespaceNamed(ns);
      await lab.addVeth(
        { ns: lab.serverNs, dev: lab.serverVeth, ip: lab.serverIp },
        { ns: lab.clientNs, dev: lab.clientVeth, ip: lab.clientIp },
        24,
      );
      return lab;
    } catch (err) {
      await lab.cleanup();
      throw err;
    }
  }

  /** Adds a namespace `av<tag><suffix>` (loopback up); cleanup() removes it. `tag`: 1–3 letters, unique in this lab. */
  async addNamespace(tag: string): Promise<string> {
    if (!/^[A-Za-z]{1,3}$/.test(tag)) throw new Error(`bad namespace tag ${JSON.stringify(tag)}`);
    const ns = `av${tag}${this.suffix}`;
    if (this.namespaces.includes(ns)) throw new Error(`namespace tag ${tag} is taken in this lab (S and C are the server's and the client's)`);
    await this.addNamespaceNamed(ns);
    return ns;
  }

  private async addNamespaceNamed(ns: string): Promise<void> {
    await run(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /**
   * A veth pair between namespace `a` (null: the root namespace, where the test process runs) and
   * namespace `b`, on a /30 of its own (a .1, b .2) that overlaps no route on either side. Root-side
   * links take 172.20–31.x.y (the root namespace is shared with every other test run).
   */
  async link(a: string | null, b: string): Promise<LabLink> {
    const n = this.links++;
    const aDev = `avl${n}a${this.suffix}`;
    const bDev = `avl${n}b${this.suffix}`;
    const taken = [...(await routedRanges(a)), ...(await routedRanges(b))];
    for (let attempt = 0; attempt < 20; attempt++) {
      const base = a === null ? (((172 << 24) >>> 0) + ((20 + randomInt(12)) << 16)) : (((10 << 24) >>> 0) + ((200 + randomInt(55)) << 16));
      const net = base + randomInt(1 << 14) * 4;
      if (taken.some(([lo, hi]) => net <= hi && lo <= net + 3)) continue;
      const link = { aNs: a, aDev, aIp: intToIp(net + 1), bNs: b, bDev, bIp: intToIp(net + 2) };
      await this.addVeth({ ns: a, dev: aDev, ip: link.aIp }, { ns: b, dev: bDev, ip: link.bIp }, 30);
      return link;
    }
    throw new Error('no free /30 for a lab link');
  }

  private async addVeth(a: { ns: string | null; dev: string; ip: string }, b: { ns: string; dev: string; ip: string }, prefix: number): Promise<void> {
    if (a.ns === null) this.rootDevs.push(a.dev);
    await run(['ip', 'link', 'add', a.dev, ...(a.ns ? ['netns', a.ns] : []), 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns]);
    for (const { ns, dev, ip } of [a, b]) {
      const at = ns ? ['-n', ns] : [];
      await run(['ip', ...at, 'addr', 'add', `${ip}/${prefix}`, 'dev', dev]);
      await run(['ip', ...at, 'link', 'set', dev, 'up']);
    }
  }

  /** Runs a short command inside `ns` (execFile; for wg-quick use wgQuickUp). */
  exec(ns: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return run(['ip', 'netns', 'exec', ns, ...argv], opts);
  }

  /** Starts a long-running process inside `ns`; cleanup() stops it. */
  spawn(ns: string, argv: readonly string[], opts: LabSpawnOptions = {}): LabProcess {
    const captured = opts.stdio === undefined;
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
      env: opts.env ?? process.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const append = (d: Buffer): void => {
      out = (out + d.toString('utf8')).slice(-1024 * 1024);
    };
    if (captured) {
      child.stdout?.on('data', append);
      child.stderr?.on('data', append);
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      child.once('exit', (code, sig) => resolve({ code, signal: sig }));
      child.once('error', (err) => {
        append(Buffer.from(`spawn error: ${err.message}\n`));
        resolve({ code: null, signal: null });
      });
    });
    const proc: LabProcess = {
      child,
      pid: child.pid,
      output: () => out,
      exited,
      stop: async (graceMs = 3000) => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timedOut = await Promise.race([
            exited.then(() => false),
            new Promise<boolean>((r) => setTimeout(() => r(true), graceMs)),
          ]);
          if (timedOut) child.kill('SIGKILL');
        }
        await exited;
      },
    };
    this.processes.add(proc);
    return proc;
  }

  /** Remembers an interface name so cleanup() removes a stale UAPI socket for it. */
  trackInterface(ifName: string): void {
    this.interfaces.add(ifName);
  }

  /**
   * Writes `<ifName>.conf` (0600, in tmpDir) and runs the flavor's *-quick up on it inside `ns`.
   * *-quick starts the userspace daemon, which keeps the stdio it inherits: it gets a log file,
   * and we wait for *-quick's exit rather than for closed pipes. Returns the config path.
   */
  async wgQuickUp(flavor: VpnFlavor, ns: string, confText: string, ifName: string, opts: WgQuickOptions = {}): Promise<string> {
    if (!/^[a-zA-Z0-9_=+.-]{1,15}$/.test(ifName)) throw new Error(`bad interface name ${JSON.stringify(ifName)}`);
    this.trackInterface(ifName);
    const confPath = path.join(this.tmpDir, `${ifName}.conf`);
    await fsp.writeFile(confPath, `${adaptConfForLab(confText, opts).trimEnd()}\n`, { mode: 0o600 });
    await fsp.chmod(confPath, 0o600);
    this.quickFlavors.set(ifName, flavor);
    await this.wgQuick(flavor, ns, 'up', confPath, ifName, opts.timeoutMs ?? 30_000);
    return confPath;
  }

  /** *-quick down (the flavor wgQuickUp used) for a config written by wgQuickUp. */
  async wgQuickDown(ns: string, ifName: string, timeoutMs = 30_000): Promise<void> {
    const flavor = this.quickFlavors.get(ifName);
    if (!flavor) throw new Error(`${ifName} was not brought up by wgQuickUp in this lab`);
    await this.wgQuick(flavor, ns, 'down', path.join(this.tmpDir, `${ifName}.conf`), ifName, timeoutMs);
  }

  private async wgQuick(flavor: VpnFlavor, ns: string, action: 'up' | 'down', confPath: string, ifName: string, timeoutMs: number): Promise<void> {
    const { quick } = flavorTools(flavor);
    const logPath = path.join(this.tmpDir, `${quick}-${ifName}.log`);
    const fd = fs.openSync(logPath, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn('ip', ['netns', 'exec', ns, quick, action, confPath], {
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...WG_ENV },
      });
    } finally {
      fs.closeSync(fd);
    }
    const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        resolve({ code, signal: sig });
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        resolve({ code: null, signal: null, error });
      });
    });
    if (result.code !== 0) {
      const log = await fsp.readFile(logPath, 'utf8').catch(() => '');
      throw new Error(
        `${quick} ${action} ${ifName} in ${ns} failed (${result.error?.message ?? `code ${result.code}, signal ${result.signal}`}):\n${log}`,
      );
    }
  }

  /** Brings up a client config (as the bot hands it out) inside the client namespace, with the flavor's *-quick and daemon. */
  async bringUpClient(flavor: VpnFlavor, confText: string, ifName: string, opts: WgQuickOptions = {}): Promise<void> {
    await this.wgQuickUp(flavor, this.clientNs, confText, ifName, opts);
  }

  /** true when `count` pings from `ns` to `ip` get through (-W 2 per reply). */
  async ping(ns: string, ip: string, count = 3): Promise<boolean> {
    try {
      await this.exec(ns, ['ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '2', ip], {
        timeoutMs: (count * 0.2 + 3) * 1000 + 2000,
      });
      return true;
    } catch {
      return false;
    }
  }

  /** Stops everything in both namespaces and removes them, sockets and tmpDir. Never throws. */
  /** Runs `fn` at the end of cleanup(), once the lab's processes are gone (e.g. drop a database schema). */
  onCleanup(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  cleanup(): Promise<void> {
    this.cleanupPromise ??= this.doCleanup();
    return this.cleanupPromise;
  }

  private async doCleanup(): Promise<void> {
    const warn = (what: string, err: unknown): void => {
      console.warn(`[netns-lab ${this.suffix}] ${what}: ${err instanceof Error ? err.message : String(err)}`);
    };

    await Promise.all([...this.processes].map((p) => p.stop(2000).catch((err: unknown) => warn('stopping a process', err))));

    const nsPids = async (): Promise<number[]> => {
      const pids: number[] = [];
      for (const ns of this.namespaces) {
        try {
          const { stdout } = await run(['ip', 'netns', 'pids', ns], { timeoutMs: 10_000 });
          for (const t of stdout.split(/\s+/)) if (/^\d+$/.test(t)) pids.push(Number(t));
        } catch {
          /* namespace already gone */
        }
      }
      return pids.filter((pid) => pid !== process.pid);
    };
    const signalled = new Set<number>();
    try {
      let pids = await nsPids();
      for (const pid of pids) signalled.add(pid);
      for (const pid of pids) signal(pid, 'SIGTERM');
      pids = await waitGone(pids, 3000);
      for (const pid of pids) signal(pid, 'SIGKILL');
      const stubborn = await waitGone(pids, 3000);
      if (stubborn.length > 0) warn('processes survived SIGKILL', new Error(stubborn.join(' ')));
      const late = (await nsPids()).filter(isAlive);
      for (const pid of late) {
        signalled.add(pid);
        signal(pid, 'SIGKILL');
      }
      await waitGone(late, 2000);
    } catch (err) {
      warn('killing namespace processes', err);
    }

    for (const ns of this.namespaces.splice(0)) {
      await run(['ip', 'netns', 'del', ns], { timeoutMs: 10_000 }).catch((err: unknown) => warn(`deleting ${ns}`, err));
    }
    // The veth pair goes with its namespaces; this only matters if it was left in the root one.
    for (const dev of [this.serverVeth, this.clientVeth, ...this.rootDevs]) {
      if (fs.existsSync(`/sys/class/net/${dev}`)) {
        await run(['ip', 'link', 'del', dev]).catch((err: unknown) => warn(`deleting ${dev}`, err));
      }
    }

    // Userspace daemons remove their UAPI socket on a clean exit; SIGKILL leaves it behind.
    for (const dir of UAPI_DIRS) {
      let entries: string[] = [];
      try {
        entries = fs.readdirSync(dir);
      } catch {
        continue;
      }
      for (const entry of entries) {
        const name = entry.replace(/\.(sock|name)$/, '');
        if (this.interfaces.has(name) || name.includes(this.suffix)) {
          try {
            fs.rmSync(path.join(dir, entry), { force: true });
          } catch (err) {
            warn(`removing ${dir}/${entry}`, err);
          }
        }
      }
    }

    // Daemonized wireguard-go and amneziawg-go processes were re-parented to init; give it a moment to reap
    // them so a leak check right after cleanup() sees no <defunct> entries.
    const deadline = Date.now() + 3000;
    let left = [...signalled];
    while (left.length > 0 && Date.now() < deadline) {
      left = left.filter((pid) => fs.existsSync(`/proc/${pid}`));
      if (left.length > 0) await new Promise((r) => setTimeout(r, 100));
    }

    for (const fn of this.cleanups.splice(0)) await fn().catch((err: unknown) => warn('a cleanup step', err));

    if (this.tmpDir) {
      await fsp.rm(this.tmpDir, { recursive: true, force: true }).catch((err: unknown) => warn('removing tmpDir', err));
    }
  }
}
