import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { peersOfUser } from '../../src/db/peers.js';
import { findUser } from '../../src/db/users.js';
import { startMonitor } from '../../src/monitor/index.js';
import { decodeVpnKey } from '../support/vpn-key.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import { buttons, type From } from '../support/recorder.js';

const run = promisify(execFile);
const USER: From = { id: 7001, first_name: 'Olga', username: 'olga', language_code: 'en' };
const STRANGER: From = { id: 7666, first_name: 'Mallory', language_code: 'en' };

async function pendingUser(h: Harness, u: From = USER) {
  await h.send(u, '/start');
  await h.solveCaptcha(u);
}

describe('approval', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(() => h.close());

  it('approve creates the peer on the interface and in the config file, and sends .conf, QR and instructions', async () => {
    await pendingUser(h);
    const req = h.rec.last('sendMessage', ADMIN_A.id)!;
    await h.press(ADMIN_A, `apr:${USER.id}`, req);

    expect((await findUser(h.db, USER.id))?.status).toBe('active');
    const [peer] = await peersOfUser(h.db, USER.id);
    expect(peer?.ip).toBe('10.8.0.2');
    expect(h.wg.peers.get(peer!.public_key)).toMatchObject({ ip: '10.8.0.2', presharedKey: peer!.preshared_key });

    // The file follows the live change within CONFIG_WRITE_DELAY_MS (test/vpn/service.test.ts); here at once.
    await h.fleet.node('awg0').flushConfig();
    const conf = await fs.readFile(path.join(h.dir, 'conf', 'awg0.conf'), 'utf8');
    expect(conf).toContain(`PublicKey = ${peer!.public_key}`);
    expect((await fs.stat(path.join(h.dir, 'conf', 'awg0.conf'))).mode & 0o777).toBe(0o600);

    const doc = h.rec.last('sendDocument', USER.id)!;
    const text = doc.files.document!.data.toString();
    expect(text).toContain(`PrivateKey = ${peer!.private_key}`);
    expect(text).toMatch(/^Jc = \d+$/m);
    expect(text).toContain('Endpoint = vpn.example.com:51820');
    expect(doc.files.document!.name).toMatch(/^[a-zA-Z0-9_=+.-]{1,15}\.conf$/);
    const photo = h.rec.last('sendPhoto', USER.id)!;
    const png = path.join(h.dir, 'qr.png');
    await fs.writeFile(png, photo.files.photo!.data);
    const { stdout } = await run('zbarimg', ['--raw', '-q', png]);
    expect(stdout.replace(/\n$/, '')).toBe(text);
    const keyMessage = h.rec.last('sendMessage', USER.id)!.payload.text as string;
    const key = /<code>(vpn:\/\/[A-Za-z0-9_-]+)<\/code>/.exec(keyMessage)![1]!;
    expect(JSON.parse(decodeVpnKey(key).containers[0].awg.last_config).config).toBe(text);
    expect(peer!.delivered_at).not.toBeNull();

    // Both admins' requests now say who approved, without buttons.
    for (const admin of [ADMIN_A, ADMIN_B]) {
      const edit = h.rec.last('editMessageText', admin.id)!;
      expect(edit.payload.text).toContain('Approved by Alice');
      expect(edit.payload.reply_markup).toBeUndefined();
    }
  });

  it('two admins approving at once, and double taps, create exactly one peer', async () => {
    await pendingUser(h);
    await Promise.all([
      h.press(ADMIN_A, `apr:${USER.id}`),
      h.press(ADMIN_B, `apr:${USER.id}`),
      h.press(ADMIN_A, `apr:${USER.id}`),
    ]);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    expect(h.wg.peers.size).toBe(1);
    expect(h.rec.find('sendDocument', USER.id)).toHaveLength(1);
    const answers = h.rec.find('answerCallbackQuery').map((c) => c.payload.text);
    expect(answers.filter((t) => /Already handled/i.test(t ?? '') || /Уже обработано/.test(t ?? ''))).toHaveLength(2);
  });

  it('a non-admin pressing Approve (forged callback) is refused and logged; nothing changes', async () => {
    await pendingUser(h);
    for (const data of [`apr:${USER.id}`, `rej:${USER.id}`, `dis:${USER.id}`, `rvy:${USER.id}`, 'usl:0', 'adm']) {
      await h.press(STRANGER, data);
      expect(h.rec.last('answerCallbackQuery')?.payload).toMatchObject({ show_alert: true, text: expect.stringContaining('admins only') });
    }
    expect((await findUser(h.db, USER.id))?.status).toBe('pending');
    expect(h.wg.peers.size).toBe(0);
    expect(h.logs.filter((l) => l.msg?.includes('not an admin') && l.from === STRANGER.id)).toHaveLength(6);
    await h.send(STRANGER, '/admin');
    expect(h.rec.last('sendMessage', STRANGER.id)?.payload.text).toContain('admins only');
  });

  it('reject tells the user and updates the admin messages', async () => {
    await pendingUser(h);
    await h.press(ADMIN_B, `rej:${USER.id}`);
    expect((await findUser(h.db, USER.id))?.status).toBe('rejected');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('rejected');
    expect(h.rec.last('editMessageText', ADMIN_A.id)?.payload.text).toContain('Rejected by Boris');
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect(h.wg.peers.size).toBe(0);
  });

  it('a failing wg call leaves the user pending and untold; the admin sees the error and can retry', async () => {
    await pendingUser(h);
    h.wg.failing = 'Unable to modify interface: Operation not permitted';
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect((await findUser(h.db, USER.id))?.status).toBe('pending');
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(0);
    expect(h.rec.find('sendDocument', USER.id)).toHaveLength(0);
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).not.toMatch(/approved/i);
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Operation not permitted');

    h.wg.failing = null;
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect((await findUser(h.db, USER.id))?.status).toBe('active');
    expect(h.rec.find('sendDocument', USER.id)).toHaveLength(1);
  });

  it('provisioning failures alert the other admins once per incident, and the recovery once', async () => {
    const second: From = { id: 7003, first_name: 'Petr', language_code: 'en' };
    await pendingUser(h);
    await pendingUser(h, second);
    const alerts = (admin: From, re: RegExp) => h.rec.find('sendMessage', admin.id).filter((c) => re.test(c.payload.text)).length;
    h.wg.failing = 'Operation not permitted';
    await h.press(ADMIN_A, `apr:${USER.id}`);
    await h.press(ADMIN_A, `apr:${second.id}`);
    expect(alerts(ADMIN_B, /Creating VPN peers fails/)).toBe(1);
    expect(alerts(ADMIN_A, /Creating VPN peers fails/)).toBe(0); // A saw the error itself
    h.wg.failing = null;
    await h.press(ADMIN_A, `apr:${USER.id}`);
    await h.press(ADMIN_A, `apr:${second.id}`);
    for (const admin of [ADMIN_A, ADMIN_B]) expect(alerts(admin, /works again/)).toBe(1);
  });

  it('an exhausted pool is reported to the admin and nothing is half-created', async () => {
    await h.close();
    h = await createHarness({ subnet: '10.9.0.0/30' }); // room for one client
    const second: From = { id: 7002, first_name: 'Petr', language_code: 'en' };
    await pendingUser(h);
    await pendingUser(h, second);
    await h.press(ADMIN_A, `apr:${USER.id}`);
    await h.press(ADMIN_A, `apr:${second.id}`);
    expect((await findUser(h.db, second.id))?.status).toBe('pending');
    expect(await peersOfUser(h.db, second.id)).toHaveLength(0);
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('No free addresses');
  });

  it('a user who blocked the bot is approved; the admin learns the config was not delivered', async () => {
    await pendingUser(h);
    h.rec.failNext('sendMessage', { error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect((await findUser(h.db, USER.id))?.status).toBe('active');
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('could not be delivered');
  });
});

