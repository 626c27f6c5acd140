// A real OpenSSH sshd inside a NetnsLab namespace: a VPN node reached over SSH.
//
//   const real = await sshdGate(); // throws when CI=true and parts are missing
//   describe.skipIf(!real)('…', () => {
//     let lab: NetnsLab; let node: SshNode;
//     beforeAll(async () => { lab = await NetnsLab.create(); node = await addSshNode(lab, 'N'); }, 60_000);
//     afterAll(async () => { await lab?.cleanup(); });   // stops sshd too
//     … createSshRunner('wireguard', node.sshd.target()) …
//   });
//
// Keys (an ed25519 host key and a client key) are generated per sshd in the lab's tmpDir;
// sshd takes key auth only, as root, listening on the namespace's address alone.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import type { SshTarget } from '../../src/vpn/ssh-connection.js';
import { gateOn, type LabLink, type LabProcess, type NetnsLab, onPath, realPartsAvailable, run } from './netns.js';

const SSHD = '/usr/sbin/sshd';

/** realPartsAvailable plus /usr/sbin/sshd and ssh-keygen. */
export async function sshdAvailable(): Promise<{ ok: boolean; missing: string[] }> {
  const { missing } = await realPartsAvailable();
  const more = [...(fs.existsSync(SSHD) ? [] : [`${SSHD} (openssh-server)`]), ...(onPath('ssh-keygen') ? [] : ['ssh-keygen'])];
  return { ok: missing.length + more.length === 0, missing: [...missing, ...more] };
}

/** Like realPartsGate: false to skip, but under CI=true a missing part throws. */
export async function sshdGate(): Promise<boolean> {
  return gateOn(await sshdAvailable());
}

