import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { peersOfUser } from '../../src/db/peers.js';
import type { ResetPlan } from '../../src/db/schema.js';
import { DEFAULT_PERIOD_RULES, type PeriodRules, periodEnd, rollUsagePeriods, setResetPlan } from '../../src/db/usage-periods.js';
import { findUser, setLimits } from '../../src/db/users.js';
import { type Monitor, startMonitor } from '../../src/monitor/index.js';
import type { TickRules } from '../../src/monitor/traffic.js';
import { AccessService } from '../../src/use-cases/access.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

const USER: From = { id: 4141, first_name: 'Plan', language_code: 'en' };
const DAY = 86_400_000;
const GIB = 1024 ** 3;

describe('reset plans, top-ups, expiry from the first connection, /usage', () => {
  let h: Harness;
  let monitor: Monitor;
  let key: string;
  const startMonitorWith = (periods: Partial<TickRules> = {}) =>
    startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: 3_600_000, now: h.deps.now, periods: { ...DEFAULT_PERIOD_RULES, ...periods }, afterTick: (t) => h.enforceLimits(t) });
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
    await h.send(USER, '/start');
    await h.press(ADMIN_A, `apr:${USER.id}`);
    key = (await peersOfUser(h.db, USER.id))[0]!.public_key;
    monitor = startMonitorWith();
  });
  afterEach(async () => {
    await monitor.stop();
    await h.close();
  });

  const user = async () => (await findUser(h.db, USER.id))!;
  const told = (re: RegExp, chat = USER.id) => h.rec.find('sendMessage', chat).filter((c) => re.test(c.payload.text)).length;
  /** The admin's screen after pressing `data` (a new message or an edit). */
  const screenAfter = async (data: string) => {
    await h.press(ADMIN_A, data);
    return h.rec.textsTo(ADMIN_A.id).at(-1)!;
  };
  const cardText = () => screenAfter(`usr:${USER.id}`);

  it('each plan rolls exactly at its period end, and not a moment before; none never rolls', async () => {
    const rules: PeriodRules = { resetDay: 15, defaultPlan: 'month' };
    const t0 = Date.UTC(2026, 10, 20, 10, 5); // a Friday
    const expected: Record<ResetPlan, number | null> = {
      day: Date.UTC(2026, 10, 21),
      week: Date.UTC(2026, 10, 23), // Monday
      month: Date.UTC(2026, 11, 15),
      rolling: t0 + 30 * DAY,
      none: null,
    };
    for (const [plan, end] of Object.entries(expected) as [ResetPlan, number | null][]) {
      await setResetPlan(h.db, USER.id, plan, t0, rules);
      await setLimits(h.db, USER.id, { usage_bytes: 500, warned_quota: 80 });
      await rollUsagePeriods(h.db, t0, rules);
      expect((await user()).usage_bytes, `${plan}: the switch keeps the usage`).toBe(500);
      expect(periodEnd(await user(), t0, rules), plan).toBe(end);
      const last = end ?? t0 + 3650 * DAY;
      await rollUsagePeriods(h.db, last - 1, rules);
      expect((await user()).usage_bytes, `${plan} before its end`).toBe(500);
      await rollUsagePeriods(h.db, last, rules);
      expect(await user(), `${plan} at its end`).toMatchObject(end === null ? { usage_bytes: 500, warned_quota: 80 } : { usage_bytes: 0, warned_quota: 0 });
    }
    // The default plan applies to a user without one (null); rolling counts from the approval.
    await setResetPlan(h.db, USER.id, null, t0, { resetDay: 1, defaultPlan: 'rolling' });
    expect(periodEnd(await user(), t0, { resetDay: 1, defaultPlan: 'rolling' })).toBe(t0 + 30 * DAY);
  });

  it('a top-up raises this period’s allowance, lifts a limited user at once, and ends with the period', async () => {
    await setLimits(h.db, USER.id, { quota_bytes: 1000 });
    h.wg.traffic(key, 600, 500, 1);
    await monitor.tick();
    expect((await user()).status).toBe('limited');
    expect(h.wg.peers.has(key)).toBe(false);

    await h.press(USER, `tup:${USER.id}:1`); // not an admin: refused
    expect((await user()).topup_bytes).toBe(0);
    await h.press(ADMIN_A, `tup:${USER.id}:1`);
    expect(await user()).toMatchObject({ status: 'active', topup_bytes: GIB });
    expect(h.wg.peers.has(key)).toBe(true);
    const card = await cardText();
    expect(card).toContain('Quota: 1.07 KiB of 1.00 GiB (incl. top-up 1.00 GiB) this period');
    expect(card).toContain('Usage resets: monthly · Period ends: 2026-12-01 00:00 UTC\n');
    await monitor.tick();
    expect((await user()).status).toBe('active');

    h.advance(30 * DAY); // 2026-12-01 12:00: the next monthly period
    await monitor.tick();
    expect(await user()).toMatchObject({ status: 'active', topup_bytes: 0, usage_bytes: 0 });
    h.wg.traffic(key, 1000, 0, 2);
    await monitor.tick();
    expect((await user()).status).toBe('limited'); // the top-up is gone: the quota alone again
  });

  it('the admin switches the plan on the card; the usage so far stays', async () => {
    h.wg.traffic(key, 100, 100, 1);
    await monitor.tick();
    h.advance(3_600_000);
    await monitor.tick();
    expect((await user()).usage_bytes).toBe(200);
    expect(await screenAfter(`pln:${USER.id}`)).toContain('Choose when this user');
    await h.press(ADMIN_A, `pls:${USER.id}:bogus`);
    expect((await user()).reset_plan).toBeNull();
    await h.press(ADMIN_A, `pls:${USER.id}:day`);
    expect(await user()).toMatchObject({ reset_plan: 'day', usage_bytes: 200 });
    await monitor.tick();
    expect((await user()).usage_bytes).toBe(200);
    const daily = await cardText();
    expect(daily).toContain('Usage resets: daily · Period ends: 2026-11-02 00:00 UTC');
    expect(daily).not.toContain('  '); // no top-up: nothing left of its place

    h.advance(DAY);
    await monitor.tick();
    expect((await user()).usage_bytes).toBe(0);
  });

  it('DEFAULT_DAYS_FROM=first_handshake: the validity starts at the first handshake the monitor sees', async () => {
    const access = new AccessService(h.db, h.fleet, h.deps.log, h.deps.now, { days: 30, daysFromFirstHandshake: true });
    const other: From = { id: 4142, first_name: 'Later', language_code: 'en' };
    await h.send(other, '/start');
    await access.approve(other.id, { id: ADMIN_A.id, name: 'Alice' });
    expect(await findUser(h.db, other.id)).toMatchObject({ expires_at: null, expiry_days_pending: 30 });
    expect(await screenAfter(`usr:${other.id}`)).toContain('Expires: starts at first connection (30 d)');
    const otherKey = (await peersOfUser(h.db, other.id))[0]!.public_key;
    h.wg.traffic(key, 10, 10, 1); // another user's handshake changes nothing for this one
    await monitor.tick();
    expect(await findUser(h.db, other.id)).toMatchObject({ expires_at: null, expiry_days_pending: 30 });

    h.advance(5 * DAY);
    const handshake = Math.floor(h.deps.now() / 1000) - 20;
    h.wg.traffic(otherKey, 10, 10, handshake);
    await monitor.tick();
    expect(await findUser(h.db, other.id)).toMatchObject({ expires_at: handshake * 1000 + 30 * DAY, expiry_days_pending: null, status: 'active' });
    expect(await screenAfter(`usr:${other.id}`)).toContain(`Expires: ${new Date(handshake * 1000 + 30 * DAY).toISOString().slice(0, 16).replace('T', ' ')} UTC`);

    // The admin's choice on the Limits menu: an expired user is back (no date yet), the days wait for the next connection.
    await setLimits(h.db, USER.id, { expires_at: h.deps.now() - 1 });
    await monitor.tick();
    expect((await user()).status).toBe('expired');
    await h.press(ADMIN_A, `xpf:${USER.id}:90`);
    expect(await user()).toMatchObject({ status: 'active', expires_at: null, expiry_days_pending: 90 });
    h.wg.traffic(key, 10, 10, Math.floor(h.deps.now() / 1000));
    await monitor.tick();
    expect((await user()).expires_at).toBe(Math.floor(h.deps.now() / 1000) * 1000 + 90 * DAY);
  });

  it('/usage: a member gets their chart with this period’s numbers; others are told it needs access', async () => {
    await setLimits(h.db, USER.id, { quota_bytes: 2 * GIB, expires_at: Date.UTC(2027, 0, 1) });
    h.wg.traffic(key, 1024, 2048, 1);
    await monitor.tick();
    await h.send(USER, '/usage');
    const photo = h.rec.last('sendPhoto', USER.id)!;
    expect(photo.files.photo!.data.subarray(1, 4).toString()).toBe('PNG');
    expect(photo.payload.caption).toContain('This period: 3.00 KiB of 2.00 GiB');
    expect(photo.payload.caption).toContain('Usage resets: monthly · Period ends: 2026-12-01 00:00 UTC');
    expect(photo.payload.caption).toContain('Access until: 2027-01-01 00:00 UTC');

    const stranger: From = { id: 4143, first_name: 'Pending', language_code: 'en' };
    await h.send(stranger, '/start');
    await h.send(stranger, '/usage');
    expect(h.rec.find('sendPhoto', stranger.id)).toHaveLength(0);
    expect(h.rec.last('sendMessage', stranger.id)!.payload.text).toContain('once you have access');
  });

  for (const summary of [true, false]) {
    it(`USAGE_SUMMARY=${summary ? 'on' : 'off'}: the last period’s usage is told ${summary ? 'once' : 'never'} when a new one starts`, async () => {
      await monitor.stop();
      monitor = startMonitorWith({ usageSummary: summary });
      await setLimits(h.db, USER.id, { quota_bytes: 4 * GIB });
      h.wg.traffic(key, GIB / 2, GIB, 1);
      await monitor.tick();
      h.advance(3_600_000);
      await monitor.tick();
      expect(told(/new period/)).toBe(0);
      h.advance(30 * DAY);
      await monitor.tick();
      await monitor.tick();
      await h.drain();
      expect(told(/A new period has started\. Last period you used 1\.50 GiB of 4\.00 GiB\./)).toBe(summary ? 1 : 0);
    });
  }
});
