import { spawn } from 'node:child_process';
import net from 'node:net';
import { run } from '../test/support/netns.js';

// Real handshakes and traffic counters for thousands of server peers, from one client: a
// wireguard-go interface in the same namespace whose private key is switched to each peer's
// key in turn over the UAPI socket; each switch makes it handshake with the server and send a
// keepalive, so the server's dump shows that peer with a handshake time and rx/tx bytes.
// (One wireguard-go process per client would not fit 10,000 clients on this machine.)

const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

/** One request on a wireguard-go UAPI socket (https://www.wireguard.com/xplatform/): `set=1`/`get=1` lines, a blank line ends it. */
export function uapi(iface: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(`/var/run/wireguard/${iface}.sock`);
    let out = '';
    const timer = setTimeout(() => sock.destroy(new Error(`UAPI ${iface}: no answer`)), 10_000);
    sock.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.endsWith('\n\n')) return;
      clearTimeout(timer);
      sock.end();
      const errno = /^errno=(-?\d+)$/m.exec(out)?.[1];
      if (errno !== '0') reject(new Error(`UAPI ${iface}: errno=${errno ?? '?'}`));
      else resolve(out);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.end(`${request}\n\n`);
  });
}

const handshakeTime = (get: string): string => `${/^last_handshake_time_sec=(\d+)$/m.exec(get)?.[1]}.${/^last_handshake_time_nsec=(\d+)$/m.exec(get)?.[1]}`;

export class HandshakeClient {
  private constructor(readonly iface: string) {}

  /** Starts the client interface (it must not exist yet), pointed at the server at 127.0.0.1:port. */
  static async start(iface: string, serverPublicKey: string, serverPort: number): Promise<HandshakeClient> {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('wireguard-go', [iface], { stdio: 'ignore', env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' } });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    if (code !== 0) throw new Error(`wireguard-go ${iface} exited with ${code}`);
    const client = new HandshakeClient(iface);
    await run(['ip', 'link', 'set', iface, 'up']);
    await uapi(iface, `set=1\npublic_key=${hex(serverPublicKey)}\nendpoint=127.0.0.1:${serverPort}\npersistent_keepalive_interval=0`);
    return client;
  }

  /**
   * Becomes the client with this private key and handshakes with the server: a new key expires
   * the session, and turning the keepalive on sends one at once, which needs a handshake first.
   */
  async handshakeAs(peer: { privateKey: string; presharedKey: string }, serverPublicKey: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = handshakeTime(await uapi(this.iface, 'get=1'));
      await uapi(this.iface, `set=1\nprivate_key=${hex(peer.privateKey)}\npublic_key=${hex(serverPublicKey)}\npreshared_key=${hex(peer.presharedKey)}\npersistent_keepalive_interval=0\npersistent_keepalive_interval=25`);
      for (const deadline = Date.now() + 2000; Date.now() < deadline; ) {
        if (handshakeTime(await uapi(this.iface, 'get=1')) !== before) return;
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    throw new Error('no handshake with the server after 5 attempts');
  }

  async close(): Promise<void> {
    await run(['ip', 'link', 'del', this.iface]).catch(() => {});
  }
}
