import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import type ssh2 from 'ssh2';
import type { Client, ClientChannel } from 'ssh2';
import { checkPath, shellCommand } from './argv.js';
import { CommandError } from './runner.js';
import { blobType, fingerprintOf, HostKeyMismatchError, type HostKeyPin, parseHostKeyPin } from './ssh-host-key.js';

// Commands on a node over one pooled SSH connection (ssh2). The node's shell parses the command
// string, so it is only ever built by shellCommand() from an argv; secrets travel on stdin.

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** OpenSSH or PEM private key (unencrypted), read at each connect. */
  privateKeyFile: string;
  /** The node's host key, pinned: see parseHostKeyPin. */
  hostKey: string;
}

export interface SshConnectionOptions {
  /** Per command, from the call to its result, connecting included. Default 10 s. */
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

export interface SshConnection {
  /**
   * Runs `remote` (an argv, quoted into one command string) on the node with `input` on its stdin;
   * `shown` is the argv errors name. Rejects with CommandError on a non-zero exit, a lost connection
   * or the timeout (`ms`, default timeoutMs).
   */
  exec(shown: string[], remote: string[], input?: string, ms?: number): Promise<string>;
  /** Drops the connection; calls after it reject. */
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
/** ssh2, loaded when the first SSH node connects: a bot with only its local node never loads it. */
const loadSsh2 = (): typeof ssh2 => require('ssh2') as typeof ssh2;

/** One SSH connection to a node: opened on first use, shared by all calls, reopened after it drops. */
class PooledClient {
  private current: Promise<Client> | null = null;
  private closed = false;

  constructor(
    private readonly target: SshTarget,
    private readonly pin: HostKeyPin,
    private readonly opts: Required<Pick<SshConnectionOptions, 'connectTimeoutMs' | 'keepaliveIntervalMs' | 'keepaliveCountMax'>>,
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

/** Commands on one node: all over one PooledClient, at most maxChannels of them at once. */
export function sshConnection(target: SshTarget, opts: SshConnectionOptions = {}): SshConnection {
  const pin = checkSshTarget(target);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const where = `ssh ${target.user}@${target.host}:${target.port}`;
  const conn = new PooledClient(target, pin, {
    connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
    keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 5_000,
    keepaliveCountMax: opts.keepaliveCountMax ?? 3,
  });
  const slots = new Slots(opts.maxChannels ?? 8);

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

  return { exec, close: () => conn.close() };
}
