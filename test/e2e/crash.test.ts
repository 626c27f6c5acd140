import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { Translator } from '../../src/bot/i18n.js';
import type { Message, Update } from 'grammy/types';
import type { SentMessage } from '../support/bot-api.js';
import { StandInClient } from '../support/bot-api-client.js';
import type { AppDatabase } from '../support/database.js';
import { botEnv, buttonsOf, startBot } from '../support/e2e.js';
import { type LabProcess, NetnsLab, realPartsGate, run } from '../support/netns.js';

// The built bot under a mixed load (newcomers, approvals, devices added, a broadcast) is killed
// with SIGKILL at 50 random moments and started again each time. Afterwards: every update was
// handled once in effect (one user, one peer per approval, one device per request, one
// broadcast), every message the outbox had to send arrived exactly once or is recorded as
// unknown and reported to the admins (never twice), nothing is left queued, and the interface
// matches the database. Plain WireGuard only, unlike the other e2e files (tunnelVariants): the
// 50 kills take minutes, and kills during approvals on AmneziaWG are in flow.test.ts.

const ready = await realPartsGate();
const TOKEN = '424242:crash-token';
const ADMIN = { id: 515001, first_name: 'Admin', language_code: 'en' };
const KILLS = 50;
const NEWCOMERS = 40;
const BROADCAST = 'Maintenance tonight at 23:00';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t = new Translator();

