import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cb } from '../../src/bot/callback-data.js';
import { peersOfUser } from '../../src/db/peers.js';
import { setMaxDevices } from '../../src/db/users.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import { buttons, type Call, type From } from '../support/recorder.js';
import { activeUser, alerts, lastText } from './support.js';

const USER: From = { id: 8101, first_name: 'Olga', username: 'olga', language_code: 'en' };
const OTHER: From = { id: 8102, first_name: 'Pavel', language_code: 'ru' };
const NEWBIE: From = { id: 8103, first_name: 'Nina', language_code: 'en' };




/** Taps Add and answers the prompt with `name`. */
async function addDevice(h: Harness, u: From, name: string) {
  await h.press(u, cb.deviceAdd.pack({}));
  const prompt = h.rec.last('sendMessage', u.id)!;
  expect(prompt.payload.reply_markup).toMatchObject({ force_reply: true });
  await h.replyTo(u, prompt, name);
  return prompt;
}

describe('devices', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: true });
    await activeUser(h, USER);
  });
  afterEach(() => h.close());

  it('/devices lists the approved peer as "Device 1" with traffic (↓ = tx, ↑ = rx), last seen and buttons', async () => {
    const [peer] = await peersOfUser(h.db, USER.id);
    await h.db.updateTable('peer_traffic').set({ tx_total: 5 * 1024 * 1024, rx_total: 2048, last_handshake_at: h.deps.now() }).where('peer_id', '=', peer!.id).execute();
    await h.send(USER, '/devices');
    const list = h.rec.last('sendMessage', USER.id)!;
    const text = list.payload.text as string;
    expect(text).toContain('1 of 3');
    expect(text).toContain('<b>Device 1</b> — 10.8.0.2');
    expect(text).toMatch(/↓ 5(\.0+)? MiB · ↑ 2(\.0+)? KiB/);
    expect(text).not.toContain('never');
    expect(buttons(list).map((b) => b.callback_data)).toEqual([`dvc:${peer!.id}`, `dvn:${peer!.id}`, `dvd:${peer!.id}`, 'dva']);
  });

  it('add with a valid (Cyrillic) name: a new peer with its own keys and IP, on the interface, config delivered', async () => {
    const docsBefore = h.rec.find('sendDocument', USER.id).length;
    await addDevice(h, USER, '  Ноутбук Оли-2_  ');
    const peers = await peersOfUser(h.db, USER.id);
    expect(peers).toHaveLength(2);
    const added = peers[1]!;
    expect(added.name).toBe('Ноутбук Оли-2_');
    expect(added.ip).toBe('10.8.0.3');
    expect(added.public_key).not.toBe(peers[0]!.public_key);
    expect(h.wg.peers.get(added.public_key)).toMatchObject({ ip: '10.8.0.3' });
    const docs = h.rec.find('sendDocument', USER.id);
    expect(docs).toHaveLength(docsBefore + 1);
    expect(docs.at(-1)!.files.document!.data.toString()).toContain('Address = 10.8.0.3/32');
    expect(docs.at(-1)!.files.document!.name).toBe('andreyvpn-noutb.conf');
    expect(docs.at(-1)!.payload.caption).toContain('Device: <b>Ноутбук Оли-2_</b>');
    expect(h.rec.find('sendPhoto', USER.id).length).toBeGreaterThanOrEqual(2);
    expect(h.rec.find('sendMessage', USER.id).some((c) => /Device <b>Ноутбук Оли-2_<\/b> added/.test(c.payload.text))).toBe(true);
  });

  it.each([
    ['HTML', '<b>x</b>'],
    ['a newline', 'Phone\nTwo'],
    ['500 characters', 'a'.repeat(500)],
    ['33 characters', 'a'.repeat(33)],
    ['empty', '   '],
    ['an emoji', 'Phone 📱'],
  ])('a name with %s is refused with a clear message and nothing is created', async (_what, name) => {
    const prompt = await addDevice(h, USER, name);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    expect(h.wg.peers.size).toBe(1);
    const refusal = h.rec.find('sendMessage', USER.id).at(-2)!.payload.text as string;
    expect(refusal).toMatch(/1–32 characters: letters, digits, spaces/);
    // A fresh prompt to try again.
    expect(lastText(h, USER.id)).toBe(prompt.payload.text);
    expect(h.rec.last('sendMessage', USER.id)!.payload.reply_markup).toMatchObject({ force_reply: true });
  });

  it('32 characters are fine', async () => {
    await addDevice(h, USER, 'Я'.repeat(32));
    expect((await peersOfUser(h.db, USER.id))[1]?.name).toBe('Я'.repeat(32));
  });

  it('the limit: no Add button at the limit, Add and a late reply are refused; a per-user override changes it', async () => {
    await addDevice(h, USER, 'Two');
    const prompt = await addDevice(h, USER, 'Three');
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(3);
    await h.send(USER, '/devices');
    expect(buttons(h.rec.last('sendMessage', USER.id)).some((b) => b.callback_data === 'dva')).toBe(false);
    await h.press(USER, cb.deviceAdd.pack({}));
    expect(alerts(h).at(-1)).toMatch(/already have 3 devices/);
    // An old prompt answered again does not pass the limit either.
    await h.replyTo(USER, prompt, 'Four');
    expect(lastText(h, USER.id)).toMatch(/already have 3 devices/);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(3);
    expect(h.wg.peers.size).toBe(3);

    expect(await setMaxDevices(h.db, USER.id, 4)).toBe(true);
    await h.replyTo(USER, prompt, 'Four');
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(4);
    await h.send(USER, '/devices');
    expect(lastText(h, USER.id)).toContain('4 of 4');
  });

  it('concurrent adds at the limit never exceed it', async () => {
    h.deps.maxDevicesPerUser = 2;
    await h.press(USER, cb.deviceAdd.pack({}));
    const prompt = h.rec.last('sendMessage', USER.id)!;
    await Promise.all(['A', 'B', 'C', 'D', 'E'].map((n) => h.replyTo(USER, prompt, `Phone ${n}`)));
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(2);
    expect(h.wg.peers.size).toBe(2);
    expect(h.rec.find('sendMessage', USER.id).filter((c) => /already have 2 devices/.test(c.payload.text))).toHaveLength(4);
  });

  it('an add cut off before its config was queued: the replayed reply and the recovery at start, at once, queue it once', async () => {
    // The crash left the peer made and its config not queued.
    const peer = await h.deps.fleet.addPeer(USER.id, { name: 'Phone', maxDevices: 3 });
    const mark = h.rec.calls.length;
    const [replayed] = await Promise.all([h.deps.devices.add(USER.id, 'Phone', 3), h.deps.devices.queueUnqueuedConfigs()]);
    expect(replayed).toMatchObject({ kind: 'ok', peer: { id: peer.id } });
    await h.drain();
    const docs = h.rec.find('sendDocument', USER.id, mark);
    expect(docs.map((c) => c.files.document!.data.toString().includes(`Address = ${peer.ip}/32`))).toEqual([true]);
  });

  it('get config sends the .conf, QR and AmneziaVPN key of that device', async () => {
    await addDevice(h, USER, 'Tablet');
    const tablet = (await peersOfUser(h.db, USER.id))[1]!;
    const mark = h.rec.calls.length;
    await h.press(USER, cb.deviceConfig.pack({ id: tablet.id }));
    const doc = h.rec.find('sendDocument', USER.id, mark);
    expect(doc).toHaveLength(1);
    expect(doc[0]!.files.document!.data.toString()).toContain('Address = 10.8.0.3/32');
    expect(h.rec.find('sendPhoto', USER.id, mark)).toHaveLength(1);
    expect(h.rec.find('sendMessage', USER.id, mark).some((c) => /vpn:\/\//.test(c.payload.text))).toBe(true);
  });

  it('rename: a reply to the prompt renames; a bad name is refused', async () => {
    const [peer] = await peersOfUser(h.db, USER.id);
    await h.press(USER, cb.deviceRename.pack({ id: peer!.id }));
    const prompt = h.rec.last('sendMessage', USER.id)!;
    expect(prompt.payload.text).toContain(`#${peer!.id} (Device 1)`);
    await h.replyTo(USER, prompt, 'bad <i>');
    expect(h.rec.find('sendMessage', USER.id).at(-2)!.payload.text).toMatch(/cannot be used/);
    expect((await peersOfUser(h.db, USER.id))[0]!.name).toBeNull();
    await h.replyTo(USER, prompt, 'Рабочий ПК');
    expect(lastText(h, USER.id)).toContain('Renamed to <b>Рабочий ПК</b>');
    expect((await peersOfUser(h.db, USER.id))[0]!.name).toBe('Рабочий ПК');
  });

  it('delete asks to confirm; confirmed, the peer is gone from the interface, the config file and the DB', async () => {
    await addDevice(h, USER, 'Old phone');
    const old = (await peersOfUser(h.db, USER.id))[1]!;
    await h.send(USER, '/devices');
    const list = h.rec.last('sendMessage', USER.id)!;
    await h.press(USER, cb.deviceDeleteAsk.pack({ id: old.id }), list);
    const ask = h.rec.last('editMessageText', USER.id)!;
    expect(ask.payload.text).toContain('Delete <b>Old phone</b> (10.8.0.3)?');
    expect(buttons(ask).map((b) => b.callback_data)).toEqual([`dvy:${old.id}`, 'dvl']);
    // Nothing happens before the confirmation.
    expect(h.wg.peers.has(old.public_key)).toBe(true);

    await Promise.all([h.press(USER, cb.deviceDeleteYes.pack({ id: old.id }), list), h.press(USER, cb.deviceDeleteYes.pack({ id: old.id }), list)]);
    expect(h.wg.peers.has(old.public_key)).toBe(false);
    expect(h.wg.peers.size).toBe(1);
    expect((await peersOfUser(h.db, USER.id)).map((p) => p.id)).not.toContain(old.id);
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(`${h.dir}/conf/awg0.conf`, 'utf8')).not.toContain(old.public_key);
    expect(h.rec.last('editMessageText', USER.id)!.payload.text).toContain('Device <b>Old phone</b> deleted');
    // The other device still works.
    expect(h.wg.peers.size).toBe(1);
  });

  it("forged callbacks for another user's device are refused and change nothing", async () => {
    await activeUser(h, OTHER);
    const [theirs] = await peersOfUser(h.db, OTHER.id);
    const mark = h.rec.calls.length;
    for (const data of [
      cb.deviceConfig.pack({ id: theirs!.id }),
      cb.deviceRename.pack({ id: theirs!.id }),
      cb.deviceDeleteAsk.pack({ id: theirs!.id }),
      cb.deviceDeleteYes.pack({ id: theirs!.id }),
      cb.deviceDeleteYes.pack({ id: 999_999 }),
    ]) {
      await h.press(USER, data);
      expect(alerts(h).at(-1)).toMatch(/does not exist/);
    }
    expect(h.rec.find('sendDocument', USER.id, mark)).toHaveLength(0);
    expect(h.rec.find('sendMessage', USER.id, mark)).toHaveLength(0);
    expect(await peersOfUser(h.db, OTHER.id)).toHaveLength(1);
    expect(h.wg.peers.has(theirs!.public_key)).toBe(true);

    // A hand-made rename prompt naming someone else's device is refused too.
    const fake: Call = {
      method: 'sendMessage',
      payload: { text: h.deps.translator.tRaw('en', 'device-rename-prompt', { id: String(theirs!.id), name: 'x' }) },
      files: {},
      result: { message_id: 1 },
    };
    await h.replyTo(USER, fake, 'Mine now');
    expect(lastText(h, USER.id)).toMatch(/does not exist/);
    expect((await peersOfUser(h.db, OTHER.id))[0]!.name).toBeNull();
  });

  it('a user who is not active cannot list, add or manage devices', async () => {
    await h.send(NEWBIE, '/start');
    await h.solveCaptcha(NEWBIE);
    await h.send(NEWBIE, '/devices');
    expect(lastText(h, NEWBIE.id)).toMatch(/Only users with active access/);
    await h.press(NEWBIE, cb.deviceAdd.pack({}));
    expect(alerts(h).at(-1)).toMatch(/Only users with active access/);

    // A disabled user, even with an Add prompt from before.
    await h.press(USER, cb.deviceAdd.pack({}));
    const prompt = h.rec.last('sendMessage', USER.id)!;
    await h.press(ADMIN_A, cb.disable.pack({ userId: USER.id }));
    await h.replyTo(USER, prompt, 'Sneaky');
    expect(lastText(h, USER.id)).toMatch(/Only users with active access/);
    const [peer] = await peersOfUser(h.db, USER.id);
    await h.press(USER, cb.deviceConfig.pack({ id: peer!.id }));
    expect(alerts(h).at(-1)).toMatch(/Only users with active access/);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    expect(await peersOfUser(h.db, NEWBIE.id)).toHaveLength(0);
  });

  it('REQUIRE_APPROVAL_PER_DEVICE=on: the named device becomes a request, nothing is created yet (see approval.test.ts)', async () => {
    h.deps.requireApprovalPerDevice = true;
    await addDevice(h, USER, 'Tablet');
    expect(lastText(h, USER.id)).toMatch(/request for <b>Tablet<\/b> was sent/);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
  });

  it('answers in Russian', async () => {
    await activeUser(h, OTHER);
    await h.send(OTHER, '/devices');
    expect(lastText(h, OTHER.id)).toContain('<b>Устройство 1</b>');
    await h.press(OTHER, cb.deviceAdd.pack({}));
    await h.replyTo(OTHER, h.rec.last('sendMessage', OTHER.id)!, '🙂');
    expect(h.rec.find('sendMessage', OTHER.id).at(-2)!.payload.text).toMatch(/Такое название не подходит/);
  });
});