/** This process's PATH for the node's sessions; SetEnv splits on whitespace and reads quotes. */
function sessionPath(): string {
  const p = process.env.PATH ?? '';
  if (!p || /[\s"'\\]/.test(p)) throw new Error(`PATH ${JSON.stringify(p)} cannot be passed to sshd's SetEnv`);
  return p;
}

/** Every live descendant of `pid` (from /proc), children before grandchildren. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const found: number[] = [];
  for (let i = -1; i < found.length; i++) {
    const of = i < 0 ? pid : found[i];
    for (const [child, ppid] of parent) if (ppid === of) found.push(child);
  }
  return found;
}

function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export class Sshd {
  readonly user = 'root';
  private proc: LabProcess | null = null;
  private paused: number[] = [];

  private constructor(
    private readonly lab: NetnsLab,
    readonly ns: string,
    readonly host: string,
    readonly port: number,
    /** 0700, in the lab's tmpDir: keys, sshd_config, pid file. */
    readonly dir: string,
    /** The client's private key (authorized for root). */
    readonly clientKeyFile: string,
    /** The host public key line, `ssh-ed25519 AAAA… comment`. */
    readonly hostPublicKey: string,
    /** `ssh-keygen -lf` of the host key: `256 SHA256:… comment (ED25519)`. */
    readonly hostFingerprint: string,
  ) {}

  /** Generates keys and a config, then starts sshd in `ns` listening on `listenIp` (an address in `ns`) only. */
  static async start(lab: NetnsLab, ns: string, listenIp: string): Promise<Sshd> {
    const dir = await fsp.mkdtemp(path.join(lab.tmpDir, `sshd-${ns}-`));
    await fsp.chmod(dir, 0o700);
    const hostKey = path.join(dir, 'host_ed25519');
    const clientKey = path.join(dir, 'client_ed25519');
    for (const [file, comment] of [[hostKey, `avlab-host-${ns}`], [clientKey, 'avlab-client']] as const) {
      await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
    }
    await fsp.copyFile(`${clientKey}.pub`, path.join(dir, 'authorized_keys'));
    await fsp.mkdir(path.join(dir, 'home'), { mode: 0o700 });
    const port = 20_000 + randomInt(40_000);
    await fsp.writeFile(
      path.join(dir, 'sshd_config'),
      [
        `ListenAddress ${listenIp}:${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        // The lab's files live under /tmp, which StrictModes rejects as world-writable.
        'StrictModes no',
        // No WireGuard kernel module here: wg-quick falls back to wireguard-go, which wants this.
        // sshd runs each command through root's shell, which reads ~/.bashrc: HOME is an empty
        // folder of this sshd's, so the lab's nodes do not run this machine's root profile (here
        // `pyenv init`, half a second per session, and a lock that 25 sessions at once fight over).
        // PATH is this process's, so after amneziawgGate() the node runs the shared awg binaries.
        `SetEnv WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 HOME=${path.join(dir, 'home')} PATH=${sessionPath()}`,
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const sshd = new Sshd(
      lab,
      ns,
      listenIp,
      port,
      dir,
      clientKey,
      (await fsp.readFile(`${hostKey}.pub`, 'utf8')).trim(),
      (await run(['ssh-keygen', '-lf', `${hostKey}.pub`])).stdout.trim(),
    );
    await sshd.start();
    return sshd;
  }

  /** For createSshRunner; pins the host key by its `ssh-keygen -lf` line unless another pin is given. */
  target(hostKey = this.hostFingerprint): SshTarget {
    return { host: this.host, port: this.port, user: this.user, privateKeyFile: this.clientKeyFile, hostKey };
  }

  get running(): boolean {
    return this.proc !== null;
  }

  /** sshd's own log (-e), of the current run. */
  output(): string {
    return this.proc?.output() ?? '';
  }

  /** (Re)starts sshd with the same address, port and keys; resolves once it listens. */
  async start(): Promise<void> {
    if (this.proc) return;
    // The privilege separation directory; a host without a running sshd may lack it.
    await fsp.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const proc = this.lab.spawn(this.ns, [SSHD, '-D', '-e', '-f', path.join(this.dir, 'sshd_config')]);
    this.proc = proc;
    const deadline = Date.now() + 10_000;
    let exited = false;
    void proc.exited.then(() => (exited = true));
    while (!proc.output().includes(`Server listening on ${this.host} port ${this.port}`)) {
      if (exited || Date.now() > deadline) {
        await proc.stop(1000);
        this.proc = null;
        throw new Error(`sshd in ${this.ns} did not start listening on ${this.host}:${this.port}:\n${proc.output()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The node is gone: the listener and every session are killed (open connections drop, new ones are refused). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc?.pid) return;
    this.proc = null;
    const sessions = descendants(proc.pid);
    signalAll([proc.pid, ...sessions, ...this.paused], 'SIGKILL');
    this.paused = [];
    await proc.exited;
  }

  /**
   * The node stops answering without closing anything (SIGSTOP to the listener and its sessions):
   * open connections stay up and new TCP connections are accepted, but nothing replies.
   */
  pause(): void {
    if (!this.proc?.pid || this.paused.length) return;
    this.paused = [this.proc.pid, ...descendants(this.proc.pid)];
    signalAll(this.paused, 'SIGSTOP');
  }

  resume(): void {
    signalAll(this.paused, 'SIGCONT');
    this.paused = [];
  }
}

export interface SshNode {
  ns: string;
  sshd: Sshd;
  /** The node's address towards the client namespace: the host of its WireGuard endpoint. */
  endpointIp: string;
  /** The link sshd is reached by (its b end in the node's namespace): set it down to cut the node off. */
  controllerLink: LabLink;
}

/**
 * A new namespace `av<tag><suffix>` as a VPN node: linked to the lab's client namespace (for the
 * tunnel) and to the root namespace, where sshd listens for the test process.
 */
export async function addSshNode(lab: NetnsLab, tag: string, controllerNs: string | null = null): Promise<SshNode> {
  const ns = await lab.addNamespace(tag);
  const toClient = await lab.link(ns, lab.clientNs);
  const toController = await lab.link(controllerNs, ns);
  return { ns, endpointIp: toClient.aIp, controllerLink: toController, sshd: await Sshd.start(lab, ns, toController.bIp) };
}
