import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cb } from '../../src/bot/callback-data.js';
import { peersOfUser } from '../../src/db/peers.js';
import { setMaxDevices } from '../../src/db/users.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import { buttons, type Call, type From } from '../support/recorder.js';
import { activeUser, alerts, lastText } from './support.js';

// REQUIRE_APPROVAL_PER_DEVICE=on: a named device goes to the admins as a request.
const USER: From = { id: 8201, first_name: 'Olga <&> "O"', username: 'olga', language_code: 'en' };
const OTHER: From = { id: 8202, first_name: 'Pavel', language_code: 'ru' };




/** Taps Add, answers the prompt with `name`; returns the prompt. */
async function requestDevice(h: Harness, u: From, name: string): Promise<Call> {
  await h.press(u, cb.deviceAdd.pack({}));
  const prompt = h.rec.last('sendMessage', u.id)!;
  expect(prompt.payload.reply_markup).toMatchObject({ force_reply: true });
  await h.replyTo(u, prompt, name);
  return prompt;
}

/** Each admin's copy of the newest device request. */
function requestMessages(h: Harness, mark: number) {
  const of = (a: From) => h.rec.find('sendMessage', a.id, mark).filter((c) => buttons(c).some((b) => b.callback_data.startsWith('dra:'))).at(-1)!;
  return { a: of(ADMIN_A), b: of(ADMIN_B) };
}

const requests = (h: Harness) => h.db.selectFrom('device_requests').selectAll().orderBy('id').execute();

