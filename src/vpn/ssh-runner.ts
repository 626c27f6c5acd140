import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import type ssh2 from 'ssh2';
import type { Client, ClientChannel, ServerHostKeyAlgorithm } from 'ssh2';
import { checkPath, shellCommand, vpnCommands } from './argv.js';
import { CommandError, parseIfindex, upTimeoutMs, type VpnRunner } from './runner.js';
import { parseDefaultRoute } from './nat.js';
import { renderPeerSections } from './render.js';
import { tempFileName } from './run-dir.js';
import type { VpnFlavor } from './types.js';

// The VPN commands of runner.ts, run on a node over SSH (ssh2, one pooled connection per node).
// The node's shell parses the command string, so it is only ever built by shellCommand()
// from validated argv; fixed sh scripts take their values as positional parameters.
// Secrets (preshared keys, the server config) travel on the channel's stdin.

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** OpenSSH or PEM private key (unencrypted), read at each connect. */
  privateKeyFile: string;
  /** The node's host key, pinned: see parseHostKeyPin. */
  hostKey: string;
}

export interface SshRunnerOptions {
  /** On the node: *-quick logs (0700). Default /var/log/andreyvpn. */
  logDir?: string;
  /** On the node: preshared keys live here for one `set` call (0700). Default /run/andreyvpn. */
  secretsDir?: string;
  /** Per command, from the call to its result, connecting included. Default 10 s (*-quick up: ≥ 30 s). */
  timeoutMs?: number;
  /** TCP connect + SSH handshake + auth. Default 10 s. */
  connectTimeoutMs?: number;
  /** A keepalive every this often; after keepaliveCountMax unanswered ones the connection is dropped. Default 5 s, 3. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Channels open at once on the connection (OpenSSH's MaxSessions is 10). Default 8. */
  maxChannels?: number;
  /** Sees every command string sent (never a secret: those go on stdin). For logs and tests. */
  onCommand?: (command: string) => void;
}

export type SshRunner = VpnRunner & {
  /** Drops the connection; calls after it reject. */
  close(): Promise<void>;
};

/** The host key refused: not the pinned one. */
export class HostKeyMismatchError extends Error {
  constructor(pinned: string, seen: string) {
    super(`host key mismatch: the server presented ${seen}, the pinned one is ${pinned}; refusing to connect`);
    this.name = 'HostKeyMismatchError';
  }
}