describe('user commands and admin tools', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
    await pendingUser(h);
    await h.press(ADMIN_A, `apr:${USER.id}`);
  });
  afterEach(() => h.close());

  it('/config re-sends the same config; /status shows traffic counted by the monitor', async () => {
    const first = h.rec.last('sendDocument', USER.id)!.files.document!.data.toString();
    await h.send(USER, '/config');
    expect(h.rec.last('sendDocument', USER.id)!.files.document!.data.toString()).toBe(first);
    expect(h.rec.find('sendPhoto', USER.id)).toHaveLength(2);

    const [peer] = await peersOfUser(h.db, USER.id);
    h.wg.traffic(peer!.public_key, 3000, 5 * 1024 * 1024, 1_790_000_000);
    const monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: 3_600_000 });
    await monitor.tick();
    await monitor.stop();
    await h.send(USER, '/status');
    const status = h.rec.last('sendMessage', USER.id)!.payload.text as string;
    expect(status).toContain('↓ 5.00 MiB');
    expect(status).toContain('↑ 2.93 KiB');
    expect(status).toContain('2026-09-21');
    await h.send(USER, '/help');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('/config');
  });

  it('users list paginates and the card shows traffic', async () => {
    for (let i = 0; i < 10; i++) {
      await pendingUser(h, { id: 8000 + i, first_name: `User${i}`, language_code: 'en' });
    }
    await h.send(ADMIN_A, '/admin');
    const menu = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(buttons(menu)[0]?.text).toContain('(10)');
    await h.press(ADMIN_A, 'usl:0:0', menu);
    const page1 = h.rec.last('editMessageText', ADMIN_A.id)!;
    expect(page1.payload.text).toContain('page 1/2, 11 in all');
    expect(buttons(page1).map((b) => b.callback_data)).toContain('usl:1:0');
    await h.press(ADMIN_A, 'usl:1:0', menu);
    const page2 = h.rec.last('editMessageText', ADMIN_A.id)!;
    expect(page2.payload.text).toContain('page 2/2');
    expect(page2.payload.text).toContain('Olga');
    await h.press(ADMIN_A, `usr:${USER.id}`, menu);
    const card = h.rec.last('editMessageText', ADMIN_A.id)!;
    expect(card.payload.text).toContain('10.8.0.2');
    expect(buttons(card).map((b) => b.callback_data)).toEqual([`dis:${USER.id}`, `rvk:${USER.id}`, `cht:${USER.id}`, `qmn:${USER.id}`, `pln:${USER.id}`, `spm:${USER.id}`, `ban:${USER.id}`, `usr:${USER.id}`, 'usl:0:0']);
    // Pending: the requests one at a time, oldest first, in the same message.
    await h.press(ADMIN_A, 'pnd', menu);
    const review = h.rec.last('editMessageText', ADMIN_A.id)!;
    expect(review.payload.text).toContain('Request 1 of 10');
    expect(review.payload.text).toContain('User0');
    expect(buttons(review).map((b) => b.callback_data)).toEqual(['rva:8000', 'rvr:8000', 'rvs:8000']);
  });

  it('disable removes the peer from the interface but keeps it; enable brings the same keys and IP back', async () => {
    const [before] = await peersOfUser(h.db, USER.id);
    await h.press(ADMIN_A, `dis:${USER.id}`);
    expect((await findUser(h.db, USER.id))?.status).toBe('disabled');
    expect(h.wg.peers.size).toBe(0);
    expect(await fs.readFile(path.join(h.dir, 'conf', 'awg0.conf'), 'utf8')).not.toContain(before!.public_key);
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('suspended');
    await h.send(USER, '/config');
    expect(h.rec.find('sendDocument', USER.id)).toHaveLength(1);

    await h.press(ADMIN_A, `ena:${USER.id}`);
    const [after] = await peersOfUser(h.db, USER.id);
    expect(after).toMatchObject({ public_key: before!.public_key, private_key: before!.private_key, ip: before!.ip, status: 'active' });
    expect(h.wg.peers.get(before!.public_key)?.ip).toBe(before!.ip);
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('active again');
  });

  it('revoke asks first, deletes peer and keys, and the user can ask again', async () => {
    await h.press(ADMIN_A, `rvk:${USER.id}`);
    expect(h.rec.last('editMessageText') ?? h.rec.last('sendMessage', ADMIN_A.id)).toBeTruthy();
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
    await h.press(ADMIN_A, `rvy:${USER.id}`);
    expect(await peersOfUser(h.db, USER.id)).toHaveLength(0);
    expect(h.wg.peers.size).toBe(0);
    expect((await findUser(h.db, USER.id))?.status).toBe('revoked');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('revoked');
    await h.send(USER, '/start');
    await h.solveCaptcha(USER);
    expect((await findUser(h.db, USER.id))?.status).toBe('pending');
    await h.press(ADMIN_B, `apr:${USER.id}`);
    expect(h.wg.peers.size).toBe(1);
  });
});
