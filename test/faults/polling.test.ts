import net from 'node:net';
import { run } from '@grammyjs/runner';
import { describe, expect, it } from 'vitest';
import { findUser } from '../../src/db/users.js';
import { BotApiStandIn } from '../support/bot-api.js';
import { createHarness } from '../support/harness.js';

/** A TCP hop between the bot and the Bot API that can be cut and restored, like a flaky uplink. */
class Uplink {
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}
  static async open(target: number): Promise<Uplink> {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const u = new Uplink(port, target);
    await u.up();
    return u;
  }
  async up(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

describe('network loss', () => {
  it('long polling resumes by itself after the Bot API is unreachable for a while, and no update is lost', async () => {
    const api = new BotApiStandIn({ token: '424242:http-test' });
    await api.listen();
    const uplink = await Uplink.open(Number(new URL(api.apiRoot).port));
    const h = await createHarness({ captcha: false, apiRoot: `http://127.0.0.1:${uplink.port}` });
    const runner = run(h.bot, { runner: { fetch: { timeout: 1 } } });
    try {
      api.sendText({ id: 1, first_name: 'Before', language_code: 'en' }, '/start');
      await api.waitForMessage(1, (m) => /sent to the admins/.test(m.message.text ?? ''), 10_000);

      await uplink.down();
      api.sendText({ id: 2, first_name: 'During', language_code: 'en' }, '/start');
      await new Promise((r) => setTimeout(r, 2500));
      expect(await findUser(h.db, 2)).toBeUndefined();
      await uplink.up();

      await api.waitForMessage(2, (m) => /sent to the admins/.test(m.message.text ?? ''), 20_000);
      expect((await findUser(h.db, 2))?.status).toBe('pending');
    } finally {
      await runner.stop();
      await h.close();
      await uplink.down().catch(() => {});
      await api.close();
    }
  }, 40_000);
});
