import { Api } from 'grammy';
import { describe, expect, it } from 'vitest';
import { installApiTransformers } from '../../src/bot/api.js';
import { Broadcaster } from '../../src/broadcast/broadcaster.js';
import { BotApiStandIn } from '../support/bot-api.js';
import { ADMIN_A, createHarness } from '../support/harness.js';
import { addUsers } from './support.js';

// Over real HTTP against the Bot API stand-in, with long polling and the real clock: the
// production call policy (auto-retry) meets an actual 429 with retry_after mid-broadcast.

describe('broadcast over HTTP', () => {
  it('a 429 with retry_after 1 mid-broadcast is waited out and every user gets exactly one copy', async () => {
    const api = new BotApiStandIn({ token: '424242:http-test' });
    await api.listen();
    const h = await createHarness({ captcha: false, apiRoot: api.apiRoot });
    // Wired as app.ts wires it: an API of its own that does not pace (the broadcaster takes the shared pacer's slots itself).
    const broadcastApi = new Api('424242:http-test', { apiRoot: api.apiRoot });
    installApiTransformers(broadcastApi, { log: h.deps.log, retryNetworkErrors: false, retry429: false });
    const broadcaster = new Broadcaster(broadcastApi, h.deps, { pacer: h.pacer });
    h.deps.broadcasts = broadcaster;
    const polling = h.poll();
    try {
      const users = await addUsers(h, 15, 'active', 10_000);
      for (const id of users) api.knowUser({ id, first_name: `U${id}` }); // active users started the bot long ago
      api.sendText(ADMIN_A, '/broadcast');
      await api.waitForMessage(ADMIN_A.id, (m) => /Send me the message/.test(m.message.text ?? ''));
      api.sendText(ADMIN_A, 'Maintenance tonight at 23:00 <UTC> & no downtime expected');
      const confirm = await api.waitForMessage(ADMIN_A.id, (m) => /15 recipients/.test(m.message.text ?? ''));
      const since = api.mark();
      api.clickButton(ADMIN_A, confirm, /Send to 15/);

      // Mid-broadcast: after the 4th user got it, the next sendMessage answers 429.
      await api.waitFor((c) => c.method === 'sendMessage' && c.params.chat_id === users[3], 10_000, since);
      api.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });

      await api.waitForMessage(ADMIN_A.id, (m) => /finished/.test(m.message.text ?? ''), 20_000, since);
      await broadcaster.idle();
      const throttled = api.calls.slice(since).filter((c) => c.method === 'sendMessage' && c.error?.error_code === 429);
      expect(throttled.map((c) => c.params.chat_id)).toEqual([users[4]]);
      for (const u of users) {
        const got = api.messagesTo(u);
        expect(got, `user ${u}`).toHaveLength(1);
        expect(got[0]?.message.text).toBe('Maintenance tonight at 23:00 <UTC> & no downtime expected');
      }
      expect(api.lastMessageTo(ADMIN_A.id)?.message.text).toContain('Delivered: 15 of 15');
    } finally {
      await polling.stop();
      await broadcaster.stop();
      await h.close();
      await api.close();
    }
  }, 30_000);
});
