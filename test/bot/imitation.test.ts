import { afterEach, describe, expect, it } from 'vitest';
import { dueRows, enqueue } from '../../src/db/outbox.js';
import { ensureImitation, type ImitationSettings, loadImitation, resendConfigs } from '../../src/use-cases/imitation.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import { parseDnsQuery, packetOf } from '../support/imitation-wire.js';
import { buttons, type Call, type From } from '../support/recorder.js';
import { decodeVpnKey } from '../support/vpn-key.js';

const ANNA: From = { id: 9101, first_name: 'Anna', language_code: 'en' };
const VERA: From = { id: 9102, first_name: 'Вера', language_code: 'ru' };
const PENDING: From = { id: 9103, first_name: 'Pat', language_code: 'en' };

describe('imitation packets (AWG_PROTOCOL=2)', () => {
  let h: Harness;
  afterEach(() => h?.close());

  const documentsTo = (chatId: number): string[] =>
    h.rec.find('sendDocument', chatId).map((c) => c.files.document!.data.toString());
  const i1Of = (conf: string) => /^I1 = (.+)$/m.exec(conf)?.[1];
  const adminView = (): Call => h.rec.calls.filter((c) => c.payload.chat_id === ADMIN_A.id && /^(sendMessage|editMessageText)$/.test(c.method)).at(-1)!;

  async function withUsers(): Promise<void> {
    h = await createHarness({ captcha: false, awgProtocol: 2 });
    for (const u of [ANNA, VERA]) {
      await h.send(u, '/start');
      await h.press(ADMIN_A, `apr:${u.id}`);
    }
    await h.send(PENDING, '/start');
  }

  it('a config carries the deployment DNS query as I1, in the .conf, its QR text and the vpn:// key; the overview names it', async () => {
    await withUsers();
    const state = (await loadImitation(h.db))!;
    expect(state.preset).toBe('dns');
    const conf = documentsTo(ANNA.id)[0]!;
    expect(conf).toMatch(/^I1 = <r 2><b 0x[0-9a-f]+>$/m);
    expect(i1Of(conf)).toBe(state.values.i1);
    expect(conf).not.toMatch(/^I[2-5] =/m);
    const q = parseDnsQuery(packetOf(i1Of(conf)!));
    expect(state.detail).toBe(`${q.name} · ${q.type}`);
    const keyText = h.rec.textsTo(ANNA.id).find((t) => t.includes('vpn://'))!;
    const json = decodeVpnKey(/vpn:\/\/[A-Za-z0-9_-]+/.exec(keyText)![0]);
    expect(json.containers[0].awg.I1).toBe(state.values.i1);
    expect(JSON.parse(json.containers[0].awg.last_config).config).toBe(conf);

    await h.send(ADMIN_A, '/admin');
    const ov = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(ov.payload.text).toContain(`🎭 Imitation: <b>DNS</b> ${q.name} · ${q.type}`);
    expect(buttons(ov).map((b) => b.callback_data)).toContain('imi');
  });

  it('an admin switches the preset: configs sent afterwards carry the new packet; the re-send goes once to every active user, after every other message', async () => {
    await withUsers();
    await h.send(ADMIN_A, '/admin');
    const ov = h.rec.last('sendMessage', ADMIN_A.id)!;
    await h.press(ADMIN_A, 'imi', ov);
    expect(buttons(adminView()).map((b) => b.callback_data)).toEqual(['ims:off', 'ims:dns', 'ims:quic', `imr:${(await loadImitation(h.db))!.since}`, 'imi', 'adm']);
    expect(buttons(adminView()).find((b) => b.callback_data === 'ims:dns')!.text).toBe('• DNS');

    const old = (await loadImitation(h.db))!;
    h.advance(1000);
    await h.press(ADMIN_A, 'ims:quic', ov);
    const quic = (await loadImitation(h.db))!;
    expect(quic).toMatchObject({ preset: 'quic', resent: false });
    expect(quic.since).toBeGreaterThan(old.since);
    expect(adminView().payload.text).toContain('Switched to QUIC');
    // A second press of the same preset changes nothing.
    await h.press(ADMIN_A, 'ims:quic', ov);
    expect(await loadImitation(h.db)).toEqual(quic);
    expect(h.rec.calls.filter((c) => c.method === 'answerCallbackQuery').at(-1)!.payload.text).toBe('That preset is already in use.');
    // The re-send offered for the earlier state is stale now.
    const before = h.rec.calls.length;
    await h.press(ADMIN_A, `imr:${old.since}`, ov);
    expect(h.rec.calls.slice(before).filter((c) => c.payload.chat_id !== undefined && c.payload.chat_id !== ADMIN_A.id)).toEqual([]);

    // /config now gets the QUIC Initial.
    await h.send(ANNA, '/config');
    expect(i1Of(documentsTo(ANNA.id).at(-1)!)).toBe(quic.values.i1);
    expect(packetOf(quic.values.i1!)[0]! & 0xf0).toBe(0xc0);

    const docs = { anna: documentsTo(ANNA.id).length, vera: documentsTo(VERA.id).length };
    const resend = buttons(adminView()).find((b) => b.callback_data.startsWith('imr:'))!;
    expect(resend.text).toBe('📤 Send fresh configs to 2 users');
    await h.press(ADMIN_A, resend.callback_data, ov);
    expect(adminView().payload.text).toContain('Fresh configs for 2 users (2 devices) are queued');
    for (const [u, n] of [[ANNA, docs.anna], [VERA, docs.vera]] as const) {
      expect(documentsTo(u.id)).toHaveLength(n + 1);
      expect(i1Of(documentsTo(u.id).at(-1)!)).toBe(quic.values.i1);
    }
    expect(h.rec.textsTo(ANNA.id).filter((t) => t.includes('Your VPN setup was updated'))).toHaveLength(1);
    expect(h.rec.textsTo(VERA.id).filter((t) => t.includes('Настройки VPN обновлены'))).toHaveLength(1);
    expect(documentsTo(PENDING.id)).toEqual([]);
    expect((await loadImitation(h.db))!.resent).toBe(true);

    // Pressed again (a double tap, another admin): refused, nobody gets a second copy.
    await h.press(ADMIN_A, resend.callback_data, ov);
    expect(h.rec.calls.filter((c) => c.method === 'answerCallbackQuery').at(-1)!.payload).toMatchObject({ show_alert: true, text: expect.stringContaining('already re-sent') });
    expect(documentsTo(ANNA.id)).toHaveLength(docs.anna + 1);
  });

  it('a queued re-send survives a crash and goes out once after the restart; bulk rows wait behind every other message', async () => {
    await withUsers();
    const state = (await loadImitation(h.db))!;
    expect(await resendConfigs(h.db, state.since, ADMIN_A.id, h.deps.now())).toEqual({ users: 2, devices: 1 * 2 });
    await enqueue(h.db, [{ chatId: PENDING.id, intent: { kind: 'notice', key: 'imitation-unchanged' } }], h.deps.now());
    const due = await dueRows(h.db, h.deps.now(), 100);
    expect(due[0]!.chat_id).toBe(PENDING.id);
    expect(due.slice(1).every((r) => r.bulk === 1)).toBe(true);
    expect(due).toHaveLength(1 + 2 * 5);

    const docs = documentsTo(ANNA.id).length;
    await h.crash();
    h = await createHarness({ captcha: false, awgProtocol: 2, restartOf: { dir: h.dir, wg: h.wg, telegram: h.rec.state } });
    await h.recover();
    expect(h.rec.find('sendDocument', ANNA.id)).toHaveLength(1);
    expect(docs).toBe(1);
    expect(await dueRows(h.db, h.deps.now(), 100)).toEqual([]);
  });

  it('at start: the stored set is kept; AWG_I1…AWG_I5 win; without them again a fresh preset is drawn; protocol 1 stores nothing', async () => {
    h = await createHarness({ captcha: false, awgProtocol: 2, imitate: 'quic' });
    const first = (await loadImitation(h.db))!;
    expect(first.preset).toBe('quic');
    const s: ImitationSettings = { enabled: true, preset: 'dns', overrides: null, maxBytes: 1452 };
    expect(await ensureImitation(h.db, s, 1)).toEqual(first);
    const custom = await ensureImitation(h.db, { ...s, overrides: { i1: '<b 0x0102><r 8>', i3: '<t>' } }, 2);
    expect(custom).toMatchObject({ preset: 'custom', values: { i1: '<b 0x0102><r 8>', i3: '<t>' }, since: 2 });
    expect(await ensureImitation(h.db, { ...s, overrides: { i1: '<b 0x0102><r 8>', i3: '<t>' } }, 3)).toEqual(custom);
    const back = (await ensureImitation(h.db, s, 4))!;
    expect(back).toMatchObject({ preset: 'dns', since: 4 });
    expect(await ensureImitation(h.db, { ...s, enabled: false }, 5)).toBeNull();
    expect(await loadImitation(h.db)).toEqual(back);
  });

  it('protocol 1: no imitation line, no button, and a stale button is answered', async () => {
    h = await createHarness({ captcha: false });
    await h.send(ADMIN_A, '/admin');
    const ov = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(ov.payload.text).not.toContain('Imitation');
    expect(buttons(ov).map((b) => b.callback_data)).not.toContain('imi');
    await h.press(ADMIN_A, 'ims:dns', ov);
    expect(h.rec.calls.filter((c) => c.method === 'answerCallbackQuery').at(-1)!.payload.text).toContain('AWG_PROTOCOL=2');
    expect(await loadImitation(h.db)).toBeNull();
  });

  it('a non-admin pressing an imitation button is refused', async () => {
    await withUsers();
    const before = await loadImitation(h.db);
    await h.press(ANNA, 'ims:off');
    expect(h.rec.calls.filter((c) => c.method === 'answerCallbackQuery').at(-1)!.payload).toMatchObject({ show_alert: true });
    expect(await loadImitation(h.db)).toEqual(before);
  });
});
