import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccessService } from '../../src/use-cases/access.js';
import { peersOfUser } from '../../src/db/peers.js';
import { findUser, setLimits } from '../../src/db/users.js';
import { quotaPeriod } from '../../src/db/usage-periods.js';
import { type Monitor, startMonitor } from '../../src/monitor/index.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

const USER: From = { id: 3131, first_name: 'Quota', language_code: 'en' };
const DAY = 86_400_000;

describe('quotas and expiry', () => {
  let h: Harness;
  let monitor: Monitor;
  let key: string;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
    await h.send(USER, '/start');
    await h.press(ADMIN_A, `apr:${USER.id}`);
    key = (await peersOfUser(h.db, USER.id))[0]!.public_key;
    monitor = startMonitor({
      db: h.db,
      nodes: () => h.fleet.services(),
      log: h.deps.log,
      intervalMs: 3_600_000,
      now: h.deps.now,
      afterTick: (t) => h.enforceLimits(t),
    });
  });
  afterEach(async () => {
    await monitor.stop();
    await h.close();
  });

  const told = (re: RegExp, chat = USER.id) => h.rec.find('sendMessage', chat).filter((c) => re.test(c.payload.text)).length;

  it('warns at 80 %, limits at 100 % within one tick (peer off, keys kept), once; a new period lifts it and keeps the totals', async () => {
    await setLimits(h.db, USER.id, { quota_bytes: 1000 });
    h.wg.traffic(key, 300, 550, 1);
    await monitor.tick();
    expect(told(/used 80%/)).toBe(1);
    h.wg.traffic(key, 100, 100, 2); // 1050 bytes: over the quota inside one tick
    await monitor.tick();
    await monitor.tick();
    expect((await findUser(h.db, USER.id))?.status).toBe('limited');
    expect(h.wg.peers.has(key)).toBe(false);
    expect((await peersOfUser(h.db, USER.id))[0]).toMatchObject({ public_key: key, status: 'disabled' });
    expect(told(/whole traffic quota/)).toBe(1);
    expect(told(/reached their traffic quota/, ADMIN_A.id)).toBe(1);
    expect(told(/used 80%/)).toBe(1);
    await h.send(USER, '/status');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain("this period's traffic quota");

    h.advance(31 * DAY); // the next period (reset day 1)
    await monitor.tick();
    expect((await findUser(h.db, USER.id))).toMatchObject({ status: 'active', usage_bytes: 0 });
    expect(h.wg.peers.get(key)?.ip).toBe('10.8.0.2');
    expect(told(/works again/)).toBe(1);
    expect((await peersOfUser(h.db, USER.id))[0]).toMatchObject({ rx_total: 400, tx_total: 650 });
  });

  it('expiry: warnings 3 days and 1 day before, then paused; an admin extension brings the peer back at once', async () => {
    await setLimits(h.db, USER.id, { expires_at: h.deps.now() + 2.5 * DAY });
    await monitor.tick();
    await monitor.tick();
    expect(told(/expires in 3 days/)).toBe(1);
    h.advance(1.6 * DAY);
    await monitor.tick();
    expect(told(/less than a day/)).toBe(1);
    h.advance(1 * DAY);
    await monitor.tick();
    expect((await findUser(h.db, USER.id))?.status).toBe('expired');
    expect(h.wg.peers.size).toBe(0);
    expect(told(/has expired/)).toBe(1);

    await h.press(ADMIN_A, `xpd:${USER.id}:30`);
    expect((await findUser(h.db, USER.id))?.status).toBe('active');
    expect(h.wg.peers.has(key)).toBe(true);
    expect((await findUser(h.db, USER.id))!.expires_at).toBe(h.deps.now() + 30 * DAY);
  });

  it('admin buttons: unlimited quota or reset usage lift a quota limit at once; non-admins are refused', async () => {
    await setLimits(h.db, USER.id, { quota_bytes: 100 });
    h.wg.traffic(key, 100, 100, 1);
    await monitor.tick();
    expect((await findUser(h.db, USER.id))?.status).toBe('limited');
    await h.press(USER, `qrs:${USER.id}`);
    expect((await findUser(h.db, USER.id))?.status).toBe('limited');
    await h.press(ADMIN_A, `qrs:${USER.id}`);
    expect((await findUser(h.db, USER.id))).toMatchObject({ status: 'active', usage_bytes: 0 });
    h.wg.traffic(key, 500, 0, 2);
    await monitor.tick();
    expect((await findUser(h.db, USER.id))?.status).toBe('limited');
    await h.press(ADMIN_A, `qta:${USER.id}:0`);
    expect((await findUser(h.db, USER.id))).toMatchObject({ status: 'active', quota_bytes: null });
    expect(h.wg.peers.has(key)).toBe(true);
  });

  it('new users get DEFAULT_QUOTA_GB and DEFAULT_DAYS on approval; periods start on the reset day', async () => {
    const access = new AccessService(h.db, h.fleet, h.deps.log, h.deps.now, { quotaBytes: 5 * 1024 ** 3, days: 30 });
    const other: From = { id: 3132, first_name: 'New', language_code: 'en' };
    await h.send(other, '/start');
    await access.approve(other.id, { id: ADMIN_A.id, name: 'Alice' });
    expect(await findUser(h.db, other.id)).toMatchObject({ quota_bytes: 5 * 1024 ** 3, expires_at: h.deps.now() + 30 * DAY });
    expect(quotaPeriod(Date.UTC(2026, 10, 14), 15)).toBe('2026-10-15');
    expect(quotaPeriod(Date.UTC(2026, 10, 15), 15)).toBe('2026-11-15');
    expect(quotaPeriod(Date.UTC(2026, 0, 3), 5)).toBe('2025-12-05');
  });
});

describe('per-user device limit', () => {
  it('an admin sets it on the card (0 = back to the default); non-admins cannot', async () => {
    const h = await createHarness({ captcha: false });
    try {
      const u: From = { id: 3200, first_name: 'Dev', language_code: 'en' };
      await h.send(u, '/start');
      await h.press(ADMIN_A, `apr:${u.id}`);
      await h.press(u, `mxd:${u.id}:10`);
      expect((await findUser(h.db, u.id))?.max_devices).toBeNull();
      await h.press(ADMIN_A, `mxd:${u.id}:5`);
      expect((await findUser(h.db, u.id))?.max_devices).toBe(5);
      expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text ?? '').toContain('up to 5');
      await h.press(ADMIN_A, `mxd:${u.id}:0`);
      expect((await findUser(h.db, u.id))?.max_devices).toBeNull();
    } finally {
      await h.close();
    }
  });
});
