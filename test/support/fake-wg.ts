import { CommandError, type VpnRunner, writePrivateFile } from '../../src/vpn/runner.js';
import type { WirePeer } from '../../src/vpn/types.js';

interface LivePeer extends WirePeer {
  rx: number;
  tx: number;
  handshake: number;
  /** ip:port the peer's packets last came from; null: none yet. */
  endpoint: string | null;
}

/**
 * An in-memory interface behind the VpnRunner boundary for fast bot tests; it prints a
 * real `wg show dump` so the real parser runs. The real binaries are exercised in
 * test/vpn/runner.test.ts and the end-to-end test.
 */
export class FakeWg implements VpnRunner {
  readonly peers = new Map<string, LivePeer>();
  readonly calls: string[] = [];
  up_ = false;
  index = 7;
  /** Set to make the next CLI call(s) fail like a broken `wg`. */
  failing: string | null = null;

  private check(what: string) {
    this.calls.push(what);
    if (this.failing) throw new CommandError(['wg', what], 1, this.failing, 'exited with code 1');
  }

  async dump(iface: string): Promise<string> {
    this.check(`dump ${iface}`);
    const lines = ['cHJpdmF0ZXByaXZhdGVwcml2YXRlcHJpdmF0ZXByaXY=\tcHVibGljcHVibGljcHVibGljcHVibGljcHVibGljcHU=\t51820\toff'];
    for (const p of this.peers.values()) {
      lines.push([p.publicKey, p.presharedKey, p.endpoint ?? '(none)', `${p.ip}/32`, String(p.handshake), String(p.rx), String(p.tx), 'off'].join('\t'));
    }
    return `${lines.join('\n')}\n`;
  }

  async setPeer(iface: string, p: WirePeer): Promise<void> {
    this.check(`set ${iface} ${p.publicKey}`);
    this.put(p);
  }

  async setPeers(iface: string, peers: WirePeer[]): Promise<void> {
    this.check(`addconf ${iface} ${peers.map((p) => p.publicKey).join(' ')}`);
    for (const p of peers) this.put(p);
  }

  private put(p: WirePeer): void {
    const old = this.peers.get(p.publicKey);
    this.peers.set(p.publicKey, { ...p, rx: old?.rx ?? 0, tx: old?.tx ?? 0, handshake: old?.handshake ?? 0, endpoint: old?.endpoint ?? null });
  }

  async removePeer(iface: string, publicKey: string): Promise<void> {
    this.check(`remove ${iface} ${publicKey}`);
    this.peers.delete(publicKey);
  }

  async ifindex(iface: string): Promise<number | null> {
    if (iface.startsWith('ifb-')) return this.ifbs.has(iface) ? this.index + 1 : null;
    return this.up_ ? this.index : null;
  }

  async up(confPath: string): Promise<void> {
    this.check(`up ${confPath}`);
    this.up_ = true;
  }

  defaultRoute: string | null = 'eth0';

  async writeConfig(file: string, text: string): Promise<void> {
    this.calls.push(`write ${file}`);
    await writePrivateFile(file, text);
  }

  async defaultRouteInterface(): Promise<string | null> {
    return this.defaultRoute;
  }

  /** Simulates a packet from a client at `endpoint` (ip:port). */
  from(publicKey: string, endpoint: string) {
    const p = this.peers.get(publicKey);
    if (!p) throw new Error('no such peer on the fake interface');
    p.endpoint = endpoint;
  }

  /** Shaping commands (argv, stdin), apart from `calls` so tests of the peers see only theirs. */
  readonly shaped: { argv: string[]; input?: string }[] = [];
  /** The IFB devices `ip link` made and the devices with an HTB root, as far as shape() was told. */
  readonly ifbs = new Set<string>();
  readonly htbRoots = new Set<string>();
  /** Set to make the next shaping call(s) fail like a broken `tc`. */
  failingShape: string | null = null;

  async shape(argv: string[], input?: string): Promise<string> {
    this.shaped.push({ argv, ...(input === undefined ? {} : { input }) });
    if (this.failingShape) throw new CommandError(argv, 2, this.failingShape, 'exited with code 2');
    const [bin, a, b, c] = argv;
    if (bin === 'ip' && a === 'link' && b === 'add') this.ifbs.add(c!);
    if (bin === 'ip' && a === 'link' && b === 'del') this.ifbs.delete(c!);
    if (bin === 'tc' && a === 'qdisc' && b === 'show') return [...this.htbRoots].map((d) => `qdisc htb 1: dev ${d} root refcnt 2 r2q 10 default 0\n`).join('');
    for (const line of (input ?? '').split('\n')) {
      const m = /^qdisc (replace|del) dev (\S+) root\b/.exec(line);
      if (m?.[1] === 'replace') this.htbRoots.add(m[2]!);
      if (m?.[1] === 'del') this.htbRoots.delete(m[2]!);
    }
    return '';
  }

  /** Simulates traffic from a client. */
  traffic(publicKey: string, rx: number, tx: number, handshakeSec: number) {
    const p = this.peers.get(publicKey);
    if (!p) throw new Error('no such peer on the fake interface');
    p.rx += rx;
    p.tx += tx;
    p.handshake = handshakeSec;
  }
}
