import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broadcaster } from '../../src/broadcast/broadcaster.js';
import { deliveryCounts, findBroadcast } from '../../src/db/broadcasts.js';
import { setBlocked } from '../../src/db/users.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import { buttons, type From } from '../support/recorder.js';
import {
  addUsers,
  afterDelivery,
  attachBroadcaster,
  buttonData,
  callWithButton,
  copiesPerChat,
  draft,
  FORMATTED,
  messageUpdate,
} from './support.js';

const STRANGER: From = { id: 7666, first_name: 'Mallory', language_code: 'en' };

describe('broadcast: the admin flow', () => {
  let h: Harness;
  let broadcaster: Broadcaster;
  let active: number[];
  let pending: number[];
  let others: number[];
  let blocked: number;

  beforeEach(async () => {
    h = await createHarness({ captcha: false });
    ({ broadcaster } = attachBroadcaster(h));
    active = await addUsers(h, 6, 'active', 10_000);
    pending = await addUsers(h, 2, 'pending', 20_000);
    others = [...(await addUsers(h, 1, 'rejected', 30_000)), ...(await addUsers(h, 1, 'disabled', 40_000)), ...(await addUsers(h, 1, 'revoked', 50_000))];
    // An active user who blocked the bot earlier: skipped.
    blocked = active.pop()!;
    await setBlocked(h.db, blocked, 1);
  });
  afterEach(() => h.close());

  it('/broadcast → text → preview → send: every active user gets exactly one copy, with the entities, nobody else anything', async () => {
    await h.send(ADMIN_A, '/broadcast');
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Send me the message to broadcast');
    await h.bot.handleUpdate(messageUpdate(ADMIN_A, FORMATTED));

    // The preview is the message exactly as users will get it; the confirmation names audience and count.
    const preview = h.rec.find('sendMessage', ADMIN_A.id).at(-2)!;
    expect(preview.payload).toMatchObject({ text: FORMATTED.text, entities: FORMATTED.entities });
    expect(preview.payload.parse_mode).toBeUndefined();
    const confirm = callWithButton(h, ADMIN_A.id, 'bcs:');
    expect(confirm.payload.text).toContain('active users</b>, 5 recipients');
    expect(buttons(confirm).map((b) => b.text)).toContain('📣 Send to 5');
    for (const b of buttons(confirm)) expect(Buffer.byteLength(b.callback_data)).toBeLessThanOrEqual(64);

    const id = Number(buttonData(confirm, 'bcs:').split(':')[1]);
    await h.press(ADMIN_A, `bcs:${id}`, confirm);
    await broadcaster.idle();

    const copies = copiesPerChat(h.rec.calls, [...active, ...pending, ...others, blocked]);
    for (const u of active) expect(copies.get(u), `user ${u}`).toBe(1);
    for (const u of [...pending, ...others, blocked]) expect(copies.get(u), `user ${u}`).toBe(0);
    for (const u of active) {
      const sent = h.rec.last('sendMessage', u)!.payload;
      expect(sent).toMatchObject({ text: FORMATTED.text, entities: FORMATTED.entities });
      expect(sent.parse_mode).toBeUndefined();
    }

    // The confirmation became the progress line, and ends without the Stop button; a report follows.
    const edits = h.rec.find('editMessageText', ADMIN_A.id).filter((c) => c.payload.message_id === confirm.result.message_id);
    expect(edits[0]?.payload.text).toMatch(/Broadcast #\d+: \d+\/5/);
    expect(buttons(edits[0]).map((b) => b.callback_data)).toEqual([`bcx:${id}`]);
    expect(edits.at(-1)?.payload.text).toContain('is over: delivered 5, failed 0, blocked 0');
    expect(edits.at(-1)?.payload.reply_markup).toBeUndefined();
    const report = h.rec.last('sendMessage', ADMIN_A.id)!.payload.text as string;
    expect(report).toContain('finished');
    expect(report).toContain('Delivered: 5 of 5');
    expect((await findBroadcast(h.db, id))?.status).toBe('done');

    // A second tap on Send (or another admin's) sends nothing more.
    const before = h.rec.calls.length;
    await h.press(ADMIN_B, `bcs:${id}`, confirm);
    expect(h.rec.last('answerCallbackQuery')?.payload).toMatchObject({ show_alert: true, text: expect.stringContaining('уже отправлена') }); // Boris reads Russian
    await broadcaster.idle();
    expect(h.rec.calls.slice(before).filter((c) => c.method === 'sendMessage')).toHaveLength(0);
  });

  it('the audience can be chosen: all (except rejected and blocked) or pending', async () => {
    const { id } = await draft(h, ADMIN_A, { text: 'to everyone' }, 'all');
    expect(callWithButton(h, ADMIN_A.id, 'bcs:').payload.text).toContain('all users except rejected</b>, 9 recipients');
    await h.press(ADMIN_A, `bcs:${id}`, callWithButton(h, ADMIN_A.id, 'bcs:'));
    await broadcaster.idle();
    const rejected = others[0]!;
    const copies = copiesPerChat(h.rec.calls, [...active, ...pending, ...others, blocked]);
    for (const u of [...active, ...pending, ...others.slice(1)]) expect(copies.get(u), `user ${u}`).toBe(1);
    expect(copies.get(rejected)).toBe(0);
    expect(copies.get(blocked)).toBe(0);

    const second = await draft(h, ADMIN_A, { text: 'to pending' }, 'pending');
    await h.press(ADMIN_A, `bcs:${second.id}`, second.confirm);
    await broadcaster.idle();
    for (const u of pending) expect(h.rec.last('sendMessage', u)?.payload.text).toBe('to pending');
    const copiesToUsers = h.rec.find('sendMessage').filter((c) => c.payload.text === 'to pending' && c.payload.chat_id !== ADMIN_A.id);
    expect(copiesToUsers.map((c) => c.payload.chat_id)).toEqual(pending);
  });

  it('a photo with a caption is sent with sendPhoto, the same file_id, caption and caption entities', async () => {
    const caption_entities = [{ type: 'italic', offset: 0, length: 5 }];
    const photo = [
      { file_id: 'small-id', file_unique_id: 's', width: 90, height: 90 },
      { file_id: 'large-id', file_unique_id: 'l', width: 1280, height: 1280 },
    ];
    const { id, confirm } = await draft(h, ADMIN_A, { photo, caption: 'Hello <everyone>', caption_entities });
    expect(h.rec.last('sendPhoto', ADMIN_A.id)?.payload).toMatchObject({ photo: 'large-id', caption: 'Hello <everyone>', caption_entities });
    await h.press(ADMIN_A, `bcs:${id}`, confirm);
    await broadcaster.idle();
    for (const u of active) {
      expect(h.rec.find('sendPhoto', u)).toHaveLength(1);
      expect(h.rec.last('sendPhoto', u)?.payload).toMatchObject({ photo: 'large-id', caption: 'Hello <everyone>', caption_entities });
      expect(h.rec.find('sendMessage', u)).toHaveLength(0);
    }
  });

  it('non-admins: /broadcast is refused, forged broadcast buttons are refused and logged, nothing is sent', async () => {
    await h.send(STRANGER, '/broadcast');
    expect(h.rec.last('sendMessage', STRANGER.id)?.payload.text).toContain('admins only');
    // A text from a stranger is not taken as a broadcast, even while an admin's prompt is open.
    await h.send(ADMIN_A, '/broadcast');
    await h.send(STRANGER, 'please send this to everyone');

    const { id } = await draft(h, ADMIN_A, { text: 'draft' });
    const forged = ['bcq', `bca:${id}:all:-`, `bcs:${id}`, `bcd:${id}`, `bcx:${id}`];
    for (const data of forged) {
      await h.press(STRANGER, data);
      expect(h.rec.last('answerCallbackQuery')?.payload).toMatchObject({ show_alert: true, text: expect.stringContaining('admins only') });
    }
    expect(h.logs.filter((l) => l.msg?.includes('not an admin') && l.from === STRANGER.id)).toHaveLength(forged.length);
    await broadcaster.idle();
    expect(await findBroadcast(h.db, id)).toMatchObject({ status: 'draft', audience: 'active' });
    expect(copiesPerChat(h.rec.calls, active).get(active[0]!)).toBe(0);
  });

  it('Cancel on the prompt or the preview sends nothing; an expired prompt says so', async () => {
    await h.send(ADMIN_A, '/broadcast');
    await h.press(ADMIN_A, 'bcq', h.rec.last('sendMessage', ADMIN_A.id));
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('cancelled');
    await h.send(ADMIN_A, 'just a message now');
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).not.toContain('recipients');

    const { id, confirm } = await draft(h, ADMIN_A, { text: 'never mind' });
    await h.press(ADMIN_A, 'bcq'); // the prompt's button, after the message arrived
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('no longer');
    await h.press(ADMIN_A, `bcd:${id}`, confirm);
    expect(await findBroadcast(h.db, id)).toBeUndefined();
    await h.press(ADMIN_A, `bcs:${id}`, confirm);
    expect(h.rec.last('answerCallbackQuery')?.payload.show_alert).toBe(true);

    await h.send(ADMIN_A, '/broadcast');
    await h.bot.handleUpdate(messageUpdate(ADMIN_A, { sticker: { file_id: 'st', file_unique_id: 'st', type: 'regular', width: 1, height: 1, is_animated: false, is_video: false } }));
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Only text or a photo');
    h.advance(16 * 60_000);
    await h.send(ADMIN_A, 'too late');
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('waited too long');
    await broadcaster.idle();
    expect(copiesPerChat(h.rec.calls, active).get(active[0]!)).toBe(0);
  });

  it('Stop on the progress line cancels what is not sent yet; the report says so', async () => {
    const many = await addUsers(h, 40, 'active', 60_000);
    const { id, confirm } = await draft(h, ADMIN_A, { text: 'long one' });
    afterDelivery(h, 10, () => h.press(ADMIN_A, `bcx:${id}`, confirm));
    await h.press(ADMIN_A, `bcs:${id}`, confirm);
    await broadcaster.idle();

    const all = [...active, ...many];
    const copies = copiesPerChat(h.rec.calls, all);
    expect([...copies.values()].filter((n) => n === 1)).toHaveLength(10);
    expect([...copies.values()].every((n) => n <= 1)).toBe(true);
    expect(await deliveryCounts(h.db, id)).toMatchObject({ sent: 10, cancelled: all.length - 10, queued: 0, sending: 0 });
    expect((await findBroadcast(h.db, id))?.status).toBe('cancelled');
    const report = h.rec.last('sendMessage', ADMIN_A.id)!.payload.text as string;
    expect(report).toContain('stopped');
    expect(report).toContain(`Not sent: ${all.length - 10}`);
    await h.press(ADMIN_A, `bcx:${id}`, confirm);
    expect(h.rec.last('answerCallbackQuery')?.payload).toMatchObject({ show_alert: true, text: expect.stringContaining('not being sent') });
  });

  it('the prompt survives a restart', async () => {
    await h.send(ADMIN_A, '/broadcast');
    await h.crash();
    const h2 = await createHarness({ captcha: false, restartOf: { dir: h.dir, wg: h.wg, telegram: h.rec.state } });
    try {
      const { broadcaster: b2 } = attachBroadcaster(h2);
      await h2.bot.handleUpdate(messageUpdate(ADMIN_A, { text: 'after restart' }));
      const confirm = callWithButton(h2, ADMIN_A.id, 'bcs:');
      await h2.press(ADMIN_A, buttonData(confirm, 'bcs:'), confirm);
      await b2.idle();
      for (const u of active) expect(h2.rec.last('sendMessage', u)?.payload.text).toBe('after restart');
    } finally {
      h = h2; // afterEach closes the live one (and removes the directory)
    }
  });
});
