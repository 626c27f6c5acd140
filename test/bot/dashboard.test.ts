import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { peersOfUser } from '../../src/db/peers.js';
import { findUser } from '../../src/db/users.js';
import { startMonitor } from '../../src/monitor/index.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import { buttons, type Call, type From } from '../support/recorder.js';

const users: From[] = [
  { id: 9001, first_name: 'Anna', last_name: 'Light', username: 'anna_l', language_code: 'en' },
  { id: 9002, first_name: 'Boris', last_name: 'Heavy', username: 'boris_h', language_code: 'en' },
  { id: 9003, first_name: 'Vera', username: 'vera', language_code: 'ru' },
];

describe('admin dashboard', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
    for (const u of users) {
      await h.send(u, '/start');
      await h.press(ADMIN_A, `apr:${u.id}`);
    }
    // Anna uses a little, Boris a lot; Vera never connects.
    const monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: 3_600_000, now: h.deps.now });
    const [anna] = await peersOfUser(h.db, 9001);
    const [boris] = await peersOfUser(h.db, 9002);
    h.wg.traffic(anna!.public_key, 1000, 2000, Math.floor(h.deps.now() / 1000) - 30);
    h.wg.traffic(boris!.public_key, 5 * 1024 ** 2, 50 * 1024 ** 2, Math.floor(h.deps.now() / 1000) - 3600);
    await monitor.tick();
    await monitor.stop();
  });
  afterEach(() => h.close());

  const lastEditOrSend = (): Call => h.rec.calls.filter((c) => c.payload.chat_id === ADMIN_A.id && /^(sendMessage|editMessageText)$/.test(c.method)).at(-1)!;

  it('overview: users by status, online now, traffic, interface health; refresh edits in place', async () => {
    await h.send(ADMIN_A, '/admin');
    const ov = h.rec.last('sendMessage', ADMIN_A.id)!;
    const text = ov.payload.text as string;
    expect(text).toContain('✅ 3 active · ⏳ 0 pending');
    expect(text).toContain('Online now: 1'); // Anna's handshake is 30 s old, Boris's an hour
    expect(text).toMatch(/Traffic today: 55\.0 MiB · this month: 55\.0 MiB · all time: 55\.0 MiB/);
    expect(text).toContain('✅ awg0 (<code>awg0</code>): up, 3 peers, as in the database');
    h.wg.peers.delete((await peersOfUser(h.db, 9003))[0]!.public_key);
    await h.press(ADMIN_A, 'adm', ov);
    expect(lastEditOrSend().method).toBe('editMessageText');
    expect(lastEditOrSend().payload.text).toContain('2 peers on the interface but 3 in the database');
    h.wg.up_ = false;
    await h.press(ADMIN_A, 'adm', ov);
    expect(lastEditOrSend().payload.text).toContain('❌ awg0 (<code>awg0</code>): interface down');
  });

  it('users sorted by traffic and by last seen; a stale page shows the last one', async () => {
    await h.send(ADMIN_A, '/admin');
    const ov = h.rec.last('sendMessage', ADMIN_A.id)!;
    const order = async (data: string) => {
      await h.press(ADMIN_A, data, ov);
      return buttons(lastEditOrSend()).filter((b) => b.callback_data.startsWith('usr:')).map((b) => b.callback_data);
    };
    expect(await order('usl:0:1')).toEqual(['usr:9002', 'usr:9001', 'usr:9003']);
    expect(await order('usl:0:2')).toEqual(['usr:9001', 'usr:9002', 'usr:9003']);
    expect(await order('usl:0:0')).toEqual(['usr:9003', 'usr:9002', 'usr:9001']);
    expect(await order('usl:7:1')).toEqual(['usr:9002', 'usr:9001', 'usr:9003']);
    expect(lastEditOrSend().payload.text).toContain('page 1/1');
    expect(buttons(lastEditOrSend()).map((b) => b.text)).toContain('• 📊 Traffic');
  });

  it('search answers a reply to its prompt by id, @username or part of a name', async () => {
    await h.press(ADMIN_A, 'srch');
    const prompt = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(prompt.payload.reply_markup).toMatchObject({ force_reply: true });
    const reply = async (text: string, from: From = ADMIN_A) => {
      await h.replyTo(from, prompt, text);
      return h.rec.last('sendMessage', from.id)!;
    };
    expect(buttons(await reply('@BORIS_H')).map((b) => b.callback_data)).toEqual(['usr:9002', 'srch']);
    expect(buttons(await reply('9003')).map((b) => b.callback_data)).toEqual(['usr:9003', 'srch']);
    expect(buttons(await reply('light')).map((b) => b.callback_data)).toEqual(['usr:9001', 'srch']);
    expect((await reply('100%_\\')).payload.text).toContain('Nobody matches');
    expect((await reply('<b>x</b>')).payload.text).toContain('&lt;b&gt;');
    // The same reply from a non-admin is just an unknown message.
    const stranger: From = { id: 9100, first_name: 'M', language_code: 'en' };
    expect((await reply('@boris_h', stranger)).payload.text).toContain('/help');
  });

  it('top users this month, most traffic first', async () => {
    await h.press(ADMIN_A, 'top');
    const top = lastEditOrSend();
    expect(top.payload.text).toMatch(/1\. <b>Boris Heavy<\/b> @boris_h — 55\.0 MiB[\s\S]*2\. <b>Anna Light<\/b>/);
    expect(top.payload.text).not.toContain('Vera');
  });

  it('block removes the peer and stops /start asking again; unblock lets the user ask again', async () => {
    await h.press(ADMIN_A, 'ban:9001');
    expect(lastEditOrSend().payload.text).toContain('Block <b>Anna Light</b>');
    await h.press(ADMIN_A, 'bny:9001');
    expect((await findUser(h.db, 9001))?.status).toBe('banned');
    expect(await peersOfUser(h.db, 9001)).toHaveLength(0);
    expect(h.wg.peers.size).toBe(2);
    expect(h.rec.last('sendMessage', 9001)?.payload.text).toContain('blocked your access');
    await h.send(users[0]!, '/start');
    expect(h.rec.last('sendMessage', 9001)?.payload.text).toContain('blocked your access');
    expect((await findUser(h.db, 9001))?.status).toBe('banned');
    expect(buttons(lastEditOrSend()).map((b) => b.callback_data)).toContain('unb:9001');

    await h.press(ADMIN_A, 'unb:9001');
    expect(h.rec.last('sendMessage', 9001)?.payload.text).toContain('unblocked');
    await h.send(users[0]!, '/start');
    expect((await findUser(h.db, 9001))?.status).toBe('pending');
  });

  it('the traffic chart is a 1000×500 PNG of the last 30 days', async () => {
    await h.press(ADMIN_A, 'cht:9002');
    const photo = h.rec.last('sendPhoto', ADMIN_A.id)!;
    const png = photo.files.photo!.data;
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1000, 500]);
    expect(photo.payload.caption).toContain('Boris Heavy');
  });
});