export interface HostKeyPin {
  /** `SHA256:<unpadded base64>` of the key blob, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** The host key algorithms to ask for, when the pin names the key type. */
  algorithms?: ServerHostKeyAlgorithm[];
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** Key type (in a .pub line) → the host key algorithms that make the server present that key. */
const ALGORITHMS = new Map<string, ServerHostKeyAlgorithm[]>([
  ['ssh-ed25519', ['ssh-ed25519']],
  ['ecdsa-sha2-nistp256', ['ecdsa-sha2-nistp256']],
  ['ecdsa-sha2-nistp384', ['ecdsa-sha2-nistp384']],
  ['ecdsa-sha2-nistp521', ['ecdsa-sha2-nistp521']],
  ['ssh-rsa', ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']],
]);
/** `ssh-keygen -lf` names the type in parentheses; ECDSA's curve follows from the bits before it. */
const keygenType = (type: string, bits: string): string => (type === 'ECDSA' ? `ecdsa-sha2-nistp${bits}` : type === 'RSA' ? 'ssh-rsa' : 'ssh-ed25519');

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The type name inside an SSH public key blob (a uint32 length, then the name). */
function blobType(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  return len <= 64 && blob.length >= 4 + len ? blob.subarray(4, 4 + len).toString('latin1') : '';
}

/**
 * Accepts, from the node (`/etc/ssh/ssh_host_ed25519_key.pub`):
 * - the public key line `ssh-ed25519 AAAA… [comment]` (also pins the key type), or
 * - the fingerprint `SHA256:…`, bare or as the whole line `ssh-keygen -lf <pub>` prints
 *   (`256 SHA256:… comment (ED25519)`; the type in parentheses pins the key type).
 * Without a type the server offers its preferred host key (ed25519 on a default OpenSSH),
 * so a bare fingerprint should be that key's.
 */
export function parseHostKeyPin(text: string): HostKeyPin {
  const s = text.trim();
  const words = s.split(/\s+/);
  const [first = '', second = ''] = words;
  const lineAlgorithms = ALGORITHMS.get(first);
  if (lineAlgorithms) {
    const blob = /^[A-Za-z0-9+/]+={0,2}$/.test(second) ? Buffer.from(second, 'base64') : Buffer.alloc(0);
    if (blobType(blob) !== first) throw new Error(`host key: ${JSON.stringify(s.slice(0, 80))} is not a valid ${first} public key`);
    return { fingerprint: fingerprintOf(blob), algorithms: lineAlgorithms };
  }
  const fp = words.find((w) => w.startsWith('SHA256:'));
  if (!fp || !FINGERPRINT.test(fp)) {
    throw new Error('host key: expected "ssh-ed25519 AAAA…" (the .pub line) or "SHA256:…" (ssh-keygen -lf <the .pub>)');
  }
  const type = /\((ED25519|RSA|ECDSA)\)$/.exec(s)?.[1];
  if (!type) return { fingerprint: fp };
  const algorithms = ALGORITHMS.get(keygenType(type, first));
  if (!algorithms) throw new Error(`host key: cannot tell the ${type} key size from ${JSON.stringify(s.slice(0, 80))}`);
  return { fingerprint: fp, algorithms };
}

const require = createRequire(import.meta.url);
/** ssh2, loaded when the first SSH node connects: a bot with only its local node never loads it. */
const loadSsh2 = (): typeof ssh2 => require('ssh2') as typeof ssh2;

// Fixed scripts, run as `sh -c SCRIPT sh ARGS…`; the values only ever arrive as "$1", "$2", "$@".

// A signal ends the script through exit, so the EXIT trap still removes the temp file.
const ON_SIGNAL_EXIT = `trap 'exit 129' HUP INT TERM PIPE`;

/** $1 dir, $2 file in it: stdin → $2 (0600, created exclusively), then "$@" runs, then $2 is removed. */
const WITH_STDIN_FILE = `umask 077; d=$1; f=$2; shift 2; mkdir -p -- "$d" || exit 1; trap 'rm -f -- "$f"' EXIT; ${ON_SIGNAL_EXIT}; (set -C; cat >"$f") || exit 1; "$@"`;

/** $1 file: stdin replaces it atomically (temp file in the same directory, 0600, mv); directories 0700. */
const WRITE_FILE = `umask 077; f=$1; mkdir -p -- "$(dirname -- "$f")" || exit 1; t=$(mktemp -- "$f.XXXXXXXX") || exit 1; trap 'rm -f -- "$t"' EXIT; ${ON_SIGNAL_EXIT}; cat >"$t" && chmod 600 -- "$t" && mv -f -- "$t" "$f"`;

/**
 * $1 dir, $2 log file: "$@" runs with stdin from /dev/null and output to the log, so a daemon it
 * leaves running (wireguard-go) does not hold the channel open; on failure the log's tail goes to stderr.
 */
const LOGGED = `umask 077; mkdir -p -- "$1" || exit 1; log=$2; shift 2; "$@" </dev/null >"$log" 2>&1 && exit 0; rc=$?; tail -c 2000 -- "$log" >&2; exit $rc`;

/** $1 file: its content, nothing when it does not exist. */
const CAT_IF_EXISTS = `[ ! -e "$1" ] || cat -- "$1"`;

/** The fixed scripts (exported for their tests). */
export const remoteScripts = { WITH_STDIN_FILE, WRITE_FILE, LOGGED, CAT_IF_EXISTS } as const;

/** The argv that runs one of them with these positional parameters. */
export const script = (text: string, ...args: string[]): string[] => ['sh', '-c', text, 'sh', ...args];

/** One SSH connection to a node: opened on first use, shared by all calls, reopened after it drops. */
class Connection {
  private current: Promise<Client> | null = null;
  private closed = false;

  constructor(
    private readonly target: SshTarget,
    private readonly pin: HostKeyPin,
    private readonly opts: Required<Pick<SshRunnerOptions, 'connectTimeoutMs' | 'keepaliveIntervalMs' | 'keepaliveCountMax'>>,
  ) {}

  get(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error('the SSH connection was closed'));
    if (!this.current) {
      const forget = (): void => {
        if (this.current === p) this.current = null;
      };
      const p = this.open(forget);
      this.current = p;
      p.catch(forget);
    }
    return this.current;
  }

  private async open(onGone: () => void): Promise<Client> {
    const { target, pin, opts } = this;
    const privateKey = await fs.readFile(target.privateKeyFile);
    const client = new (loadSsh2().Client)();
    return new Promise<Client>((resolve, reject) => {
      let mismatch: HostKeyMismatchError | undefined;
      client.on('ready', () => resolve(client));
      // After 'ready' these only end the connection (keepalive timeout, reset): the next call reconnects.
      client.on('error', (e) => reject(mismatch ?? e));
      client.on('close', () => {
        onGone();
        reject(new Error('connection closed during the handshake'));
      });
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey,
        readyTimeout: opts.connectTimeoutMs,
        keepaliveInterval: opts.keepaliveIntervalMs,
        keepaliveCountMax: opts.keepaliveCountMax,
        hostVerifier: (key: Buffer) => {
          const seen = fingerprintOf(key);
          if (seen !== pin.fingerprint) mismatch = new HostKeyMismatchError(pin.fingerprint, `${seen} (${blobType(key)})`);
          return !mismatch;
        },
        ...(pin.algorithms ? { algorithms: { serverHostKey: pin.algorithms } } : {}),
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = await this.current?.catch(() => null);
    this.current = null;
    client?.destroy();
  }
}

/** Times a refused channel is asked for again (after 25, 50, 100, 200 ms) before the command fails. */
const CHANNEL_RETRIES = 4;

/** A counting semaphore for the channels of one connection. */
class Slots {
  private waiters: (() => void)[] = [];
  constructor(private free: number) {}
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

/** Throws on a target that cannot work, naming the field; parses (validates) the host key pin. */
export function checkSshTarget(target: SshTarget): HostKeyPin {
  if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(target.host)) throw new Error(`ssh target: bad host ${JSON.stringify(target.host)}`);
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new Error(`ssh target: bad port ${target.port}`);
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(target.user)) throw new Error(`ssh target: bad user ${JSON.stringify(target.user)}`);
  checkPath(target.privateKeyFile);
  return parseHostKeyPin(target.hostKey);
}

export function createSshRunner(flavor: VpnFlavor, target: SshTarget, opts: SshRunnerOptions = {}): SshRunner {
  const pin = checkSshTarget(target);
  const cmd = vpnCommands(flavor);
  const logDir = checkPath(opts.logDir ?? '/var/log/andreyvpn');
  const secretsDir = checkPath(opts.secretsDir ?? '/run/andreyvpn');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const where = `ssh ${target.user}@${target.host}:${target.port}`;
  const conn = new Connection(target, pin, {
    connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
    keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 5_000,
    keepaliveCountMax: opts.keepaliveCountMax ?? 3,
  });
  const slots = new Slots(opts.maxChannels ?? 8);

  /**
   * Runs `remote` (an argv, quoted into one command string) on the node; `shown` is the argv
   * errors name. Rejects with CommandError on a non-zero exit, a lost connection or the timeout.
   */
  function exec(shown: string[], remote: string[], input = '', ms = timeoutMs): Promise<string> {
    const command = shellCommand(remote);
    opts.onCommand?.(command);
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let channel: ClientChannel | undefined;
      let holding = false;
      let settled = false;
      const finish = (error: CommandError | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (holding) slots.release();
        if (error) {
          channel?.close();
          reject(error);
        } else resolve(Buffer.concat(out).toString());
      };
      const fail = (code: number | null, reason: string, cause?: unknown): void => {
        const e = new CommandError(shown, code, Buffer.concat(err).toString(), reason, where);
        if (cause) e.cause = cause;
        finish(e);
      };
      const timer = setTimeout(() => fail(null, `timed out after ${ms} ms`), ms);

      let refused = 0;
      const start = (client: Client): void => {
        if (settled) return;
        const onChannel = (e: Error | undefined, ch: ClientChannel): void => {
          // sshd counts a session until it has seen our side of its close, so a channel opened
          // right after another closed can be refused for a moment (MaxSessions): try again shortly.
          if (e && 'reason' in e && refused < CHANNEL_RETRIES) return void setTimeout(() => start(client), 25 * 2 ** refused++);
          if (e) return fail(null, `cannot open a channel: ${e.message}`, e);
          if (settled) return void ch.close();
          channel = ch;
          let exit: { code: number | null; signal?: string } | undefined;
          ch.on('data', (d: Buffer) => out.push(d));
          ch.stderr.on('data', (d: Buffer) => err.push(d));
          ch.on('exit', (code: number | null, signal?: string) => {
            exit = { code, ...(signal ? { signal } : {}) };
          });
          ch.on('close', () => {
            if (exit?.code === 0) finish(null);
            else if (exit && exit.code !== null) fail(exit.code, `exited with code ${exit.code}`);
            else fail(null, exit?.signal ? `killed by ${exit.signal}` : 'the connection was lost before the command finished');
          });
          ch.on('error', (e2: Error) => fail(null, e2.message, e2));
          ch.end(input);
        };
        try {
          client.exec(command, onChannel);
        } catch (e) {
          fail(null, `cannot run: ${(e as Error).message}`, e);
        }
      };

      void slots.acquire().then(() => {
        if (settled) return slots.release();
        holding = true;
        conn.get().then(
          start,
          (e: Error) => fail(null, e instanceof HostKeyMismatchError ? e.message : `cannot connect: ${e.message}`, e),
        );
      });
    });
  }

