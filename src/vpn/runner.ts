import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { vpnCommands } from './argv.js';
import { parseDefaultRoute } from './nat.js';
import { renderPeerSections } from './render.js';
import { tempFileName } from './run-dir.js';
import type { VpnFlavor, WirePeer } from './types.js';

// Runs the VPN binaries on this host: argv arrays only, never a shell; keys go through
// stdin or 0600 files, never argv, and the children get childEnv(), never the bot's own
// environment. ssh-runner.ts runs the same argv on a node over SSH.

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly code: number | null,
    readonly stderr: string,
    reason: string,
    /** The node it ran on (`user@host:port`); unset for this host. */
    readonly where?: string,
  ) {
    super(`${where ? `${where}: ` : ''}${argv.join(' ')}: ${reason}${stderr.trim() ? `: ${stderr.trim().slice(0, 500)}` : ''}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** An open file for the child's stdout instead of a pipe; the promise then resolves to ''. */
  stdoutFd?: number;
}

/**
 * Everything a child on this host gets of the bot's environment. The rest holds BOT_TOKEN,
 * SECRETS_KEY, WEBHOOK_SECRET and DATABASE_URL, and *-quick hands its environment on to the
 * PostUp hooks and to the userspace daemon, which runs for as long as the interface.
 */
const CHILD_ENV = [
  'PATH', // where the binaries are, also for *-quick's own calls
  'LANG', // their messages (in our errors) in the operator's language
  'LC_ALL',
  'WG_QUICK_USERSPACE_IMPLEMENTATION', // *-quick: the userspace daemon to fall back to
  'WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD', // older wireguard-go refuses to run on Linux without it
] as const;
// Not LOG_LEVEL: it is the bot's pino level, and wireguard-go would read it as its own.

function childEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(CHILD_ENV.flatMap((k) => (env[k] === undefined ? [] : [[k, env[k]]])));
}

export function run(bin: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const argv = [bin, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', opts.stdoutFd ?? 'pipe', 'pipe'], env: childEnv(process.env) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    // On timeout we answer at once: a grandchild may hold the pipes open long after the kill.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      child.stdout?.destroy();
      child.stderr!.destroy();
      reject(new CommandError(argv, null, Buffer.concat(err).toString(), `timed out after ${opts.timeoutMs ?? 10_000} ms`));
    }, opts.timeoutMs ?? 10_000);
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, '', e.message));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString();
      if (code !== 0) reject(new CommandError(argv, code, stderr, `exited with code ${code}`));
      else resolve(Buffer.concat(out).toString());
    });
    child.stdin!.on('error', () => {}); // the child may exit before reading stdin; 'close' reports it
    child.stdin!.end(opts.input ?? '');
  });
}

export interface VpnRunner {
  dump(iface: string): Promise<string>;
  setPeer(iface: string, peer: WirePeer): Promise<void>;
  /** Adds many peers (or sets them to exactly this) in one call, `<wg|awg> addconf`; the other peers stay as they are. */
  setPeers(iface: string, peers: WirePeer[]): Promise<void>;
  removePeer(iface: string, publicKey: string): Promise<void>;
  /** Interface index in this network namespace, null when the interface does not exist. */
  ifindex(iface: string): Promise<number | null>;
  /** `<flavor>-quick up <confPath>`; the file must be named `<iface>.conf`. */
  up(confPath: string): Promise<void>;
  /** The interface of the IPv4 default route (for NAT), null when there is none. */
  defaultRouteInterface(): Promise<string | null>;
  /** Replaces the file atomically, owner-only (0600, directory 0700): the server config holds its private key. */
  writeConfig(file: string, text: string): Promise<void>;
  /** A traffic-shaping command (`tc …` or `ip link …`, built by shaper.ts); `input` goes to its stdin (`tc -batch -`). */
  shape(argv: string[], input?: string): Promise<string>;
}

/** The argv of a shaping command, checked to start with one of the two tools it may run. */
export function checkShapeArgv(argv: string[]): string[] {
  if (argv[0] !== 'tc' && argv[0] !== 'ip') throw new Error(`not a shaping command: ${JSON.stringify(argv[0])}`);
  return argv;
}

/** Atomic owner-only write on this host. */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    await fs.chmod(tmp, 0o600);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/**
 * `wg set … preshared-key <file>` wants a file: /dev/stdin does not work because Node's
 * stdio pipes are sockets, which cannot be reopened through /proc. The key goes to a
 * 0600 file in a 0700 directory for the duration of the call.
 */
async function withSecretFile<T>(dir: string, secret: string, fn: (file: string) => Promise<T>): Promise<T> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, tempFileName('psk'));
  await fs.writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    return await fn(file);
  } finally {
    await fs.rm(file, { force: true });
  }
}

/**
 * Runs a command whose stdout is big (a dump of thousands of peers) into a 0600 file in `dir`,
 * read and removed afterwards. Through a pipe the command would stop whenever this process is
 * busy (the monitor reads the database meanwhile) and the pipe is full. The file is created
 * before this returns its promise, so the command starts at once, whatever runs next.
 */
function runToFile(dir: string, bin: string, args: string[], timeoutMs: number): Promise<string> {
  const file = path.join(dir, tempFileName('out'));
  let fd: number;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    fd = openSync(file, 'wx', 0o600); // a dump holds the interface's private key
  } catch (e) {
    return Promise.reject(e as Error);
  }
  return run(bin, args, { timeoutMs, stdoutFd: fd })
    .then(() => fs.readFile(file, 'utf8'))
    .finally(async () => {
      closeSync(fd);
      await fs.rm(file, { force: true });
    });
}

/** *-quick up gets at least this long: it may start a userspace daemon and configure routes. */
export const upTimeoutMs = (timeoutMs: number): number => Math.max(timeoutMs, 30_000);

/** The ifindex file's text; null when there is none (the interface does not exist). */
export function parseIfindex(text: string | null): number | null {
  if (text === null || text.trim() === '') return null;
  const n = Number(text.trim());
  if (!Number.isInteger(n) || n <= 0) throw new Error(`unexpected ifindex ${JSON.stringify(text.slice(0, 50))}`);
  return n;
}

export function createRunner(flavor: VpnFlavor, opts: { logDir: string; secretsDir: string; timeoutMs?: number }): VpnRunner {
  const cmd = vpnCommands(flavor);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const exec = ([bin, ...args]: string[]) => run(bin!, args, { timeoutMs });
  return {
    dump: (iface) => {
      const [bin, ...args] = cmd.dump(iface);
      return runToFile(opts.secretsDir, bin!, args, timeoutMs);
    },
    async setPeer(iface, p) {
      await withSecretFile(opts.secretsDir, p.presharedKey, (file) => exec(cmd.setPeer(iface, p, file)));
    },
    async setPeers(iface, peers) {
      await withSecretFile(opts.secretsDir, renderPeerSections(peers), (file) => exec(cmd.addConf(iface, file)));
    },
    async removePeer(iface, publicKey) {
      await exec(cmd.removePeer(iface, publicKey));
    },
    async ifindex(iface) {
      const text = await fs.readFile(cmd.ifindexFile(iface), 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw e;
      });
      return parseIfindex(text);
    },
    up: async (confPath) => quickUp(cmd.up(confPath), cmd.upLogFile(opts.logDir, confPath), upTimeoutMs(timeoutMs)),
    defaultRouteInterface: async () => parseDefaultRoute(await exec(cmd.defaultRoute())),
    writeConfig: writePrivateFile,
    shape: async (argv, input) => {
      const [bin, ...args] = checkShapeArgv(argv);
      return run(bin!, args, { timeoutMs, ...(input === undefined ? {} : { input }) });
    },
  };
}

// *-quick may start a userspace daemon (wireguard-go / amneziawg-go) that inherits
// stdout/stderr; waiting on pipes would hang forever. Output goes to a log file
// instead and we wait for the process's own exit.
async function quickUp(argv: string[], logFile: string, timeoutMs: number): Promise<void> {
  await fs.mkdir(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const log = await fs.open(logFile, 'w', 0o600);
  const [quick, ...args] = argv;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(quick!, args, { stdio: ['ignore', log.fd, log.fd], env: childEnv(process.env) });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new CommandError(argv, null, '', e.message));
      });
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    if (code !== 0) {
      const output = await fs.readFile(logFile, 'utf8').catch(() => '');
      throw new CommandError(argv, code, output, code === null ? 'killed (timeout?)' : `exited with code ${code}`);
    }
  } finally {
    await log.close();
  }
}
