import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type App, startApp } from '../../src/app.js';
import { migrate } from '../../src/db/index.js';
import { findUser, requestAccess, transitionUser } from '../../src/db/users.js';
import { appConfig, freePort } from '../support/app.js';
import { BotApiStandIn, type RecordedCall } from '../support/bot-api.js';
import { type AppDatabase, appDatabase } from '../support/database.js';
import { FakeWg } from '../support/fake-wg.js';

// The whole app against a stand-in that answers 429 past 30 messages a second, or past one a
// second in a chat: replies, the outbox (welcomes, configs, the admins' requests and digests) and
// a broadcast share one pace, so together they never reach those limits.

const TOKEN = '616161:pacing-test';
const ADMIN = { id: 61, first_name: 'Admin', language_code: 'en' };
const MEMBERS = 60;
const NEWCOMERS = 30;

const COUNTED = /^(send|edit|copy|forward)/;
const counted = (c: RecordedCall) => c.ok === true && COUNTED.test(c.method) && c.method !== 'sendChatAction';

/** The most messages Telegram took in any second, over all chats and in one chat. */
function busiest(calls: RecordedCall[]): { all: number; chat: number } {
  const sends = calls.filter(counted).sort((a, b) => a.at - b.at);
  let all = 0;
  let chat = 0;
  for (const [i, c] of sends.entries()) {
    const window = sends.slice(i).filter((d) => d.at - c.at < 1000);
    all = Math.max(all, window.length);
    chat = Math.max(chat, window.filter((d) => d.params.chat_id === c.params.chat_id).length);
  }
  return { all, chat };
}

describe('one pace for every sender', () => {
  let dir: string;
  let api: BotApiStandIn;
  let database: AppDatabase;
  let app: App | undefined;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-pace-'));
    database = await appDatabase({ dataDir: path.join(dir, 'data') });
    api = new BotApiStandIn({ token: TOKEN }); // Telegram's limits: 30 a second, 1 a second per chat, with 429
    await api.listen();
  });
  afterEach(async () => {
    await app?.stop();
    await api.close();
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it(`a broadcast to ${MEMBERS} members while the admin approves ${NEWCOMERS} newcomers: everything arrives, and no second has more than 30 messages or two in one chat (no 429)`, async () => {
    const members = Array.from({ length: MEMBERS }, (_, i) => 610_000 + i);
    await fs.mkdir(path.join(dir, 'data'), { recursive: true, mode: 0o700 });
    const db = await database.open();
    try {
      await migrate(db);
      for (const id of members) {
        await requestAccess(db, { id, first_name: `M${id}` }, 1);
        await transitionUser(db, id, 'pending', 'active', null, 1);
      }
    } finally {
      await db.destroy();
    }
    for (const id of members) api.knowUser({ id, first_name: `M${id}` });
    api.knowUser(ADMIN);
    const config = appConfig({ token: TOKEN, adminIds: [ADMIN.id], apiRoot: api.apiRoot, dir, database }, { WEBHOOK_PORT: String(await freePort()) });
    app = await startApp(config, pino({ level: 'silent' }), { runner: new FakeWg() });

    const newcomers = Array.from({ length: NEWCOMERS }, (_, i) => ({ id: 620_000 + i, first_name: `N${i}`, language_code: 'en' }));
    for (const u of newcomers) api.sendText(u, '/start');
    for (const u of newcomers) await api.waitForMessage(u.id, (m) => /sent to the admins/.test(m.message.text ?? ''), 20_000);

    api.sendText(ADMIN, '/broadcast');
    await api.waitForMessage(ADMIN.id, (m) => /Send me the message/.test(m.message.text ?? ''));
    api.sendText(ADMIN, 'Maintenance tonight');
    const confirm = await api.waitForMessage(ADMIN.id, (m) => new RegExp(`${MEMBERS} recipients`).test(m.message.text ?? ''));
    api.clickButton(ADMIN, confirm, new RegExp(`Send to ${MEMBERS}`));
    // The admin approves every newcomer while the broadcast goes out (the bot reads only the button's data).
    for (const u of newcomers) api.pressButton(ADMIN, confirm, `apr:${u.id}`);

    for (const id of members) await api.waitForMessage(id, (m) => m.message.text === 'Maintenance tonight', 30_000);
    for (const u of newcomers) await api.waitForMessage(u.id, (m) => m.method === 'sendDocument', 30_000);
    await api.waitForMessage(ADMIN.id, (m) => /finished/.test(m.message.text ?? ''), 30_000);
    for (const u of newcomers) expect((await findUserIn(database, u.id))?.status).toBe('active');

    const refused = api.calls.filter((c) => c.error?.error_code === 429);
    expect(refused.map((c) => `${c.method} → ${String(c.params.chat_id)}`)).toEqual([]);
    const peak = busiest(api.calls);
    expect(peak.all).toBeLessThanOrEqual(30);
    expect(peak.chat).toBe(1);
    // Every member got the broadcast once; every newcomer one config.
    for (const id of members) expect(api.messagesTo(id).filter((m) => m.message.text === 'Maintenance tonight')).toHaveLength(1);
    for (const u of newcomers) expect(api.messagesTo(u.id).filter((m) => m.method === 'sendDocument')).toHaveLength(1);
  }, 90_000);
});

async function findUserIn(database: AppDatabase, id: number) {
  const db = await database.open();
  try {
    return await findUser(db, id);
  } finally {
    await db.destroy();
  }
}