describe('device requests (REQUIRE_APPROVAL_PER_DEVICE=on)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: true });
    h.deps.requireApprovalPerDevice = true;
    // Boris speaks Russian: remembered for messages sent to him outside his own updates.
    await h.send(ADMIN_B, '/admin');
    await activeUser(h, USER);
  });
  afterEach(() => h.close());

  it('request → every admin gets it in their language with buttons → approve → device on the interface, config delivered', async () => {
    const mark = h.rec.calls.length;
    await requestDevice(h, USER, 'Ноутбук 2');
    expect(lastText(h, USER.id)).toMatch(/request for <b>Ноутбук 2<\/b> was sent/);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    const [req] = await requests(h);
    expect(req).toMatchObject({ user_id: USER.id, name: 'Ноутбук 2', status: 'pending', decided_by: null });

    const { a, b } = requestMessages(h, mark);
    // HTML-escaped user name (the recorder refuses bad HTML), each admin in their language.
    expect(a.payload.text).toContain('Olga &lt;&amp;&gt; &quot;O&quot; (@olga, id <code>8201</code>)');
    expect(a.payload.text).toContain('New device request');
    expect(a.payload.text).toContain('<b>Ноутбук 2</b>');
    expect(b.payload.text).toContain('Запрос нового устройства');
    expect(buttons(a).map((x) => x.callback_data)).toEqual([`dra:${req!.id}`, `drr:${req!.id}`]);
    const tr = h.deps.translator;
    expect(buttons(b).map((x) => x.text)).toEqual([tr.t('ru', 'btn-approve'), tr.t('ru', 'btn-reject')]);
    expect(buttons(b).map((x) => x.text)).not.toEqual(buttons(a).map((x) => x.text));

    const before = h.rec.calls.length;
    await h.press(ADMIN_A, cb.deviceRequestApprove.pack({ id: req!.id }), a);
    const peers = await peersOfUser(h.db, USER.id);
    expect(peers).toHaveLength(2);
    expect(peers[1]).toMatchObject({ name: 'Ноутбук 2', ip: '10.8.0.3' });
    expect(h.wg.peers.get(peers[1]!.public_key)).toMatchObject({ ip: '10.8.0.3' });
    const docs = h.rec.find('sendDocument', USER.id, before);
    expect(docs).toHaveLength(1);
    expect(docs[0]!.files.document!.data.toString()).toContain('Address = 10.8.0.3/32');
    expect(docs[0]!.payload.caption).toContain('Device: <b>Ноутбук 2</b>');
    expect(h.rec.find('sendMessage', USER.id, before).some((c) => /device <b>Ноутбук 2<\/b> was approved \(10\.8\.0\.3\)/.test(c.payload.text))).toBe(true);
    expect((await requests(h))[0]).toMatchObject({ status: 'approved', decided_by: ADMIN_A.id });

    // Both admins' copies now say who decided, in their language, without buttons.
    const edits = h.rec.find('editMessageText', undefined, before);
    const editA = edits.find((c) => c.payload.chat_id === ADMIN_A.id)!;
    const editB = edits.find((c) => c.payload.chat_id === ADMIN_B.id)!;
    expect(editA.payload.text).toContain('Approved by Alice');
    expect(editB.payload.text).toContain('Одобрил(а) Alice');
    expect(editB.payload.message_id).toBe(b.result.message_id);
    expect(buttons(editA)).toEqual([]);
    expect(await h.db.selectFrom('device_request_messages').selectAll().execute()).toEqual([]);
  });

  it('reject → the user is told, nothing is created', async () => {
    const mark = h.rec.calls.length;
    await requestDevice(h, USER, 'Tablet');
    const { b } = requestMessages(h, mark);
    const [req] = await requests(h);
    const before = h.rec.calls.length;
    await h.press(ADMIN_B, cb.deviceRequestReject.pack({ id: req!.id }), b);
    expect(lastText(h, USER.id)).toMatch(/request for the device <b>Tablet<\/b> was rejected/);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    expect(h.wg.peers.size).toBe(1);
    expect(h.rec.find('sendDocument', USER.id, before)).toHaveLength(0);
    expect((await requests(h))[0]).toMatchObject({ status: 'rejected', decided_by: ADMIN_B.id });
    expect(h.rec.find('editMessageText', ADMIN_A.id, before).at(-1)!.payload.text).toContain('Rejected by Boris');
    // A late Approve on the rejected request changes nothing.
    await h.press(ADMIN_A, cb.deviceRequestApprove.pack({ id: req!.id }));
    expect(alerts(h).at(-1)).toMatch(/Already handled: the request is rejected/);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    // The user may ask again once the request is decided.
    await requestDevice(h, USER, 'Tablet');
    expect((await requests(h)).map((r) => r.status)).toEqual(['rejected', 'pending']);
  });

  it('two admins approving at once plus a double tap → exactly one device and one config', async () => {
    const mark = h.rec.calls.length;
    await requestDevice(h, USER, 'Phone');
    const { a, b } = requestMessages(h, mark);
    const [req] = await requests(h);
    const before = h.rec.calls.length;
    const approve = cb.deviceRequestApprove.pack({ id: req!.id });
    await Promise.all([h.press(ADMIN_A, approve, a), h.press(ADMIN_B, approve, b), h.press(ADMIN_A, approve, a), h.press(ADMIN_B, cb.deviceRequestReject.pack({ id: req!.id }), b)]);
    const peers = await peersOfUser(h.db, USER.id);
    expect(peers.filter((p) => p.name === 'Phone').length + (await requests(h)).filter((r) => r.status === 'rejected').length).toBe(1);
    expect(peers.length).toBeLessThanOrEqual(2);
    expect((await requests(h)).map((r) => r.status)).not.toContain('pending');
    expect(h.wg.peers.size).toBe(peers.length);
    expect(h.rec.find('sendDocument', USER.id, before)).toHaveLength(peers.length - 1);
    expect(h.rec.find('answerCallbackQuery', undefined, before).filter((c) => /Already handled|Уже решено/.test(c.payload.text ?? ''))).toHaveLength(3);
  });

  it('two approvals at once (no reject) → exactly one device', async () => {
    await requestDevice(h, USER, 'Phone');
    const [req] = await requests(h);
    const approve = cb.deviceRequestApprove.pack({ id: req!.id });
    await Promise.all([h.press(ADMIN_A, approve), h.press(ADMIN_B, approve), h.press(ADMIN_A, approve), h.press(ADMIN_B, approve)]);
    expect((await peersOfUser(h.db, USER.id)).filter((p) => p.name === 'Phone')).toHaveLength(1);
    expect(h.wg.peers.size).toBe(2);
  });

  it('a forged approve or reject from a non-admin is refused and changes nothing', async () => {
    await activeUser(h, OTHER);
    await requestDevice(h, USER, 'Phone');
    const [req] = await requests(h);
    for (const who of [USER, OTHER]) {
      for (const data of [cb.deviceRequestApprove.pack({ id: req!.id }), cb.deviceRequestReject.pack({ id: req!.id })]) {
        await h.press(who, data);
        expect(alerts(h).at(-1)).toMatch(/for admins only|Только для администраторов/);
      }
    }
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    expect((await requests(h))[0]).toMatchObject({ status: 'pending', decided_by: null });
    expect(h.logs.some((l) => l.msg === 'admin action refused: not an admin')).toBe(true);
  });

  it('a second request while one is pending is refused (the Add button and an old prompt)', async () => {
    const prompt = await requestDevice(h, USER, 'Phone');
    const mark = h.rec.calls.length;
    await h.press(USER, cb.deviceAdd.pack({}));
    expect(alerts(h).at(-1)).toMatch(/already have a device request waiting/);
    await h.replyTo(USER, prompt, 'Tablet');
    expect(lastText(h, USER.id)).toMatch(/already have a device request waiting/);
    expect(await requests(h)).toHaveLength(1);
    // No new message to the admins.
    expect(h.rec.find('sendMessage', ADMIN_A.id, mark)).toHaveLength(0);
    // Concurrent replies to the prompt: still one open request.
    await h.press(ADMIN_A, cb.deviceRequestReject.pack({ id: (await requests(h))[0]!.id }));
    await Promise.all(['A', 'B', 'C'].map((n) => h.replyTo(USER, prompt, `Phone ${n}`)));
    expect((await requests(h)).filter((r) => r.status === 'pending')).toHaveLength(1);
  });

  it('limit reached at approval time → the admin is told, nothing is created, the request stays open', async () => {
    const mark = h.rec.calls.length;
    await requestDevice(h, USER, 'Phone');
    const { a } = requestMessages(h, mark);
    const [req] = await requests(h);
    await setMaxDevices(h.db, USER.id, 1);
    const before = h.rec.calls.length;
    await h.press(ADMIN_A, cb.deviceRequestApprove.pack({ id: req!.id }), a);
    expect(alerts(h).at(-1)).toMatch(/No device was created/);
    expect(lastText(h, ADMIN_A.id)).toMatch(/already has 1 devices, the most allowed, so <b>Phone<\/b> was not created/);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    expect(h.wg.peers.size).toBe(1);
    expect(h.rec.find('sendDocument', USER.id, before)).toHaveLength(0);
    expect(h.rec.find('editMessageText', undefined, before)).toHaveLength(0);
    expect((await requests(h))[0]).toMatchObject({ status: 'pending', decided_by: null });

    // Once the limit is raised, approving again creates it.
    await setMaxDevices(h.db, USER.id, 2);
    await h.press(ADMIN_B, cb.deviceRequestApprove.pack({ id: req!.id }));
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(2);
    expect((await requests(h))[0]).toMatchObject({ status: 'approved', decided_by: ADMIN_B.id });
  });
});
