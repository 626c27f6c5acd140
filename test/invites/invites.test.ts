import fs from 'node:fs';
import path from 'node:path';
import { DIGEST_EVERY_MS } from '../../src/outbox/render.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInvite, findInvite, hashInviteCode, inviteUses } from '../../src/db/invites.js';
import { peersOfUser } from '../../src/db/peers.js';
import { HOLD_TTL_MS } from '../../src/bot/features/invites.js';
import { findUser } from '../../src/db/users.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import { buttons, type Call, type From } from '../support/recorder.js';

const DAY = 86_400_000;
const LINK_RE = /https:\/\/t\.me\/andreyvpn_test_bot\?start=inv_([A-Za-z0-9_-]+)/;
const STRANGER: From = { id: 7666, first_name: 'Mallory', language_code: 'en' };
const newcomer = (id: number, name = `New${id}`): From => ({ id, first_name: name, language_code: 'en' });

/** The latest message to this chat carrying a button whose callback data starts with `prefix`. */
function callWithButton(h: Harness, chatId: number, prefix: string): Call {
  const c = h.rec.calls.filter(
    (x) => (x.method === 'sendMessage' || x.method === 'editMessageText') && x.payload.chat_id === chatId && buttons(x).some((b) => b.callback_data.startsWith(prefix)),
  );
  if (!c.length) throw new Error(`no message with a ${prefix} button`);
  return c.at(-1)!;
}

/** /invite through the buttons, as an admin does it; returns the link, its code and the public id. */
async function makeInvite(h: Harness, admin: From, uses: 1 | 5 | 25 | 0, days: 1 | 7 | 30 | 0, label?: string) {
  await h.send(admin, label ? `/invite ${label}` : '/invite');
  const ask = callWithButton(h, admin.id, 'ivu:');
  await h.press(admin, buttons(ask).find((b) => b.callback_data.startsWith('ivu:') && b.callback_data.endsWith(`:${uses}`))!.callback_data, ask);
  const expiry = callWithButton(h, admin.id, 'ivc:');
  await h.press(admin, buttons(expiry).find((b) => b.callback_data.startsWith('ivc:') && b.callback_data.endsWith(`:${uses}:${days}`))!.callback_data, expiry);
  const shown = h.rec.last('editMessageText', admin.id)!;
  const m = LINK_RE.exec(shown.payload.text);
  if (!m) throw new Error(`no link in: ${shown.payload.text}`);
  const id = /<code>([A-Za-z0-9_-]{8})<\/code>/.exec(shown.payload.text)![1]!;
  return { text: shown.payload.text as string, link: m[0], code: m[1]!, id, buttonData: buttons(expiry).find((b) => b.callback_data.endsWith(`:${uses}:${days}`))!.callback_data, expiry };
}

const texts = (h: Harness, chatId: number, from = 0) => h.rec.textsTo(chatId, from);
const approvalRequests = (h: Harness, adminId: number, userId: number) =>
  h.rec.find('sendMessage', adminId).filter((c) => buttons(c).some((b) => b.callback_data === `apr:${userId}`)).length;