describe.skipIf(!ready)('SIGKILL at random moments of a mixed load', () => {
  let lab: NetnsLab;
  let api: StandInClient;
  let bot: LabProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let database: AppDatabase;
  let iface: string;
  let db: Db;

  beforeAll(async () => {
    lab = await NetnsLab.create();
    api = await StandInClient.start({ token: TOKEN, netns: lab.serverNs });
    await api.knowUser(ADMIN);
    ({ env, iface, database } = await botEnv(lab, { flavor: 'wireguard', token: TOKEN, apiRoot: api.apiRoot, adminId: ADMIN.id, ifacePrefix: 'avk' }));
    env = { ...env, CAPTCHA: 'off', LOG_LEVEL: 'info', MONITOR_INTERVAL_SECONDS: '2' };
    bot = await startBot(lab, env);
    db = await database.open();
  }, 90_000);

  afterAll(async () => {
    await db?.destroy();
    await bot?.stop(3000);
    await api?.stop();
    await lab?.cleanup();
  }, 60_000);

  it(`${KILLS} kills: each update in effect once, each message once or reported, nothing left behind`, async () => {
    const newcomers = Array.from({ length: NEWCOMERS }, (_, i) => ({ id: 700_000 + i, first_name: `Crash${i}`, language_code: 'en' }));
    const withDevice = new Set(newcomers.filter((_, i) => i % 3 === 0).map((u) => u.id));
    let loadDone = false;
    const statusOf = async () => new Map((await db.selectFrom('users').select(['id', 'status']).execute()).map((r) => [Number(r.id), r.status]));
    const fakeRequest: Message = { message_id: 1, date: 0, chat: { id: ADMIN.id, type: 'private', first_name: ADMIN.first_name }, text: 'request' };

    // Newcomers arrive over the first minute or so; the admin approves each pending one once; a
    // third of them add a device (a reply to the bot's prompt) once they are in.
    const load = (async () => {
      const pressed = new Set<number>();
      const added = new Set<number>();
      let next = 0;
      let broadcastAt = Date.now() + 30_000;
      let broadcast: Promise<void> | undefined;
      while (pressed.size < NEWCOMERS || added.size < withDevice.size || !broadcast) {
        if (next < NEWCOMERS && Math.random() < 0.5) await api.sendText(newcomers[next++]!, '/start');
        const status = await statusOf();
        for (const u of newcomers) {
          if (status.get(u.id) === 'pending' && !pressed.has(u.id)) {
            pressed.add(u.id);
            await api.pressButton(ADMIN, fakeRequest, `apr:${u.id}`);
          }
          if (status.get(u.id) === 'active' && withDevice.has(u.id) && !added.has(u.id)) {
            added.add(u.id);
            await api.pushUpdate(deviceReply(u, `Phone-${u.id}`));
          }
        }
        if (!broadcast && Date.now() >= broadcastAt) {
          broadcast = sendBroadcast(api, async () => (await db.selectFrom('broadcasts').select('id').where('status', 'in', ['sending', 'done']).execute()).length > 0);
        }
        await sleep(150 + randomInt(300));
        if (next >= NEWCOMERS) broadcastAt = Math.min(broadcastAt, Date.now());
      }
      await broadcast;
      loadDone = true;
    })();

    // Meanwhile: SIGKILL at a random moment, start again, KILLS times. Every fifth kill comes while
    // a call is in flight: Telegram has performed it, its answer is held back, and the bot dies waiting.
    const inFlight = ['sendDocument', 'sendMessage', 'answerCallbackQuery', 'sendPhoto'];
    let caughtInFlight = 0;
    for (let k = 0; k < KILLS; k++) {
      const method = k % 5 === 4 ? inFlight[(k / 5) % inFlight.length | 0]! : undefined;
      if (method) {
        const mark = await api.mark();
        await api.answerLate(method, 3000);
        caughtInFlight += await api.waitFor((c) => c.method === method && c.ok === true, 20_000, mark).then(
          () => 1,
          () => 0, // none came: an ordinary kill
        );
      } else await sleep(100 + randomInt(1200));
      process.kill(bot!.pid!, 'SIGKILL');
      await bot!.exited;
      bot = await startBot(lab, env);
    }
    expect(caughtInFlight).toBeGreaterThanOrEqual(5);
    await until('the load is through', async () => loadDone, 180_000);
    await load;

    // Settled: nothing waits in the inbox or the outbox, nobody is half approved.
    await until(
      'inbox and outbox settled',
      async () => {
        const unhandled = await db.selectFrom('inbox').select('update_id').where('handled_at', 'is', null).execute();
        const queued = await db.selectFrom('outbox').select('id').where('status', 'in', ['queued', 'sending']).execute();
        const moving = await db.selectFrom('users').select('id').where('status', 'in', ['pending', 'provisioning']).execute();
        const sending = await db.selectFrom('broadcasts').select('id').where('status', '=', 'sending').execute();
        return unhandled.length + queued.length + moving.length + sending.length === 0;
      },
      120_000,
    );
    await sleep(2000);
    const calls = await api.calls();
    const sent = (chatId: number) => calls.filter((c) => c.ok && c.params.chat_id === chatId && /^send/.test(c.method));
    const unknownRows = await db.selectFrom('outbox').select(['chat_id', 'kind', 'data']).where('status', '=', 'unknown').execute();
    const unknownFor = (chatId: number, kind: string, match: (data: Record<string, unknown>) => boolean) =>
      unknownRows.filter((r) => Number(r.chat_id) === chatId && r.kind === kind && match(JSON.parse(r.data) as Record<string, unknown>)).length;

    // Every update Telegram handed out was stored and handled.
    const handedOut = new Set(calls.filter((c) => c.method === 'getUpdates' && c.ok).flatMap((c) => (c.result as Update[]).map((u) => u.update_id)));
    const handled = new Set((await db.selectFrom('inbox').select('update_id').where('handled_at', 'is not', null).execute()).map((r) => Number(r.update_id)));
    expect([...handedOut].filter((id) => !handled.has(id))).toEqual([]);

    // In effect once: one user and one peer per newcomer, one device per request.
    const status = await statusOf();
    for (const u of newcomers) expect(status.get(u.id), `${u.first_name}`).toBe('active');
    const peers = await db.selectFrom('peers').select(['id', 'user_id', 'name', 'ip', 'public_key']).execute();
    for (const u of newcomers) {
      const mine = peers.filter((p) => Number(p.user_id) === u.id);
      expect(mine.map((p) => p.name).sort(), `devices of ${u.first_name}`).toEqual(withDevice.has(u.id) ? [`Phone-${u.id}`, null] : [null]);
    }

    // Each message once, or recorded as unknown (then at most once) and the admins told.
    for (const u of newcomers) {
      // The welcome itself: a /start replayed after a kill may also answer "approved; being prepared".
      const welcomes = sent(u.id).filter((c) => c.method === 'sendMessage' && c.params.text === t.t('en', 'you-are-approved'));
      const welcome = welcomes.length;
      const lost = unknownFor(u.id, 'notice', (d) => d.key === 'you-are-approved');
      expect(lost ? welcome <= 1 : welcome === 1, `welcome of ${u.first_name}: ${welcome} sent, ${lost} unknown: ${JSON.stringify(welcomes.map((c) => c.params.text))}`).toBe(true);
      for (const p of peers.filter((x) => Number(x.user_id) === u.id)) {
        for (const [part, method] of [['file', 'sendDocument'], ['qr', 'sendPhoto']] as const) {
          const got = sent(u.id).filter((c) => c.method === method && (method === 'sendPhoto' || Object.values(c.files)[0]?.data.toString().includes(`Address = ${p.ip}/32`))).length;
          const lostPart = unknownFor(u.id, 'config', (d) => d.peerId === p.id && d.part === part);
          if (method === 'sendDocument') expect(lostPart ? got <= 1 : got === 1, `${part} of ${u.first_name}'s peer ${p.id}: ${got} sent, ${lostPart} unknown`).toBe(true);
        }
      }
    }
    const totalPhotos = (u: number) => sent(u).filter((c) => c.method === 'sendPhoto').length;
    for (const u of newcomers) {
      const devices = peers.filter((p) => Number(p.user_id) === u.id).length;
      const lost = unknownFor(u.id, 'config', (d) => d.part === 'qr');
      expect(totalPhotos(u.id) + lost, `QR codes of ${u.first_name}`).toBeGreaterThanOrEqual(devices);
      expect(totalPhotos(u.id)).toBeLessThanOrEqual(devices);
    }
    if (unknownRows.some((r) => Number(r.chat_id) !== ADMIN.id)) {
      expect(sent(ADMIN.id).some((c) => /stopped while sending/.test(String(c.params.text)))).toBe(true);
    }
    const leftOver = await db.selectFrom('outbox').select(['status', 'kind', 'error']).where('status', 'in', ['failed', 'blocked']).execute();
    expect(leftOver).toEqual([]);

    // The broadcast went out once: each member at most one copy, and all of it is accounted for.
    const deliveries = await db.selectFrom('broadcast_deliveries').select(['user_id', 'status']).execute();
    expect(deliveries.length).toBeGreaterThan(0);
    for (const d of deliveries) {
      const copies = sent(Number(d.user_id)).filter((c) => c.params.text === BROADCAST).length;
      expect(copies, `broadcast to ${d.user_id} (${d.status})`).toBeLessThanOrEqual(1);
      if (d.status === 'sent') expect(copies).toBe(1);
      expect(['sent', 'unknown']).toContain(d.status);
    }

    // The interface holds exactly the database's active peers.
    const live = (await run(['wg', 'show', iface, 'peers'])).stdout.trim().split('\n').filter(Boolean).sort();
    expect(live).toEqual(peers.map((p) => p.public_key).sort());
  }, 600_000);
});

