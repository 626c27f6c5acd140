import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broadcaster } from '../../src/broadcast/broadcaster.js';
import { deliveryCounts } from '../../src/db/broadcasts.js';
import { findUser } from '../../src/db/users.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import { addUsers, afterDelivery, attachBroadcaster, copiesPerChat, draft } from './support.js';

// Telegram faults during a broadcast. The harness has the production call policy beneath the
// broadcaster (auto-retry, blocked-user watcher), with the Recorder standing in for Telegram.

describe('broadcast: Telegram faults', () => {
  let h: Harness;
  let broadcaster: Broadcaster;
  let users: number[];

  beforeEach(async () => {
    h = await createHarness({ captcha: false });
    ({ broadcaster } = attachBroadcaster(h));
    users = await addUsers(h, 12, 'active', 10_000);
  });
  afterEach(() => h.close());

  async function send(text: string): Promise<number> {
    const { id, confirm } = await draft(h, ADMIN_A, { text });
    await h.press(ADMIN_A, `bcs:${id}`, confirm);
    await broadcaster.idle();
    return id;
  }

  it('429 with retry_after mid-broadcast is waited out: every user gets exactly one copy', async () => {
    afterDelivery(h, 4, () => h.rec.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } }));
    const id = await send('rate limited');
    expect(h.rec.find('sendMessage').filter((c) => c.error?.startsWith('Too Many Requests'))).toHaveLength(1);
    for (const [u, n] of copiesPerChat(h.rec.calls, users)) expect(n, `user ${u}`).toBe(1);
    expect(await deliveryCounts(h.db, id)).toMatchObject({ sent: 12, failed: 0 });
  }, 10_000);

  it('5xx is retried: every user gets exactly one copy', async () => {
    afterDelivery(h, 2, () => h.rec.failNext('sendMessage', { error_code: 502, description: 'Bad Gateway' }));
    const id = await send('server hiccup');
    expect(h.rec.find('sendMessage').filter((c) => c.error === 'Bad Gateway')).toHaveLength(1);
    for (const [u, n] of copiesPerChat(h.rec.calls, users)) expect(n, `user ${u}`).toBe(1);
    expect(await deliveryCounts(h.db, id)).toMatchObject({ sent: 12, failed: 0 });
  }, 15_000);

  it('403 marks the user as having blocked the bot, the report counts it, and the next broadcast skips them', async () => {
    let victim = 0;
    afterDelivery(h, 5, () => {
      victim = users[5]!; // deliveries go in user id order: the next one answers 403
      h.rec.failNext('sendMessage', { error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    });
    const first = await send('first');
    expect(await deliveryCounts(h.db, first)).toMatchObject({ sent: 11, blocked: 1, failed: 0 });
    expect((await findUser(h.db, victim))?.blocked_at).not.toBeNull();
    const report = h.rec.last('sendMessage', ADMIN_A.id)!.payload.text as string;
    expect(report).toContain('Delivered: 11 of 12');
    expect(report).toContain('Bot blocked by the user: 1');

    const calls = h.rec.calls.length;
    const second = await send('second');
    expect(await deliveryCounts(h.db, second)).toMatchObject({ total: 11, sent: 11 });
    expect(h.rec.calls.slice(calls).filter((c) => c.payload.chat_id === victim)).toHaveLength(0);
    for (const u of users.filter((x) => x !== victim)) expect(h.rec.find('sendMessage', u)).toHaveLength(2);
  });

  it('a refusal that retrying cannot fix counts as failed; the others still get theirs', async () => {
    afterDelivery(h, 1, () => h.rec.failNext('sendMessage', { error_code: 400, description: 'Bad Request: chat not found' }));
    const id = await send('some fail');
    expect(await deliveryCounts(h.db, id)).toMatchObject({ sent: 11, failed: 1 });
    const copies = copiesPerChat(h.rec.calls, users);
    expect([...copies.values()].filter((n) => n === 1)).toHaveLength(11);
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Failed: 1');
  });
});
