import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseDefaultRoute } from './nat.js';
import type { VpnFlavor } from './types.js';

// The one module that runs the VPN binaries. argv arrays only, never a shell;
// keys go through stdin, never argv.

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly code: number | null,
    readonly stderr: string,
    reason: string,
  ) {
    super(`${argv.join(' ')}: ${reason}${stderr.trim() ? `: ${stderr.trim().slice(0, 500)}` : ''}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

export function run(bin: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const argv = [bin, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    // On timeout we answer at once: a grandchild may hold the pipes open long after the kill.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      reject(new CommandError(argv, null, Buffer.concat(err).toString(), `timed out after ${opts.timeoutMs ?? 10_000} ms`));
    }, opts.timeoutMs ?? 10_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
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
    child.stdin.on('error', () => {}); // the child may exit before reading stdin; 'close' reports it
    child.stdin.end(opts.input ?? '');
  });
}

export interface PeerOnWire {
  publicKey: string;
  presharedKey: string;
  ip: string;
}

export interface VpnCli {
  dump(iface: string): Promise<string>;
  setPeer(iface: string, peer: PeerOnWire): Promise<void>;
  removePeer(iface: string, publicKey: string): Promise<void>;
  /** Interface index in this network namespace, null when the interface does not exist. */
  ifindex(iface: string): Promise<number | null>;
  /** `<flavor>-quick up <confPath>`; the file must be named `<iface>.conf`. */
  up(confPath: string): Promise<void>;
  /** The interface of the IPv4 default route (for NAT), null when there is none. */
  defaultRouteInterface(): Promise<string | null>;
  /** Replaces the file atomically, owner-only (0600, directory 0700): the server config holds its private key. */
  writeConfig(file: string, text: string): Promise<void>;
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
  const file = path.join(dir, `psk-${randomBytes(8).toString('hex')}`);
  await fs.writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    return await fn(file);
  } finally {
    await fs.rm(file, { force: true });
  }
}

export function createCli(flavor: VpnFlavor, opts: { logDir: string; secretsDir: string; timeoutMs?: number }): VpnCli {
  const bin = flavor === 'amneziawg' ? 'awg' : 'wg';
  const quick = `${bin}-quick`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    dump: (iface) => run(bin, ['show', iface, 'dump'], { timeoutMs }),
    async setPeer(iface, p) {
      await withSecretFile(opts.secretsDir, p.presharedKey, (file) =>
        run(bin, ['set', iface, 'peer', p.publicKey, 'preshared-key', file, 'allowed-ips', `${p.ip}/32`], { timeoutMs }),
      );
    },
    async removePeer(iface, publicKey) {
      await run(bin, ['set', iface, 'peer', publicKey, 'remove'], { timeoutMs });
    },
    async ifindex(iface) {
      try {
        const text = await fs.readFile(path.join('/sys/class/net', iface, 'ifindex'), 'utf8');
        return Number(text.trim());
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    up: (confPath) => quickUp(quick, confPath, opts.logDir, Math.max(timeoutMs, 30_000)),
    defaultRouteInterface: async () => parseDefaultRoute(await run('ip', ['-4', 'route', 'show', 'default'], { timeoutMs })),
    writeConfig: writePrivateFile,
  };
}

// *-quick may start a userspace daemon (wireguard-go / amneziawg-go) that inherits
// stdout/stderr; waiting on pipes would hang forever. Output goes to a log file
// instead and we wait for the process's own exit.
async function quickUp(quick: string, confPath: string, logDir: string, timeoutMs: number): Promise<void> {
  await fs.mkdir(logDir, { recursive: true, mode: 0o700 });
  const logFile = path.join(logDir, `${path.basename(confPath, '.conf')}-quick.log`);
  const log = await fs.open(logFile, 'w', 0o600);
  const argv = [quick, 'up', confPath];
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(quick, ['up', confPath], { stdio: ['ignore', log.fd, log.fd] });
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