  return {
    dump: async (iface) => exec(cmd.dump(iface), cmd.dump(iface)),
    async setPeer(iface, p) {
      const file = path.posix.join(secretsDir, tempFileName('psk'));
      const argv = cmd.setPeer(iface, p, file);
      await exec(argv, script(WITH_STDIN_FILE, secretsDir, file, ...argv), `${p.presharedKey}\n`);
    },
    async setPeers(iface, peers) {
      const file = path.posix.join(secretsDir, tempFileName('psk'));
      const argv = cmd.addConf(iface, file);
      await exec(argv, script(WITH_STDIN_FILE, secretsDir, file, ...argv), renderPeerSections(peers));
    },
    async removePeer(iface, publicKey) {
      const argv = cmd.removePeer(iface, publicKey);
      await exec(argv, argv);
    },
    async ifindex(iface) {
      const file = cmd.ifindexFile(iface);
      return parseIfindex(await exec(['cat', file], script(CAT_IF_EXISTS, file)));
    },
    async up(confPath) {
      const argv = cmd.up(confPath);
      await exec(argv, script(LOGGED, logDir, cmd.upLogFile(logDir, confPath), ...argv), '', upTimeoutMs(timeoutMs));
    },
    defaultRouteInterface: async () => parseDefaultRoute(await exec(cmd.defaultRoute(), cmd.defaultRoute())),
    async writeConfig(file, text) {
      checkPath(file);
      await exec(['write', file], script(WRITE_FILE, file), text);
    },
    close: () => conn.close(),
  };
}