describe('invite links', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
    await h.send(ADMIN_B, '/help'); // B's language (ru) is remembered for notices
  });
  afterEach(async () => {
    // Nothing here may end in the generic error handler.
    const failed = h.logs.filter((l) => l.msg === 'update handling failed');
    await h.close();
    expect(failed).toEqual([]);
  });

  it('an admin creates a one-time link: t.me/<bot>?start=inv_<22 chars>, 128 random bits, shown once', async () => {
    const a = await makeInvite(h, ADMIN_A, 1, 7, 'for  <Bob>\n& co');
    expect(a.link).toMatch(/^https:\/\/t\.me\/andreyvpn_test_bot\?start=inv_[A-Za-z0-9_-]{22}$/);
    expect(a.code).toHaveLength(22);
    // base64url of 16 random bytes: 128 bits, over the 96 the issue asks for.
    expect(Buffer.from(a.code, 'base64url')).toHaveLength(16);
    expect(Buffer.from(a.code, 'base64url').toString('base64url')).toBe(a.code);
    expect(`inv_${a.code}`.length).toBeLessThanOrEqual(64);
    expect(a.text).toContain('1 person (one-time)');
    expect(a.text).toContain('until 2026-11-08 12:00 UTC');
    expect(a.text).toContain('🏷 for &lt;Bob&gt; &amp; co'); // the label, whitespace folded and escaped
    expect(a.text).toContain('shown only once');
    const b = await makeInvite(h, ADMIN_A, 0, 0);
    expect(b.code).not.toBe(a.code);
    expect(b.id).not.toBe(a.id);
    expect(b.text).toContain('unlimited');
    expect(b.text).toContain('no expiry');
    const stored = (await findInvite(h.db, a.id))!;
    expect(stored).toMatchObject({ max_uses: 1, uses: 0, expires_at: h.deps.now() + 7 * DAY, created_by: ADMIN_A.id, creator_name: 'Alice', note: 'for <Bob> & co' });
    expect(stored.code_hash).toBe(hashInviteCode(a.code));
    // Every button within Telegram's 64 bytes.
    for (const c of h.rec.calls) for (const btn of buttons(c)) expect(Buffer.byteLength(btn.callback_data)).toBeLessThanOrEqual(64);
  });

  it('the database (file and WAL), backups and logs never hold a code, only its hash', async () => {
    const { code, link } = await makeInvite(h, ADMIN_A, 5, 30);
    const rows = await h.db.selectFrom('invites').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(code);
    await h.send(newcomer(6001), `/start inv_${code}`);
    const backup = await h.deps.backup();
    // PostgreSQL (TEST_DATABASE=postgres): no file and no bot-made backup; the rows are checked above.
    for (const f of backup === null ? [] : ['bot.db', 'bot.db-wal', path.relative(h.dir, backup.file)]) {
      const file = path.join(h.dir, f);
      if (!fs.existsSync(file)) continue;
      const bytes = fs.readFileSync(file);
      expect(bytes.includes(code), f).toBe(false);
      expect(bytes.includes(Buffer.from(code, 'utf16le')), f).toBe(false);
    }
    expect(JSON.stringify(h.logs)).not.toContain(code);
    expect(JSON.stringify(h.logs)).not.toContain(link);
  });

  it('a newcomer with the link passes the CAPTCHA and is in: active, peer, config; the admins are told; no request', async () => {
    const { code, id } = await makeInvite(h, ADMIN_A, 1, 7);
    const user = { id: 6001, first_name: 'Ivan', last_name: '<Petrov>', username: 'ivan_p', language_code: 'ru' };
    await h.send(user, `/start inv_${code}`);
    expect(texts(h, user.id).join('\n')).toContain('Приглашение принято');
    expect(await findUser(h.db, user.id)).toBeUndefined(); // not before the CAPTCHA
    await h.solveCaptcha(user);

    const stored = (await findUser(h.db, user.id))!;
    expect(stored.status).toBe('active');
    expect(stored.decided_by).toBe(ADMIN_A.id); // approved on behalf of the invite's creator
    const peers = await peersOfUser(h.db, user.id);
    expect(peers).toHaveLength(1);
    expect(h.wg.peers.has(peers[0]!.public_key)).toBe(true);
    expect(texts(h, user.id).join('\n')).toContain('Вы вошли по приглашению');
    expect(h.rec.find('sendDocument', user.id)).toHaveLength(1);
    expect(h.rec.find('sendPhoto', user.id)).toHaveLength(1);
    expect(peers[0]!.delivered_at).not.toBeNull();

    expect(texts(h, ADMIN_A.id).at(-1)).toContain(`Ivan &lt;Petrov&gt; @ivan_p (<code>${user.id}</code>) joined through invite <code>${id}</code> (created by Alice)`);
    expect(texts(h, ADMIN_B.id).at(-1)).toContain(`вошёл(ла) по приглашению <code>${id}</code> (создал(а) Alice)`);
    expect(approvalRequests(h, ADMIN_A.id, user.id)).toBe(0);
    expect(await inviteUses(h.db, id)).toEqual([expect.objectContaining({ user_id: user.id })]);
    expect((await findInvite(h.db, id))!.uses).toBe(1);
  });

  it('a used-up one-time link is refused clearly; the newcomer goes the normal way (CAPTCHA → pending → admins asked)', async () => {
    const { code } = await makeInvite(h, ADMIN_A, 1, 0);
    const first = newcomer(6001);
    await h.send(first, `/start inv_${code}`);
    await h.solveCaptcha(first);
    expect((await findUser(h.db, first.id))?.status).toBe('active');

    const second = newcomer(6002);
    await h.send(second, `/start inv_${code}`);
    expect(texts(h, second.id)[0]).toContain('This invite link is no longer valid');
    await h.solveCaptcha(second);
    expect((await findUser(h.db, second.id))?.status).toBe('pending');
    expect(texts(h, second.id).at(-1)).toContain('Your request has been sent');
    expect(approvalRequests(h, ADMIN_A.id, second.id)).toBe(1);
    expect(approvalRequests(h, ADMIN_B.id, second.id)).toBe(1);
    expect(await peersOfUser(h.db, second.id)).toHaveLength(0);
  });

  it('N uses, N+3 newcomers at once: exactly N get in, the rest are told and wait for approval', async () => {
    const N = 5;
    const { code, id } = await makeInvite(h, ADMIN_A, N as 5, 7);
    const users = Array.from({ length: N + 3 }, (_, i) => newcomer(6100 + i));
    // All open the link while it still has uses left, then all answer at the same moment.
    for (const u of users) await h.send(u, `/start inv_${code}`);
    await Promise.all(users.map((u) => h.solveCaptcha(u)));

    const statuses = await Promise.all(users.map(async (u) => (await findUser(h.db, u.id))?.status));
    expect(statuses.filter((s) => s === 'active')).toHaveLength(N);
    expect(statuses.filter((s) => s === 'pending')).toHaveLength(3);
    expect((await findInvite(h.db, id))!.uses).toBe(N);
    expect(await inviteUses(h.db, id)).toHaveLength(N);
    for (const [i, u] of users.entries()) {
      const all = texts(h, u.id).join('\n');
      if (statuses[i] === 'active') {
        expect(await peersOfUser(h.db, u.id)).toHaveLength(1);
        expect(approvalRequests(h, ADMIN_A.id, u.id)).toBe(0);
      } else {
        expect(all).toContain('no longer valid');
        expect(all).toContain('Your request has been sent');
        expect(await peersOfUser(h.db, u.id)).toHaveLength(0);
      }
    }
    // The requests came at once: each admin has them in the digest (or one by one), not lost.
    h.advance(DIGEST_EVERY_MS);
    await h.drain();
    for (const admin of [ADMIN_A, ADMIN_B]) {
      const digest = texts(h, admin.id).filter((t) => /pending requests|Заявок ждут решения/.test(t)).at(-1) ?? '';
      for (const [i, u] of users.entries()) {
        if (statuses[i] === 'pending') expect(approvalRequests(h, admin.id, u.id) === 1 || digest.includes(u.first_name), `${admin.first_name} knows of ${u.first_name}`).toBe(true);
      }
    }
    expect(texts(h, ADMIN_A.id).filter((t) => t.includes(`joined through invite <code>${id}</code>`))).toHaveLength(N);
    expect(h.wg.peers.size).toBe(N);
  });

  it('an expired link is refused', async () => {
    const { code } = await makeInvite(h, ADMIN_A, 5, 1);
    h.advance(DAY + 1);
    const late = newcomer(6002);
    await h.send(late, `/start inv_${code}`);
    expect(texts(h, late.id)[0]).toContain('no longer valid');
    await h.solveCaptcha(late);
    expect((await findUser(h.db, late.id))?.status).toBe('pending');
    expect(approvalRequests(h, ADMIN_A.id, late.id)).toBe(1);
  });

  it('/invites lists active links with their uses, expiry and creator; Revoke works and a revoked link is refused', async () => {
    const one = await makeInvite(h, ADMIN_A, 25, 30, 'team');
    const two = await makeInvite(h, ADMIN_B, 0, 0);
    const used = await makeInvite(h, ADMIN_A, 1, 0);
    await h.send(newcomer(6001), `/start inv_${used.code}`);
    await h.solveCaptcha(newcomer(6001));

    await h.send(ADMIN_A, '/invites');
    const list = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(list.payload.text).toContain('Active invite links</b> — page 1/1, 2 in all');
    expect(list.payload.text).toContain(`<code>${one.id}</code> — used 0/25 · until 2026-12-01 12:00 UTC · by Alice`);
    expect(list.payload.text).toContain('🏷 team');
    expect(list.payload.text).toContain(`<code>${two.id}</code> — used 0/∞ · no expiry · by Boris`);
    expect(list.payload.text).not.toContain(used.id); // used up
    expect(buttons(list).map((b) => b.callback_data).sort()).toEqual([`ivr:${one.id}:0`, `ivr:${two.id}:0`].sort());

    await h.press(ADMIN_A, `ivr:${one.id}:0`, list);
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toBe('Invite revoked');
    const after = h.rec.last('editMessageText', ADMIN_A.id)!;
    expect(after.payload.text).toContain('1 in all');
    expect(after.payload.text).not.toContain(one.id);
    expect((await findInvite(h.db, one.id))!.revoked_at).toBe(h.deps.now());
    // A second tap (or another admin's) changes nothing and says so.
    await h.press(ADMIN_B, `ivr:${one.id}:0`, list);
    expect(h.rec.last('answerCallbackQuery')?.payload).toMatchObject({ show_alert: true });

    const late = newcomer(6002);
    await h.send(late, `/start inv_${one.code}`);
    expect(texts(h, late.id)[0]).toContain('no longer valid');
    await h.solveCaptcha(late);
    expect((await findUser(h.db, late.id))?.status).toBe('pending');
  });

  it('a link that expires between /start and the CAPTCHA is refused then', async () => {
    const { code } = await createInvite(h.db, { createdBy: ADMIN_A.id, creatorName: 'Alice', maxUses: 5, expiresAt: h.deps.now() + 2 * 60_000, note: null }, h.deps.now());
    const u = newcomer(6001);
    await h.send(u, `/start inv_${code}`);
    expect(texts(h, u.id).join('\n')).toContain('Invite link accepted');
    h.advance(3 * 60_000); // the question (5 min) is still open
    await h.solveCaptcha(u);
    expect(texts(h, u.id).join('\n')).toContain('no longer valid');
    expect((await findUser(h.db, u.id))?.status).toBe('pending');
    expect(approvalRequests(h, ADMIN_A.id, u.id)).toBe(1);
  });

  it('a hold older than a day (an abandoned CAPTCHA) is not honoured later', async () => {
    const { code } = await makeInvite(h, ADMIN_A, 5, 30);
    const u = newcomer(6001);
    await h.send(u, `/start inv_${code}`);
    h.advance(HOLD_TTL_MS + 1);
    await h.send(u, '/start');
    await h.solveCaptcha(u);
    expect(texts(h, u.id).join('\n')).toContain('no longer valid');
    expect((await findUser(h.db, u.id))?.status).toBe('pending');
  });

  it('a link revoked between /start and the CAPTCHA is refused then', async () => {
    const { code, id } = await makeInvite(h, ADMIN_A, 5, 7);
    const u = newcomer(6001);
    await h.send(u, `/start inv_${code}`);
    await h.send(ADMIN_A, '/invites');
    await h.press(ADMIN_A, `ivr:${id}:0`, h.rec.last('sendMessage', ADMIN_A.id)!);
    await h.solveCaptcha(u);
    expect(texts(h, u.id).join('\n')).toContain('no longer valid');
    expect((await findUser(h.db, u.id))?.status).toBe('pending');
    expect((await findInvite(h.db, id))!.uses).toBe(0);
  });

  it('/invites pages by 10', async () => {
    for (let i = 0; i < 12; i++) {
      await createInvite(h.db, { createdBy: ADMIN_A.id, creatorName: 'Alice', maxUses: null, expiresAt: null, note: null }, h.deps.now() + i);
    }
    await h.send(ADMIN_A, '/invites');
    const first = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(first.payload.text).toContain('page 1/2, 12 in all');
    expect(buttons(first).filter((b) => b.callback_data.startsWith('ivr:'))).toHaveLength(10);
    await h.press(ADMIN_A, buttons(first).find((b) => b.text === '›')!.callback_data, first);
    const second = h.rec.last('editMessageText', ADMIN_A.id)!;
    expect(second.payload.text).toContain('page 2/2, 12 in all');
    expect(buttons(second).filter((b) => b.callback_data.startsWith('ivr:'))).toHaveLength(2);
    // Revoking on the last page until it empties shows the page before.
    for (const b of buttons(second).filter((x) => x.callback_data.startsWith('ivr:'))) await h.press(ADMIN_A, b.callback_data, second);
    expect(h.rec.last('editMessageText', ADMIN_A.id)!.payload.text).toContain('page 1/1, 10 in all');
  });

  it('non-admins: /invite and /invites are refused, and so are forged invite buttons', async () => {
    const { id, buttonData } = await makeInvite(h, ADMIN_A, 1, 7);
    await h.send(ADMIN_A, '/invite'); // an open draft a forger might aim at
    const nonce = callWithButton(h, ADMIN_A.id, 'ivu:').payload.reply_markup.inline_keyboard[0][0].callback_data.split(':')[1];
    for (const cmd of ['/invite', '/invites', '/invite hello']) {
      await h.send(STRANGER, cmd);
      expect(h.rec.last('sendMessage', STRANGER.id)?.payload.text).toContain('for admins only');
    }
    const before = await h.db.selectFrom('invites').selectAll().execute();
    for (const data of [`ivu:${nonce}:1`, `ivc:${nonce}:1:0`, buttonData, `ivq:${nonce}`, 'ivl:0', `ivr:${id}:0`]) {
      await h.press(STRANGER, data);
      expect(h.rec.last('answerCallbackQuery')?.payload, data).toMatchObject({ text: expect.stringContaining('for admins only'), show_alert: true });
    }
    expect(await h.db.selectFrom('invites').selectAll().execute()).toEqual(before);
    expect(h.logs.filter((l) => l.msg === 'admin action refused: not an admin')).toHaveLength(6);
    // The admin's own draft still works.
    const ask = callWithButton(h, ADMIN_A.id, 'ivu:');
    await h.press(ADMIN_A, `ivu:${nonce}:5`, ask);
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('for 5 people');
  });

  it('create is single-use: a double tap makes one invite; Cancel makes none; junk data changes nothing', async () => {
    const { buttonData, expiry } = await makeInvite(h, ADMIN_A, 1, 7);
    await h.press(ADMIN_A, buttonData, expiry);
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('no longer active');
    expect(await h.db.selectFrom('invites').selectAll().execute()).toHaveLength(1);

    await h.send(ADMIN_A, '/invite');
    const ask = callWithButton(h, ADMIN_A.id, 'ivu:');
    const nonce = buttons(ask)[0]!.callback_data.split(':')[1];
    for (const junk of [`ivu:${nonce}:3`, `ivc:${nonce}:1:2`, `ivc:${nonce}:-1:0`, 'ivc:x', `ivu:${nonce}:1:1`, 'ivr:<b>:0', 'ivl:99999999999999999999', 'ivr:nope:-5']) await h.press(ADMIN_A, junk, ask);
    expect(await h.db.selectFrom('invites').selectAll().execute()).toHaveLength(1);
    await h.press(ADMIN_A, buttons(ask).find((b) => b.callback_data.startsWith('ivq:'))!.callback_data, ask);
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('No invite link was created');
    await h.press(ADMIN_A, `ivc:${nonce}:1:7`, ask);
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('no longer active');
    expect(await h.db.selectFrom('invites').selectAll().execute()).toHaveLength(1);
  });

  it('a known user with a link just gets their status; junk and foreign payloads are ignored or refused', async () => {
    const { code, id } = await makeInvite(h, ADMIN_A, 5, 7);
    const u = newcomer(6001);
    await h.send(u, '/start');
    await h.solveCaptcha(u);
    expect((await findUser(h.db, u.id))?.status).toBe('pending');
    const before = h.rec.calls.length;
    await h.send(u, `/start inv_${code}`);
    expect(texts(h, u.id, before)).toEqual([expect.stringContaining('waiting for an admin')]);
    expect((await findInvite(h.db, id))!.uses).toBe(0);

    const other = newcomer(6002);
    await h.send(other, '/start inv_short');
    expect(texts(h, other.id)[0]).toContain('no longer valid');
    await h.send(other, '/start something-else');
    expect(texts(h, other.id).at(-1)).toContain('quick check that you are a human');
    expect(texts(h, other.id).filter((t) => t.includes('no longer valid'))).toHaveLength(1);
  });

  it('a link made by someone who is no longer an admin is refused', async () => {
    const { code } = await makeInvite(h, ADMIN_B, 5, 7);
    h.deps.adminIds.splice(h.deps.adminIds.indexOf(ADMIN_B.id), 1);
    const u = newcomer(6001);
    await h.send(u, `/start inv_${code}`);
    expect(texts(h, u.id)[0]).toContain('no longer valid');
    await h.solveCaptcha(u);
    expect((await findUser(h.db, u.id))?.status).toBe('pending');
  });

  it('if the peer cannot be created, the newcomer waits as pending and the admins get the usual request', async () => {
    const { code, id } = await makeInvite(h, ADMIN_A, 1, 7);
    const u = newcomer(6001);
    await h.send(u, `/start inv_${code}`);
    h.wg.failing = 'Operation not permitted';
    await h.solveCaptcha(u);
    h.wg.failing = null;
    expect((await findUser(h.db, u.id))?.status).toBe('pending');
    expect(await peersOfUser(h.db, u.id)).toHaveLength(0);
    expect(texts(h, u.id).at(-1)).toContain('Your request has been sent');
    expect(approvalRequests(h, ADMIN_A.id, u.id)).toBe(1);
    expect(texts(h, ADMIN_A.id).some((t) => t.includes('Creating VPN peers fails'))).toBe(true);
    expect(await inviteUses(h.db, id)).toHaveLength(1); // the use is spent: an admin decides now
  });
});

describe('invite links with CAPTCHA=off', () => {
  it('the newcomer is in at once; a used-up link falls back to the request', async () => {
    const h = await createHarness({ captcha: false });
    try {
      const { code, id } = await makeInvite(h, ADMIN_A, 1, 7);
      const u = newcomer(6001);
      await h.send(u, `/start inv_${code}`);
      expect((await findUser(h.db, u.id))?.status).toBe('active');
      expect(texts(h, u.id).join('\n')).not.toContain('quick check');
      expect(texts(h, u.id)[0]).toContain('You joined through an invite link');
      expect(h.rec.find('sendDocument', u.id)).toHaveLength(1);
      expect(texts(h, ADMIN_A.id).at(-1)).toContain(`joined through invite <code>${id}</code>`);

      const v = newcomer(6002);
      await h.send(v, `/start inv_${code}`);
      expect(texts(h, v.id)[0]).toContain('no longer valid');
      expect((await findUser(h.db, v.id))?.status).toBe('pending');
      expect(approvalRequests(h, ADMIN_A.id, v.id)).toBe(1);
    } finally {
      await h.close();
    }
  });
});
