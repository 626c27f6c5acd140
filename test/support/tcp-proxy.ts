import net from 'node:net';

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  /** Bytes that arrived while paused, each with the side it goes to, in order. */
  held: [net.Socket | 'upstream', Buffer][];
}

/**
 * A TCP proxy to host:port that can stop answering, the way a database behind a network cut does:
 * while paused, nothing is forwarded either way on open connections and new connections are taken
 * but never reach the target, so clients wait until their own timeouts. resume() delivers what
 * was held and connects the waiting ones.
 */
export class PausableProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  private paused = false;
  port = 0;

  constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {
    this.server = net.createServer((client) => {
      const pair: Pair = { client, upstream: null, held: [] };
      this.pairs.add(pair);
      client.on('error', () => {});
      client.on('close', () => {
        pair.upstream?.destroy();
        this.pairs.delete(pair);
      });
      client.on('data', (chunk) => this.forward(pair, 'upstream', chunk));
      if (!this.paused) this.connect(pair);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const pair of this.pairs) {
      if (!pair.upstream && !pair.client.destroyed) this.connect(pair);
      for (const [to, chunk] of pair.held.splice(0)) this.write(pair, to, chunk);
    }
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connect(pair: Pair): void {
    const up = net.connect(this.targetPort, this.host);
    pair.upstream = up;
    up.on('error', () => pair.client.destroy());
    up.on('close', () => pair.client.destroy());
    up.on('data', (chunk) => this.forward(pair, pair.client, chunk));
  }

  private forward(pair: Pair, to: net.Socket | 'upstream', chunk: Buffer): void {
    if (this.paused || !pair.upstream) pair.held.push([to, chunk]);
    else this.write(pair, to, chunk);
  }

  private write(pair: Pair, to: net.Socket | 'upstream', chunk: Buffer): void {
    const socket = to === 'upstream' ? pair.upstream : to;
    if (socket && !socket.destroyed) socket.write(chunk);
  }
}
