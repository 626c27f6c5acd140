import { describe, expect, it } from 'vitest';
import { deliveryCounts, findBroadcast } from '../../src/db/broadcasts.js';
import { ADMIN_A, createHarness } from '../support/harness.js';
import type { Call } from '../support/recorder.js';
import { addUsers, afterDelivery, attachBroadcaster, copiesPerChat, draft } from './support.js';

const N = 20;

function copiesAcross(recordings: Call[][], users: number[]): Map<number, number> {
  const total = new Map(users.map((u) => [u, 0]));
  for (const calls of recordings) {
    for (const [u, n] of copiesPerChat(calls, users)) total.set(u, total.get(u)! + n);
  }
  return total;
}

describe('broadcast: restarts', () => {
  it('killed midway (right after a message went out, before it was recorded): the restart sends the rest, nobody gets it twice', async () => {
    const first = await createHarness({ captcha: false });
    const { broadcaster } = attachBroadcaster(first);
    const users = await addUsers(first, N, 'active', 10_000);
    const { id, confirm } = await draft(first, ADMIN_A, { text: 'survives restarts' });
    // The 6th delivery reached Telegram, then the process dies before writing 'sent'.
    afterDelivery(first, 6, () => first.crash());
    await first.press(ADMIN_A, `bcs:${id}`, confirm);
    await broadcaster.idle();
    expect(first.logs.some((l) => l.msg?.includes('broadcast halted'))).toBe(true);

    const h = await createHarness({ captcha: false, restartOf: { dir: first.dir, wg: first.wg, telegram: first.rec.state } });
    try {
      const { broadcaster: again } = attachBroadcaster(h);
      expect(await again.resume()).toBe(1);
      await again.idle();

      // The 6th user's delivery was ambiguous: it is 'unknown', not retried, and they have exactly one copy anyway.
      const copies = copiesAcross([first.rec.calls, h.rec.calls], users);
      for (const [u, n] of copies) expect(n, `user ${u}`).toBe(1);
      expect(h.rec.find('sendMessage', users[5]!)).toHaveLength(0);
      expect(await deliveryCounts(h.db, id)).toMatchObject({ total: N, sent: N - 1, unknown: 1, queued: 0, sending: 0 });
      expect((await findBroadcast(h.db, id))?.status).toBe('done');

      // The same progress message is continued, and the report names the ambiguous one.
      expect(h.rec.find('editMessageText', ADMIN_A.id).every((c) => c.payload.message_id === confirm.result.message_id)).toBe(true);
      const report = h.rec.last('sendMessage', ADMIN_A.id)!.payload.text as string;
      expect(report).toContain(`Delivered: ${N - 1} of ${N}`);
      expect(report).toContain('Unknown, not retried: 1');

      // A second start finds nothing left to do.
      const calls = h.rec.calls.length;
      const { broadcaster: third } = attachBroadcaster(h);
      expect(await third.resume()).toBe(0);
      expect(h.rec.calls.length).toBe(calls);
    } finally {
      await h.close();
    }
  });

  it('stopped gracefully midway (app.stop()): the message in flight is recorded, the rest is sent after the restart', async () => {
    const first = await createHarness({ captcha: false });
    const { broadcaster } = attachBroadcaster(first);
    const users = await addUsers(first, N, 'active', 10_000);
    const { id, confirm } = await draft(first, ADMIN_A, { text: 'stop and go' });
    let stopped: Promise<void> | undefined;
    afterDelivery(first, 8, () => {
      stopped = broadcaster.stop(); // not awaited here: stop() waits for this very delivery to be recorded
    });
    await first.press(ADMIN_A, `bcs:${id}`, confirm);
    await broadcaster.idle();
    await stopped;
    expect(await deliveryCounts(first.db, id)).toMatchObject({ sent: 8, queued: N - 8, sending: 0 });
    expect((await findBroadcast(first.db, id))?.status).toBe('sending');
    await first.crash();

    const h = await createHarness({ captcha: false, restartOf: { dir: first.dir, wg: first.wg, telegram: first.rec.state } });
    try {
      const { broadcaster: again } = attachBroadcaster(h);
      await again.resume();
      await again.idle();
      for (const [u, n] of copiesAcross([first.rec.calls, h.rec.calls], users)) expect(n, `user ${u}`).toBe(1);
      expect(await deliveryCounts(h.db, id)).toMatchObject({ sent: N, unknown: 0 });
      expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).not.toContain('Unknown');
    } finally {
      await h.close();
    }
  });

  it('stopped while Telegram does not answer: after the grace period the request is aborted and that delivery is "unknown", not resent', async () => {
    const first = await createHarness({ captcha: false });
    const { broadcaster } = attachBroadcaster(first, { stopGraceMs: 50 });
    const users = await addUsers(first, 6, 'active', 10_000);
    const { id, confirm } = await draft(first, ADMIN_A, { text: 'hanging' });
    let n = 0;
    let stopped: Promise<void> | undefined;
    first.bot.api.config.use(async (prev, method, payload, signal) => {
      const chatId = (payload as { chat_id?: number }).chat_id;
      if (method === 'sendMessage' && chatId !== ADMIN_A.id && ++n === 3) {
        stopped = broadcaster.stop();
        // Never answers; only the abort ends it.
        return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));
      }
      return prev(method, payload, signal);
    });
    await first.press(ADMIN_A, `bcs:${id}`, confirm);
    await broadcaster.idle();
    await stopped;
    expect(await deliveryCounts(first.db, id)).toMatchObject({ sent: 2, sending: 1, queued: 3 });
    await first.crash();

    const h = await createHarness({ captcha: false, restartOf: { dir: first.dir, wg: first.wg, telegram: first.rec.state } });
    try {
      const { broadcaster: again } = attachBroadcaster(h);
      await again.resume();
      await again.idle();
      const copies = copiesAcross([first.rec.calls, h.rec.calls], users);
      expect(users.map((u) => copies.get(u))).toEqual([1, 1, 0, 1, 1, 1]);
      expect(await deliveryCounts(h.db, id)).toMatchObject({ sent: 5, unknown: 1 });
    } finally {
      await h.close();
    }
  });
});
