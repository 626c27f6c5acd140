import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { findUser } from '../../src/db/users.js';
import { appConfig, freePort } from '../support/app.js';
import { BotApiStandIn } from '../support/bot-api.js';
import { type AppDatabase, appDatabase } from '../support/database.js';
import { FakeWg } from '../support/fake-wg.js';

const TOKEN = '515151:app-test';
const ADMIN = { id: 42, first_name: 'Admin', language_code: 'en' };
const USER = { id: 43, first_name: 'User', language_code: 'en' };
const METRICS_TOKEN = 'app-metrics-token-0123456789';

// The whole app (startApp, as main.ts runs it) over real HTTP against the Bot API stand-in,
// with only the VPN binaries replaced by the in-memory interface.
describe('the app, webhook and polling', () => {
  let dir: string;
  let api: BotApiStandIn;
  let database: AppDatabase;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-app-'));
    database = await appDatabase({ dataDir: path.join(dir, 'data') });
    api = new BotApiStandIn({ token: TOKEN });
    api.knowUser(ADMIN); // the admin started the bot long ago
    await api.listen();
  });
  afterEach(async () => {
    await api.close();
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const config = (extra: Record<string, string>) => appConfig({ token: TOKEN, adminIds: [ADMIN.id], apiRoot: api.apiRoot, dir, database }, extra);

  it('webhook mode: registers the webhook with its secret, takes updates on the URL path, and polling mode removes it again', async () => {
    const port = await freePort();
    const wg = new FakeWg();
    const log = pino({ level: 'silent' });
    const hooked = await startApp(
      config({ BOT_MODE: 'webhook', WEBHOOK_URL: `http://127.0.0.1:${port}/tg-updates`, WEBHOOK_SECRET: 'a-very-secret-token-123', WEBHOOK_PORT: String(port), METRICS_TOKEN }),
      log,
      { runner: wg },
    );
    try {
      const set = api.calls.find((c) => c.method === 'setWebhook')!;
      expect(set.params).toMatchObject({ url: `http://127.0.0.1:${port}/tg-updates`, secret_token: 'a-very-secret-token-123' });
      expect(api.calls.some((c) => c.method === 'getUpdates')).toBe(false);

      api.sendText(USER, '/start');
      const request = await api.waitForMessage(ADMIN.id, (m) => /Access request/.test(m.message.text ?? ''));
      api.pressButton(ADMIN, request.message, `apr:${USER.id}`);
      await api.waitForMessage(USER.id, (m) => m.method === 'sendDocument');
      expect(wg.peers.size).toBe(1);
      // The app ran on the project's database: DATABASE_URL's schema, or the default SQLite file.
      const db = await database.open();
      try {
        expect((await findUser(db, USER.id))?.status).toBe('active');
      } finally {
        await db.destroy();
      }
      expect(existsSync(path.join(dir, 'data', 'bot.db'))).toBe(database.kind === 'sqlite');
      expect(api.webhookDeliveries.every((d) => d.status === 200)).toBe(true);
      expect((await fs.stat(path.join(dir, 'data'))).mode & 0o777).toBe(0o700);

      // /healthz answers from what the app's probe and monitor found: a flood of them runs no command on the node.
      let ifindexCalls = 0;
      const ifindex = wg.ifindex.bind(wg);
      wg.ifindex = (iface: string) => {
        ifindexCalls++;
        return ifindex(iface);
      };
      const calls = wg.calls.length;
      const healthz = (authorization?: string) => fetch(`http://127.0.0.1:${hooked.httpPort}/healthz`, authorization ? { headers: { authorization } } : {});
      const answers = await Promise.all(Array.from({ length: 200 }, () => healthz(`Bearer ${METRICS_TOKEN}`).then(async (r) => ({ status: r.status, body: await r.json() }))));
      for (const a of answers) expect(a).toEqual({ status: 200, body: { ok: true, bot: 'up', database: 'up', interface: 'up', nodes: { wg0: 'up' }, tickAgeSeconds: expect.any(Number) } });
      expect({ ifindexCalls, commands: wg.calls.length - calls }).toEqual({ ifindexCalls: 0, commands: 0 });
      expect((await healthz()).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${hooked.httpPort}/metrics`)).status).toBe(401);
    } finally {
      await hooked.stop();
    }

    const polling = await startApp(config({ WEBHOOK_PORT: String(await freePort()) }), log, { runner: wg });
    try {
      expect(api.calls.some((c) => c.method === 'deleteWebhook')).toBe(true);
      api.sendText(USER, '/status');
      await api.waitForMessage(USER.id, (m) => /access is active/.test(m.message.text ?? ''));
    } finally {
      await polling.stop();
    }
  }, 30_000);
});
