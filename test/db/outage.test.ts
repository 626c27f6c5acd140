import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type App, startApp } from '../../src/app.js';
import { appConfig, freePort } from '../support/app.js';
import { BotApiStandIn } from '../support/bot-api.js';
import { type AppDatabase, appDatabase, TEST_POSTGRES_URL } from '../support/database.js';
import { FakeWg } from '../support/fake-wg.js';
import { textUpdate } from '../support/recorder.js';
import { PausableProxy } from '../support/tcp-proxy.js';

const TOKEN = '626262:outage-test';
const SECRET = 'outage-webhook-secret-0123';
const ADMIN = { id: 42, first_name: 'Admin', language_code: 'en' };
const USER = { id: 43, first_name: 'User', language_code: 'en' };
const DOWN = /database cannot be reached/;
const BACK = /database can be reached again/;

// PostgreSQL behind a network cut (a proxy that stops answering): the whole app, as main.ts runs it.
describe('PostgreSQL unreachable', () => {
  let dir: string;
  let api: BotApiStandIn;
  let database: AppDatabase;
  let proxy: PausableProxy;
  let app: App | undefined;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-outage-'));
    database = await appDatabase({ dataDir: path.join(dir, 'data') });
    const target = new URL(TEST_POSTGRES_URL);
    proxy = new PausableProxy(target.hostname, Number(target.port || 5432));
    await proxy.listen();
    api = new BotApiStandIn({ token: TOKEN });
    api.knowUser(ADMIN);
    await api.listen();
  });
  afterEach(async () => {
    proxy.resume();
    await app?.stop();
    await proxy.close();
    await api.close();
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('handlers fail within the timeouts instead of hanging, /healthz is 503 meanwhile, and the admins hear of it once and of its end once', async () => {
    const viaProxy = new URL(database.env.DATABASE_URL!);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const port = await freePort();
    const hook = `http://127.0.0.1:${port}/tg`;
    const config = appConfig(
      { token: TOKEN, adminIds: [ADMIN.id], apiRoot: api.apiRoot, dir, database },
      {
        DATABASE_URL: viaProxy.href,
        PG_CONNECT_TIMEOUT_SECONDS: '1',
        PG_STATEMENT_TIMEOUT_SECONDS: '1',
        MONITOR_INTERVAL_SECONDS: '1',
        BOT_MODE: 'webhook',
        WEBHOOK_URL: hook,
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_PORT: String(port),
      },
    );
    app = await startApp(config, pino({ level: 'silent' }), { runner: new FakeWg() });
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return { status: res.status, ...((await res.json()) as { database: string; tickAgeSeconds: number | null }) };
    };
    const healthUntil = async (done: (h: Awaited<ReturnType<typeof health>>) => boolean) => {
      for (let i = 0; i < 150 && !done(await health()); i++) await new Promise((r) => setTimeout(r, 200));
      return health();
    };
    expect(await health()).toMatchObject({ status: 200, database: 'up' });
    api.sendText(USER, '/start');
    await api.waitForMessage(ADMIN.id, (m) => /Access request/.test(m.message.text ?? ''));

    proxy.pause();
    // Telegram's POST gets an error (and is sent again later) once the timeouts pass, instead of hanging.
    const started = performance.now();
    const res = await fetch(hook, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET },
      body: JSON.stringify(textUpdate({ id: 44, first_name: 'Late', language_code: 'en' }, '/start')),
      signal: AbortSignal.timeout(30_000),
    });
    expect(res.status).toBe(500);
    // Connect (1 s) or the query's answer (1 s + the client's 2 s margin), with room for a slow machine.
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(await healthUntil((x) => x.status === 503)).toMatchObject({ status: 503, ok: false, database: 'down' });
    await api.waitForMessage(ADMIN.id, (m) => DOWN.test(m.message.text ?? ''), 15_000);
    // Long enough for the leader lock's connection to time out: the monitor stops here (no tick age).
    expect(await healthUntil((x) => x.tickAgeSeconds === null)).toMatchObject({ status: 503, tickAgeSeconds: null });

    proxy.resume();
    expect(await healthUntil((x) => x.status === 200)).toMatchObject({ status: 200, ok: true, database: 'up' });
    await api.waitForMessage(ADMIN.id, (m) => BACK.test(m.message.text ?? ''), 15_000);
    // The lock is taken again and the monitor ticks.
    expect(await healthUntil((x) => x.tickAgeSeconds !== null)).toMatchObject({ status: 200, tickAgeSeconds: expect.any(Number) });

    // Everything works again, the outbox included (the leader's jobs came back): an approval ends in a config.
    const request = api.messagesTo(ADMIN.id).find((m) => /Access request/.test(m.message.text ?? ''))!;
    api.pressButton(ADMIN, request.message, `apr:${USER.id}`);
    await api.waitForMessage(USER.id, (m) => m.method === 'sendDocument', 30_000);
    const texts = api.messagesTo(ADMIN.id).map((m) => m.message.text ?? '');
    expect({ down: texts.filter((t) => DOWN.test(t)).length, back: texts.filter((t) => BACK.test(t)).length }).toEqual({ down: 1, back: 1 });
  }, 90_000);
});
