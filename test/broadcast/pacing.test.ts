import { describe, expect, it } from 'vitest';
import { MESSAGES_PER_SECOND as DEFAULT_RATE_PER_SEC } from '../../src/bot/pacer.js';
import { ADMIN_A, createHarness } from '../support/harness.js';
import { addUsers, attachBroadcaster, copiesPerChat, draft } from './support.js';

describe('broadcast: pacing', () => {
  it(`100 recipients get their copies at least 1/${DEFAULT_RATE_PER_SEC} s apart in (virtual) time, and the progress line is edited a handful of times, not per message`, async () => {
    const h = await createHarness({ captcha: false });
    try {
      const { broadcaster, clock } = attachBroadcaster(h);
      const users = await addUsers(h, 100, 'active', 10_000);
      const at: number[] = [];
      h.bot.api.config.use(async (prev, method, payload, signal) => {
        if (method === 'sendMessage' && users.includes((payload as { chat_id: number }).chat_id)) at.push(clock.now());
        return prev(method, payload, signal);
      });
      const { id, confirm } = await draft(h, ADMIN_A, { text: 'paced' });
      await h.press(ADMIN_A, `bcs:${id}`, confirm);
      await broadcaster.idle();
      // One message every 1/rate s: the 100th at least 99 intervals after the first.
      expect(at).toHaveLength(100);
      for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(1000 / DEFAULT_RATE_PER_SEC - 1e-9);
      expect(at.at(-1)! - at[0]!).toBeGreaterThanOrEqual((99 * 1000) / DEFAULT_RATE_PER_SEC - 1e-6);
      for (const [u, n] of copiesPerChat(h.rec.calls, users)) expect(n, `user ${u}`).toBe(1);
      const edits = h.rec.find('editMessageText', ADMIN_A.id).length;
      expect(edits).toBeGreaterThanOrEqual(3);
      expect(edits).toBeLessThanOrEqual(8);
    } finally {
      await h.close();
    }
  });

  it('users do not wait for the progress line: with every edit of the admin chat held up, all are delivered, then the report follows', async () => {
    const h = await createHarness({ captcha: false });
    try {
      const { broadcaster } = attachBroadcaster(h);
      const users = await addUsers(h, 40, 'active', 10_000);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      h.bot.api.config.use(async (prev, method, payload, signal) => {
        if (method === 'editMessageText') await held;
        return prev(method, payload, signal);
      });
      const { id, confirm } = await draft(h, ADMIN_A, { text: 'not held up' });
      await h.press(ADMIN_A, `bcs:${id}`, confirm);
      for (let i = 0; i < 200 && [...copiesPerChat(h.rec.calls, users).values()].some((n) => n === 0); i++) await new Promise((r) => setTimeout(r, 10));
      expect([...copiesPerChat(h.rec.calls, users).values()]).toEqual(users.map(() => 1));
      expect(h.rec.find('editMessageText', ADMIN_A.id)).toHaveLength(0);
      release();
      await broadcaster.idle();
      expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Delivered: 40 of 40');
    } finally {
      await h.close();
    }
  });
});