/** A reply to the bot's "name of the new device" prompt, as Telegram delivers it. */
function deviceReply(u: { id: number; first_name: string }, name: string): object {
  const chat = { id: u.id, type: 'private', first_name: u.first_name };
  return {
    message: {
      message_id: 900_000 + randomInt(1_000_000),
      date: Math.floor(Date.now() / 1000),
      chat,
      from: { id: u.id, is_bot: false, first_name: u.first_name },
      text: name,
      reply_to_message: { message_id: 1, date: 0, chat, from: { id: 424242, is_bot: true, first_name: 'bot' }, text: t.tRaw('en', 'device-add-prompt', {}) },
    },
  };
}

/** /broadcast, the text, then Send once the confirmation is there; asked again if a kill ate a step. */
async function sendBroadcast(api: StandInClient, started: () => Promise<boolean>): Promise<void> {
  while (!(await started())) {
    const mark = await api.mark();
    await api.sendText(ADMIN, '/broadcast');
    try {
      await api.waitForMessage(ADMIN.id, (m) => /Send me the message/.test(m.message.text ?? ''), 20_000, mark);
      await api.sendText(ADMIN, BROADCAST);
      const confirm: SentMessage = await api.waitForMessage(ADMIN.id, (m) => /recipients/.test(m.message.text ?? ''), 20_000, mark);
      const send = buttonsOf(confirm).find((b) => /^bcs:/.test(b.callback_data ?? ''))!;
      await api.pressButton(ADMIN, confirm.message, send.callback_data!);
      await until('the broadcast is confirmed', started, 20_000);
    } catch {
      // A step was cut off by a kill before its answer went out: as a person would, start over.
    }
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  for (const deadline = Date.now() + ms; ; ) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(250);
  }
}
