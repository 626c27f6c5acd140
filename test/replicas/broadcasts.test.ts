import { describe, expect, it } from 'vitest';
import { Broadcaster } from '../../src/broadcast/broadcaster.js';
import { deliveryCounts, findBroadcast } from '../../src/db/broadcasts.js';
import { ADMIN_A, createHarness } from '../support/harness.js';
import { addUsers, afterDelivery, attachBroadcaster, copiesPerChat, draft, virtualClock } from '../broadcast/support.js';

const N = 20;

// Replicas share one database: an admin may confirm a broadcast on any of them, but only the
// leader sends, and the exactly-once rule holds when the leadership moves mid-broadcast.
describe('broadcasts with several replicas', () => {
  it('confirmed on a replica that does not lead: queued there, sent by the leader; the leader steps down midway and the next one finishes, nobody gets it twice', async () => {
    const h = await createHarness({ captcha: false });
    try {
      // This replica's broadcaster, as app.ts makes it before it leads.
      const { broadcaster: here } = attachBroadcaster(h, { standby: true });
      const users = await addUsers(h, N, 'active', 20_000);
      const { id, confirm } = await draft(h, ADMIN_A, { text: 'from any replica' });
      await h.press(ADMIN_A, `bcs:${id}`, confirm);
      await here.idle();
      expect(copiesPerChat(h.rec.calls, users).get(users[0]!)).toBe(0);
      expect(await deliveryCounts(h.db, id)).toMatchObject({ total: N, queued: N });

      // The leader (another process in production) picks it up; it loses the lead after the 6th message.
      const leader = new Broadcaster(h.bot.api, h.deps, { standby: true, clock: virtualClock(), stopGraceMs: 50 });
      let stopped: Promise<void> | undefined;
      afterDelivery(h, 6, () => {
        stopped = leader.stop();
      });
      expect(await leader.resume()).toBe(1);
      await leader.idle();
      await stopped;
      const midway = await deliveryCounts(h.db, id);
      expect(midway.sent).toBeGreaterThanOrEqual(6);
      expect(midway.queued).toBeGreaterThan(0);
      expect((await findBroadcast(h.db, id))?.status).toBe('sending');

      // The next leader continues from the database.
      const next = new Broadcaster(h.bot.api, h.deps, { standby: true, clock: virtualClock() });
      expect(await next.resume()).toBe(1);
      await next.idle();
      for (const [u, n] of copiesPerChat(h.rec.calls, users)) expect(n, `user ${u}`).toBe(1);
      expect(await deliveryCounts(h.db, id)).toMatchObject({ total: N, sent: N, queued: 0, sending: 0, unknown: 0 });
      expect((await findBroadcast(h.db, id))?.status).toBe('done');
    } finally {
      await h.close();
    }
  });
});
