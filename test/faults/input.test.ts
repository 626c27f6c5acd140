import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_CALLBACKS } from '../../src/bot/callback-data.js';
import { peersOfUser } from '../../src/db/peers.js';
import { findUser, listUsersByStatus } from '../../src/db/users.js';
import { DIGEST_EVERY_MS } from '../../src/outbox/render.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

const NASTY_NAMES = [
  '<script>alert(1)</script>',
  'Tom & Jerry',
  'a</b><b>',
  '&amp;&lt;',
  'line1\nline2\r\nPrivateKey = stolen',
  '\u202Eevil\u202C RTL',
  '\u200F\u200E\u2066mark\u2069',
  '🧨🔥👩‍👩‍👧‍👦',
  'x'.repeat(300),
  '\u0000\u0001\u0007\u001b[31m',
  '"quotes\' and `backticks`',
  '<a href="tg://user?id=1">link</a>',
  '{ $name } { -term }',
  'Ⅻ ﷽',
  ' ',
];

describe('hostile input', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
  });
  afterEach(() => h.close()); // also fails the test if Telegram would have refused any message

  it('names with HTML, control characters, newlines, RTL marks and emoji reach admins escaped and never reach a config file', async () => {
    for (const [i, name] of NASTY_NAMES.entries()) {
      const from: From = { id: 10_000 + i, first_name: name, last_name: name, username: `u${i}`, language_code: 'en' };
      await h.send(from, '/start');
      await h.press(ADMIN_A, `apr:${from.id}`);
      expect((await findUser(h.db, from.id))?.status).toBe('active');
      const conf = h.rec.last('sendDocument', from.id)!.files.document!.data.toString();
      expect(conf).not.toContain(name.trim() || '\u0000');
      expect(conf.match(/^PrivateKey = /gm)).toHaveLength(1);
      const stored = await findUser(h.db, from.id);
      expect(stored!.first_name.length).toBeLessThanOrEqual(64);
    }
    await h.send(ADMIN_A, '/admin');
    await h.press(ADMIN_A, 'usl:0:0', h.rec.last('sendMessage', ADMIN_A.id));
    await h.press(ADMIN_A, 'usl:1:0', h.rec.last('sendMessage', ADMIN_A.id));
    for (let i = 0; i < NASTY_NAMES.length; i++) await h.press(ADMIN_A, `usr:${10_000 + i}`);
  });

  it('oversized and strange messages get the hint and change nothing', async () => {
    const from: From = { id: 20_001, first_name: 'Q', language_code: 'en' };
    const texts = ['x'.repeat(4096), '/start'.repeat(700), '<b>', '/unknown_command', '\u0000', '/config@other_bot', '🤖', '/admin approve 1'];
    for (const t of texts) {
      const before = h.rec.find('sendMessage', from.id).length;
      await h.send(from, t);
      expect(h.rec.find('sendMessage', from.id).length - before).toBe(1);
    }
    expect(await findUser(h.db, from.id)).toBeUndefined();
    expect(h.rec.find('sendMessage', ADMIN_A.id)).toHaveLength(0);
  });

  it('junk and forged callback data is answered and changes nothing', async () => {
    const victim: From = { id: 30_001, first_name: 'V', language_code: 'en' };
    await h.send(victim, '/start');
    const junk = ['', ':', 'apr', 'apr:', 'apr:-1', 'apr:99999999999999999999', 'apr:1:2', 'apr:abc', 'usl:-5', 'usr:0', 'cap::', 'cap:x:y', 'rvy:1e5', 'x'.repeat(64), 'ena:30001', 'dis:30001', '🙂', 'apr:30001\n', 'usl:99999999999999999999:0', 'usl:1:99'];
    const stranger: From = { id: 30_002, first_name: 'M', language_code: 'en' };
    for (const data of junk) {
      const before = h.rec.find('answerCallbackQuery').length;
      await h.press(stranger, data);
      await h.press(ADMIN_B, data);
      expect(h.rec.find('answerCallbackQuery').length - before).toBe(2);
    }
    expect((await findUser(h.db, victim.id))?.status).toBe('pending');
    expect(h.wg.peers.size).toBe(0);
  });

  it('forged callbacks for every admin action are refused for non-admins', async () => {
    const victim: From = { id: 40_001, first_name: 'V', language_code: 'en' };
    await h.send(victim, '/start');
    const prefixes = ADMIN_CALLBACKS.source.match(/\(([a-z|]+)\)/)![1]!.split('|');
    expect(prefixes.length).toBeGreaterThanOrEqual(10);
    const mallory: From = { id: 40_666, first_name: 'Mallory', language_code: 'en' };
    for (const p of prefixes) {
      h.advance(1000); // stay under the per-user rate limit: this is about authorization
      await h.press(mallory, `${p}:${victim.id}`);
      await h.press(mallory, p);
      expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('admins only');
    }
    expect((await findUser(h.db, victim.id))?.status).toBe('pending');
    expect(h.wg.peers.size).toBe(0);
  });

  it('stale buttons about a deleted user do not crash and say so', async () => {
    await h.press(ADMIN_A, 'apr:55555');
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('not found');
    await h.press(ADMIN_A, 'usr:55555');
    await h.press(ADMIN_A, 'rvk:55555');
    await h.press(ADMIN_A, 'dis:55555');
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('not found');
  });

  it('1,000 concurrent /start from distinct users: one pending row each, nobody lost or doubled; each admin gets a handful of messages that count them all', async () => {
    const users = Array.from({ length: 1000 }, (_, i): From => ({ id: 1_000_000 + i, first_name: `U${i}`, language_code: i % 2 ? 'ru' : 'en' }));
    h.deps.maxPending = 1000;
    await Promise.all(users.flatMap((u) => [h.send(u, '/start'), h.send(u, '/start')]));
    const pending = await listUsersByStatus(h.db, 'pending', 5000);
    expect(pending).toHaveLength(1000);
    expect(new Set(pending.map((u) => u.id)).size).toBe(1000);
    h.advance(DIGEST_EVERY_MS);
    await h.drain();
    for (const admin of [ADMIN_A, ADMIN_B]) {
      // Requests that came faster than the chat takes messages are folded into the digest, edited in place.
      const sent = h.rec.find('sendMessage', admin.id);
      expect(sent.length).toBeLessThanOrEqual(5);
      expect(h.rec.textsTo(admin.id).at(-1)).toMatch(/1000 pending requests|Заявок ждут решения: 1000/);
    }
    expect(await peersOfUser(h.db, users[0]!.id)).toHaveLength(0);
  }, 60_000);
});
