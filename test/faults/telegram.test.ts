import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { htmlToPlain, splitText } from '../../src/bot/api.js';
import { peersOfUser } from '../../src/db/peers.js';
import { findUser } from '../../src/db/users.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

const USER: From = { id: 3001, first_name: 'Lev', language_code: 'en' };

describe('Telegram faults', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
    await h.send(USER, '/start');
  });
  afterEach(() => h.close());

  it('429 is retried after retry_after, and the message arrives', async () => {
    h.rec.failNext('sendDocument', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    const started = Date.now();
    await h.press(ADMIN_A, `apr:${USER.id}`);
    const docs = h.rec.find('sendDocument', USER.id);
    expect(docs.map((d) => d.error ?? 'ok')).toEqual(['Too Many Requests: retry after 1', 'ok']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect((await peersOfUser(h.db, USER.id))[0]?.delivered_at).not.toBeNull();
  });

  it('a 5xx is retried after a pause, and what follows in that chat waits for it', async () => {
    h.rec.failNext('sendPhoto', { error_code: 502, description: 'Bad Gateway' });
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect(h.rec.find('sendPhoto', USER.id).map((d) => d.error ?? 'ok')).toEqual(['Bad Gateway']);
    const howto = () => h.rec.find('sendMessage', USER.id).filter((c) => /WireGuard|AmneziaWG/.test(c.payload.text)).length;
    expect(howto()).toBe(0);
    h.advance(1000);
    await h.drain();
    expect(h.rec.find('sendPhoto', USER.id).map((d) => d.error ?? 'ok')).toEqual(['Bad Gateway', 'ok']);
    expect(howto()).toBe(1);
  });

  it('403 marks the user as having blocked the bot, no retries; the admin card shows it; unblocking clears it', async () => {
    h.rec.failNext('sendMessage', { error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect(h.rec.find('sendMessage', USER.id).filter((c) => c.error)).toHaveLength(1);
    expect((await findUser(h.db, USER.id))?.blocked_at).not.toBeNull();
    await h.press(ADMIN_A, `usr:${USER.id}`);
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Blocked the bot');

    await h.bot.handleUpdate({
      update_id: 999_001,
      my_chat_member: {
        chat: { id: USER.id, type: 'private', first_name: 'Lev' },
        from: { id: USER.id, is_bot: false, first_name: 'Lev' },
        date: 1,
        old_chat_member: { status: 'kicked', user: { id: 1, is_bot: true, first_name: 'b' }, until_date: 0 },
        new_chat_member: { status: 'member', user: { id: 1, is_bot: true, first_name: 'b' } },
      },
    } as any);
    expect((await findUser(h.db, USER.id))?.blocked_at).toBeNull();
  });

  it('HTML that Telegram refuses is sent again as plain text, so nothing is lost', async () => {
    h.rec.failNext('sendMessage', { error_code: 400, description: "Bad Request: can't parse entities: Unsupported start tag" });
    await h.send(USER, '/help');
    const [refused, plain] = h.rec.find('sendMessage', USER.id).slice(-2);
    expect(refused?.payload.parse_mode).toBe('HTML');
    expect(plain?.payload.parse_mode).toBeUndefined();
    expect(plain?.payload.text).toContain('/config – get your configuration again');
    expect(plain?.payload.text).not.toContain('<b>');
  });

  it('a message Telegram finds too long is sent in parts, buttons on the last', async () => {
    h.rec.failNext('sendMessage', { error_code: 400, description: 'Bad Request: message is too long' });
    await h.send(ADMIN_A, '/admin');
    const last = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(last.error).toBeUndefined();
    expect(last.payload.reply_markup.inline_keyboard.length).toBeGreaterThan(0);
    expect(splitText(`${'a'.repeat(3000)}\n${'b'.repeat(3000)}`, 4096)).toEqual(['a'.repeat(3000), 'b'.repeat(3000)]);
    expect(splitText('x'.repeat(9000), 4096).map((c) => c.length)).toEqual([4096, 4096, 808]);
    expect(htmlToPlain('<b>a &lt;b&gt; &amp;amp; &#33;</b>')).toBe('a <b> &amp; !');
  });

  it('group and channel updates are ignored', async () => {
    const before = h.rec.calls.length;
    await h.bot.handleUpdate({
      update_id: 999_002,
      message: { message_id: 1, date: 1, chat: { id: -100123, type: 'supergroup', title: 'g' }, from: { id: USER.id, is_bot: false, first_name: 'Lev' }, text: '/start', entities: [{ type: 'bot_command', offset: 0, length: 6 }] },
    } as any);
    expect(h.rec.calls.length).toBe(before);
  });

  it('a flood from one user is cut off by the rate limit; other users and admins are unaffected', async () => {
    const before = h.rec.find('sendMessage', USER.id).length;
    for (let i = 0; i < 40; i++) await h.send(USER, '/help');
    // 20 updates per 10 s; the /start in beforeEach was the first.
    expect(h.rec.find('sendMessage', USER.id).length - before).toBe(19);
    expect(h.logs.filter((l) => l.msg === 'rate limit hit; dropping updates')).toHaveLength(1);
    await h.send(ADMIN_A, '/help');
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Admin commands');
    h.advance(10_001);
    await h.send(USER, '/help');
    expect(h.rec.find('sendMessage', USER.id).length - before).toBe(20);
  });

  it('an update past the rate limit is dropped before it costs the database anything', async () => {
    let queries = 0;
    const db = h.deps.db;
    h.deps.db = db.withPlugin({ transformQuery: (a) => a.node, transformResult: async (a) => (queries++, a.result) });
    try {
      for (let i = 0; i < 19; i++) await h.send(USER, '/help'); // the 20 of this window, with the /start
      queries = 0;
      for (let i = 0; i < 10; i++) await h.send(USER, '/help');
      expect(queries).toBe(0);
    } finally {
      h.deps.db = db;
    }
  });
});
