import net from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startPolling } from '../../src/bot/polling.js';
import { PRIORITY } from '../../src/bot/pacer.js';
import { UpdateQueue } from '../../src/bot/updates.js';
import { markHandled, takeOrphanedUpdates } from '../../src/db/inbox.js';
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
    const polling = h.poll();
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
      await polling.stop();
      await h.close();
      await uplink.down().catch(() => {});
      await api.close();
    }
  }, 40_000);
});

describe('durable inbox (long polling)', () => {
  const log = pino({ level: 'silent' });
  const users = [31, 32, 33].map((id) => ({ id, first_name: `Inbox${id}`, language_code: 'en' }));
  const requestsSent = async (api: BotApiStandIn, id: number) => (await api.messagesTo(id)).filter((m) => /sent to the admins/.test(m.message.text ?? '')).length;

  it('a batch is confirmed to Telegram only once stored: cut off before the store, Telegram sends it again; after it, the stored updates are handled at the next start, each once', async () => {
    const api = new BotApiStandIn({ token: '424242:http-test' });
    await api.listen();
    const h = await createHarness({ captcha: false, apiRoot: api.apiRoot });
    try {
      for (const u of users) api.sendText(u, '/start');
      // 1. The database refuses the batch (the process would die here): nothing is confirmed.
      const failing = new Proxy(h.db, {
        get: (t, p) => {
          if (p === 'transaction') return () => { throw new Error('disk I/O error'); };
          const v = Reflect.get(t, p, t);
          return typeof v === 'function' ? v.bind(t) : v;
        },
      });
      const stuck = { push: () => { throw new Error('nothing was stored, nothing is handled'); }, pending: 0 } as unknown as UpdateQueue;
      const first = startPolling({ api: h.bot.api, db: failing, replica: 1, queue: stuck, log, now: Date.now, timeoutSeconds: 1 });
      await api.waitFor((c) => c.method === 'getUpdates' && Array.isArray(c.result) && c.result.length === 3);
      await new Promise((r) => setTimeout(r, 300));
      await first.stop();
      expect(await h.db.selectFrom('inbox').select('update_id').execute()).toEqual([]);

      // 2. Stored, then the process dies before handling them: Telegram has them confirmed by the next poll.
      const pushed: number[] = [];
      const dead = { push: (u: { update_id: number }) => void pushed.push(u.update_id), pending: 0 } as unknown as UpdateQueue;
      const again = api.mark();
      const second = startPolling({ api: h.bot.api, db: h.db, replica: 1, queue: dead, log, now: Date.now, timeoutSeconds: 1 });
      await api.waitFor((c) => c.method === 'getUpdates' && Array.isArray(c.result) && c.result.length === 3, 5000, again);
      const since = api.mark();
      await api.waitFor((c) => c.method === 'getUpdates', 5000, since); // the next poll carries the confirming offset
      await second.stop();
      expect(pushed).toHaveLength(3);
      const unhandled = () => h.db.selectFrom('inbox').select('update_id').where('handled_at', 'is', null).execute();
      expect(await unhandled()).toHaveLength(3);

      // 3. The next start handles what is stored, first, and Telegram does not send it again.
      const handled: number[] = [];
      const queue = new UpdateQueue({
        handle: (u) => h.handle(u),
        done: (u) => void handled.push(u.update_id),
        priorityOf: () => PRIORITY.member,
        concurrency: 10,
        maxInHand: 1000,
        perUser: 2,
        reserved: 0,
        log,
      });
      // A new process (replica 2): what replica 1 stored is nobody's now.
      for (const u of await takeOrphanedUpdates(h.db, 2, [2])) queue.push(u);
      const third = startPolling({ api: h.bot.api, db: h.db, replica: 2, queue, log, now: Date.now, timeoutSeconds: 1 });
      await queue.idle();
      await markHandled(h.db, handled, Date.now());
      await new Promise((r) => setTimeout(r, 1500)); // a poll or two: nothing comes again
      await third.stop();
      expect(handled.sort()).toEqual(pushed.sort());
      for (const u of users) {
        expect((await findUser(h.db, u.id))?.status).toBe('pending');
        expect(await requestsSent(api, u.id)).toBe(1);
      }
      expect(await unhandled()).toEqual([]);
    } finally {
      await h.close();
      await api.close();
    }
  }, 30_000);
});
