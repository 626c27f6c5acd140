import { afterEach, describe, expect, it } from 'vitest';
import { findPeer, peersOfUser } from '../../src/db/peers.js';
import { setBlocked, setLimits } from '../../src/db/users.js';
import { type Monitor, startMonitor } from '../../src/monitor/index.js';
import { digestSlot, REMINDER_KINDS, type ReminderKind } from '../../src/use-cases/reminders.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness, type HarnessOptions } from '../support/harness.js';
import type { From } from '../support/recorder.js';

const USER: From = { id: 4141, first_name: 'Remi', language_code: 'en' };
const OTHER: From = { id: 4142, first_name: 'Otto', language_code: 'en' };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('reminders', () => {
  let h: Harness;
  let monitor: Monitor | undefined;
  afterEach(async () => {
    await monitor?.stop();
    monitor = undefined;
    await h.close();
  });

  async function start(opts: HarnessOptions = {}) {
    h = await createHarness({ captcha: false, ...opts });
  }
  async function approve(u: From): Promise<string> {
    await h.send(u, '/start');
    await h.press(ADMIN_A, `apr:${u.id}`);
    return (await peersOfUser(h.db, u.id))[0]!.public_key;
  }
  /** A monitor tick: traffic counted, then the limits and the reminders (the harness's afterTick), then sent. */
  function withMonitor() {
    monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: HOUR, now: h.deps.now, afterTick: (t) => h.enforceLimits(t) });
    return monitor;
  }
  const told = (re: RegExp, chat = USER.id) => h.rec.find('sendMessage', chat).filter((c) => re.test(c.payload.text)).length;

  it('quota: 50, 80 and 95 % once each per period; a jump over several tells only the highest', async () => {
    await start();
    const key = await approve(USER);
    const m = withMonitor();
    await setLimits(h.db, USER.id, { quota_bytes: 1000 });
    const counts = () => [50, 80, 95].map((p) => told(new RegExp(`used ${p}%`)));
    h.wg.traffic(key, 300, 199, 1);
    await m.tick();
    expect(counts()).toEqual([0, 0, 0]); // 499 bytes: under half
    h.wg.traffic(key, 1, 0, 1);
    await m.tick();
    await m.tick();
    expect(counts()).toEqual([1, 0, 0]);
    h.wg.traffic(key, 300, 0, 2); // 800
    await m.tick();
    expect(counts()).toEqual([1, 1, 0]);
    h.wg.traffic(key, 150, 0, 3); // 950
    await m.tick();
    await m.tick();
    expect(counts()).toEqual([1, 1, 1]);

    h.advance(31 * DAY); // a new period: usage and reminders start over
    await m.tick();
    h.wg.traffic(key, 970, 0, 4); // 0 → 97 % in one tick
    await m.tick();
    await m.tick();
    expect(counts()).toEqual([1, 1, 2]);
    expect(h.rec.find('sendMessage', USER.id).filter((c) => /used \d+%/.test(c.payload.text)).length).toBe(4);
  });

  it('expiry: 3 days and 1 day before, once each; within a day at once tells only the 1-day one', async () => {
    await start();
    await approve(USER);
    await approve(OTHER);
    await setLimits(h.db, USER.id, { expires_at: h.deps.now() + 2.5 * DAY });
    await setLimits(h.db, OTHER.id, { expires_at: h.deps.now() + 0.5 * DAY });
    await h.enforceLimits();
    await h.enforceLimits();
    expect([told(/expires in 3 days/), told(/less than a day/)]).toEqual([1, 0]);
    expect([told(/expires in 3 days/, OTHER.id), told(/less than a day/, OTHER.id)]).toEqual([0, 1]);
    h.advance(1.6 * DAY);
    await h.enforceLimits();
    await h.enforceLimits();
    expect([told(/expires in 3 days/), told(/less than a day/)]).toEqual([1, 1]);
  });

  it('never connected: one reminder 24 h after the config arrived, with the how-to and a button that sends the config again; not to a device that connected', async () => {
    await start();
    await approve(USER);
    const otherKey = await approve(OTHER);
    const m = withMonitor();
    const peerId = (await peersOfUser(h.db, USER.id))[0]!.id;
    h.wg.traffic(otherKey, 10, 10, 1_700_000_000); // OTHER's device connected
    h.advance(DAY - 60_000);
    await m.tick();
    expect(told(/has not connected/)).toBe(0);
    h.advance(60_000);
    await m.tick();
    await m.tick();
    expect(told(/has not connected/)).toBe(1);
    expect(told(/has not connected/, OTHER.id)).toBe(0);
    const reminder = h.rec.find('sendMessage', USER.id).find((c) => /has not connected/.test(c.payload.text))!;
    expect(reminder.payload.text).toContain('Your device <b>Device 1</b> has not connected');
    expect(reminder.payload.text).toContain('How to connect');
    const [button] = reminder.payload.reply_markup.inline_keyboard.flat() as { text: string; callback_data: string }[];
    expect(button).toEqual({ text: '📦 Send the configuration again', callback_data: `dvc:${peerId}` });

    const documents = h.rec.find('sendDocument', USER.id).length;
    await h.press(USER, button!.callback_data, reminder);
    expect(h.rec.find('sendDocument', USER.id).length).toBe(documents + 1);
    expect(h.rec.last('sendDocument', USER.id)!.payload.caption).toContain('10.8.0.2');

    // Marked in the database, so no later tick (nor a restarted process) sends it again.
    expect((await findPeer(h.db, peerId))?.nudged_at).toBe(h.deps.now());
    h.advance(3 * DAY);
    await m.tick();
    expect(told(/has not connected/)).toBe(1);
  });

  it('never connected: a device whose config arrived over a week ago (before an upgrade, say) is left alone', async () => {
    await start();
    await approve(USER);
    const m = withMonitor();
    h.advance(7 * DAY + 60_000);
    await m.tick();
    expect(told(/has not connected/)).toBe(0);
  });

  it('quota: the steps are of the allowance, the top-up included', async () => {
    await start();
    const key = await approve(USER);
    const m = withMonitor();
    await setLimits(h.db, USER.id, { quota_bytes: 1000 });
    await m.tick(); // the first period starts (a roll clears top-ups)
    await h.db.updateTable('users').set({ topup_bytes: 1000 }).where('id', '=', USER.id).execute();
    h.wg.traffic(key, 900, 0, 1); // 45 % of 2000
    await m.tick();
    await m.tick();
    expect(told(/used \d+%/)).toBe(0);
    h.wg.traffic(key, 100, 0, 2); // 1000: 50 %
    await m.tick();
    await m.tick();
    expect(told(/used 50%/)).toBe(1);
  });

  it('a user who blocked the bot is not reminded (Telegram would refuse it)', async () => {
    await start();
    const key = await approve(USER);
    const m = withMonitor();
    await setLimits(h.db, USER.id, { quota_bytes: 1000, expires_at: h.deps.now() + 0.5 * DAY });
    await setBlocked(h.db, USER.id, h.deps.now());
    h.wg.traffic(key, 990, 0, 1);
    await m.tick();
    await m.tick();
    expect(told(/used \d+%|less than a day/)).toBe(0);
    await setBlocked(h.db, USER.id, null);
    await m.tick();
    expect([told(/used 95%/), told(/less than a day/)]).toEqual([1, 1]);
  });

  it('weekly digest: once a week from Monday 09:00 UTC to every admin, with the week\'s new users, top traffic, who never connected and who expires next', async () => {
    await start();
    await h.send(ADMIN_B, '/help'); // the bot learns Boris's language
    const digests = (chat: number) => h.rec.find('sendMessage', chat).filter((c) => /Weekly digest|Сводка за неделю/.test(c.payload.text));
    expect(new Date(h.deps.now()).getUTCDay()).toBe(0); // the harness starts on a Sunday
    await h.enforceLimits(); // the first start in the week: that week's digest at once
    await h.enforceLimits();
    expect([digests(ADMIN_A.id).length, digests(ADMIN_B.id).length]).toEqual([1, 1]);
    expect(digests(ADMIN_A.id)[0]!.payload.text).toContain('New users:</b> 0');

    const ann: From = { id: 4143, first_name: 'Ann <b>', last_name: 'Lee & Co', language_code: 'en' };
    const annKey = await approve(ann);
    h.advance(60_000);
    await approve(OTHER);
    h.advance(60_000);
    await h.send(USER, '/start'); // pending: new, but not approved
    const m = withMonitor();
    h.wg.traffic(annKey, 1024, 1024, 1_700_000_000);
    const monday = digestSlot(h.deps.now()) + 7 * DAY;
    await setLimits(h.db, OTHER.id, { expires_at: monday + 3 * DAY });
    h.advance(monday - 60_000 - h.deps.now());
    await m.tick();
    expect(digests(ADMIN_A.id).length).toBe(1);
    h.advance(60_000);
    await m.tick();
    await m.tick();
    expect([digests(ADMIN_A.id).length, digests(ADMIN_B.id).length]).toEqual([2, 2]);
    const text = digests(ADMIN_A.id)[1]!.payload.text as string;
    expect(text).toContain('2026-10-26 – 2026-11-02');
    expect(text).toContain('New users:</b> 3: Remi, Otto, Ann &lt;b&gt; Lee &amp; Co');
    expect(text).toContain('1. Ann &lt;b&gt; Lee &amp; Co — 2.00 KiB');
    expect(text).toContain('Never connected:</b> 1: Otto');
    expect(text).toContain('Expiring in the week ahead:</b> 1\n• Otto — 2026-11-05');
    expect(digests(ADMIN_B.id)[1]!.payload.text).toContain('Новые пользователи:</b> 3');

    h.advance(7 * DAY - 60_000);
    await m.tick();
    expect(digests(ADMIN_A.id).length).toBe(2);
    h.advance(60_000);
    await m.tick();
    expect(digests(ADMIN_A.id).length).toBe(3);
    expect(digests(ADMIN_A.id)[2]!.payload.text).toContain('New users:</b> 0');
  });

  const CASES: [string, ReminderKind[]][] = [...REMINDER_KINDS.map((k): [string, ReminderKind[]] => [k, [k]]), ['every kind (none)', [...REMINDER_KINDS]]];
  it.each(CASES)('switched off: %s → nothing of it is queued, the others are', async (_name, off) => {
    await start({ reminders: REMINDER_KINDS.filter((k) => !off.includes(k)) });
    await approve(USER);
    await setLimits(h.db, USER.id, { quota_bytes: 1000, usage_bytes: 600, expires_at: h.deps.now() + 2 * DAY });
    h.advance(DAY + 60_000);
    await h.enforceLimits();
    const sent: Record<ReminderKind, number> = {
      quota: told(/used 50%/),
      expiry: told(/less than a day/),
      'never-connected': told(/has not connected/),
      'weekly-digest': told(/Weekly digest/, ADMIN_A.id),
    };
    for (const k of REMINDER_KINDS) expect([k, sent[k]]).toEqual([k, off.includes(k) ? 0 : 1]);
  });
});
