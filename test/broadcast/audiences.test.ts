import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broadcaster } from '../../src/broadcast/broadcaster.js';
import { deliveryCounts, findBroadcast } from '../../src/db/broadcasts.js';
import { chooseChatLocale } from '../../src/db/chat-locales.js';
import { insertPeer } from '../../src/db/peers.js';
import { setBlocked } from '../../src/db/users.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import { buttons, type Call } from '../support/recorder.js';
import { addUsers, attachBroadcaster, buttonData, callWithButton, copiesPerChat, draft } from './support.js';

const DAY = 86_400_000;

/** The confirmation's button whose text contains `text`. */
function button(call: Call, text: string): { text: string; callback_data: string } {
  const b = buttons(call).find((x) => x.text.includes(text));
  if (!b) throw new Error(`no button "${text}" in ${JSON.stringify(buttons(call).map((x) => x.text))}`);
  return b;
}

describe('broadcast: audiences picked on the confirmation', () => {
  let h: Harness;
  let broadcaster: Broadcaster;
  let users: Record<'recent' | 'tenDays' | 'noDevice' | 'neverConnected' | 'blocked' | 'threeDays' | 'pending', number>;

  /** An active user's device on `node`, its last handshake `ago` ms before now (null: never). */
  const device = async (userId: number, node: string, ago: number | null) => {
    const peer = await insertPeer(h.db, { user_id: userId, node, public_key: `key-${userId}-${node}`, private_key: 'p', preshared_key: 'q', ip: `10.9.${userId % 250}.2` }, h.deps.now());
    await h.db.updateTable('peer_traffic').set({ last_handshake_at: ago === null ? null : h.deps.now() - ago }).where('peer_id', '=', peer.id).execute();
  };

  beforeEach(async () => {
    h = await createHarness({ captcha: false, nodes: [{ name: 'nl1' }] });
    ({ broadcaster } = attachBroadcaster(h));
    const [recent, tenDays, noDevice, neverConnected, blocked, threeDays] = await addUsers(h, 6, 'active', 10_000);
    const [pending] = await addUsers(h, 1, 'pending', 20_000);
    users = { recent: recent!, tenDays: tenDays!, noDevice: noDevice!, neverConnected: neverConnected!, blocked: blocked!, threeDays: threeDays!, pending: pending! };
    await device(users.recent, 'awg0', DAY);
    await device(users.recent, 'nl1', 40 * DAY);
    await device(users.tenDays, 'nl1', 10 * DAY);
    await device(users.neverConnected, 'awg0', null);
    await device(users.blocked, 'awg0', 30 * DAY);
    await setBlocked(h.db, users.blocked, 1);
    await device(users.threeDays, 'awg0', 3 * DAY);
    await chooseChatLocale(h.db, users.tenDays, 'ru');
  });
  afterEach(() => h.close());

  it('"inactive ≥ 7 days": the count shown is who gets it: no handshake for 7 days, never connected included, blocked skipped', async () => {
    const { id, confirm } = await draft(h, ADMIN_A, { text: 'We miss you' });
    const inactive = button(confirm, 'Inactive');
    expect(inactive.text).toContain('never connected');
    await h.press(ADMIN_A, inactive.callback_data, confirm);

    let view = callWithButton(h, ADMIN_A.id, 'bcs:');
    expect(view.payload.text).toContain('active users with no handshake for 7 days or more (never connected included)</b>, 3 recipients');
    expect(buttons(view).map((b) => b.text)).toEqual(expect.arrayContaining(['● 💤 Inactive (never connected too)', '● 7 days', '14 days', '30 days', '📣 Send to 3']));
    // 14 days: the one last seen 10 days ago is not in it; back to 7.
    await h.press(ADMIN_A, button(view, '14 days').callback_data, view);
    view = callWithButton(h, ADMIN_A.id, 'bcs:');
    expect(view.payload.text).toContain('for 14 days or more (never connected included)</b>, 2 recipients');
    await h.press(ADMIN_A, button(view, '7 days').callback_data, view);
    view = callWithButton(h, ADMIN_A.id, 'bcs:');
    expect(view.payload.text).toContain('</b>, 3 recipients');
    expect(await findBroadcast(h.db, id)).toMatchObject({ audience: 'inactive', audience_arg: '7' });
    for (const b of buttons(view)) expect(Buffer.byteLength(b.callback_data)).toBeLessThanOrEqual(64);

    await h.press(ADMIN_A, buttonData(view, 'bcs:'), view);
    await broadcaster.idle();
    const everyone = Object.values(users);
    const copies = copiesPerChat(h.rec.calls, everyone);
    const reached = [users.tenDays, users.noDevice, users.neverConnected];
    for (const u of everyone) expect(copies.get(u), `user ${u}`).toBe(reached.includes(u) ? 1 : 0);
    for (const u of reached) expect(h.rec.last('sendMessage', u)?.payload.text).toBe('We miss you');
    expect(await deliveryCounts(h.db, id)).toMatchObject({ total: 3, sent: 3 });

    // The draft is sent: its audience buttons change nothing now.
    await h.press(ADMIN_A, button(view, '14 days').callback_data, view);
    expect(h.rec.last('answerCallbackQuery')?.payload).toMatchObject({ show_alert: true, text: expect.stringContaining('already sent') });
    expect(await findBroadcast(h.db, id)).toMatchObject({ audience: 'inactive', audience_arg: '7' });
  });

  it('quota, expiring, node and language: each shows its count; an unknown node or a stale button changes nothing', async () => {
    const { id, confirm } = await draft(h, ADMIN_A, { text: 'hello' });
    // The confirmation always has Cancel (Send only with someone to send to).
    const pick = async (label: string) => {
      const current = callWithButton(h, ADMIN_A.id, 'bcd:');
      await h.press(ADMIN_A, button(current, label).callback_data, current);
      return callWithButton(h, ADMIN_A.id, 'bcd:');
    };
    await h.db.updateTable('users').set({ quota_bytes: 1000, usage_bytes: 850 }).where('id', '=', users.recent).execute();
    await h.db.updateTable('users').set({ expires_at: h.deps.now() + 5 * DAY }).where('id', 'in', [users.threeDays, users.blocked]).execute();

    expect((await pick('80 %')).payload.text).toContain('80 % of their quota or more this period</b>, 1 recipients');
    expect((await pick('Expiring')).payload.text).toContain('expires within 3 days</b>, 0 recipients');
    expect(buttons(callWithButton(h, ADMIN_A.id, 'bcd:')).some((b) => b.callback_data.startsWith('bcs:'))).toBe(false); // nobody: no Send
    expect((await pick('7 days')).payload.text).toContain('expires within 7 days</b>, 1 recipients');
    const onNode = await pick('On a node');
    expect(onNode.payload.text).toContain('a device on node awg0</b>, 3 recipients');
    expect(buttons(onNode).map((b) => b.text)).toEqual(expect.arrayContaining(['● awg0', 'nl1']));
    expect((await pick('nl1')).payload.text).toContain('a device on node nl1</b>, 2 recipients');
    const language = await pick('By language');
    expect(language.payload.text).toContain('language is 🇬🇧 English (users whose language is not known count as this one)</b>, 4 recipients');
    expect((await pick('Русский')).payload.text).toContain('language is 🇷🇺 Русский</b>, 1 recipients');

    // Stale or forged buttons: a clear answer, nothing stored, the message left as it is.
    const edits = h.rec.find('editMessageText', ADMIN_A.id).length;
    const stale: [string, RegExp][] = [
      [`bca:${id}:node:gone`, /gone is not in the fleet any more/],
      [`bca:${id}:all`, /no longer active/], // the codec of an earlier version
      [`bca:${id}:inactive:9`, /no longer active/],
      [`bca:${id}:everyone:-`, /no longer active/],
      [`bca:${id}:active:awg0`, /no longer active/],
    ];
    for (const [data, text] of stale) {
      await h.press(ADMIN_A, data, confirm);
      expect(h.rec.last('answerCallbackQuery')?.payload, data).toMatchObject({ show_alert: true, text: expect.stringMatching(text) });
    }
    expect(h.rec.find('editMessageText', ADMIN_A.id)).toHaveLength(edits);
    expect(await findBroadcast(h.db, id)).toMatchObject({ status: 'draft', audience: 'language', audience_arg: 'ru' });

    await h.press(ADMIN_A, buttonData(callWithButton(h, ADMIN_A.id, 'bcs:'), 'bcs:'), callWithButton(h, ADMIN_A.id, 'bcs:'));
    await broadcaster.idle();
    const copies = copiesPerChat(h.rec.calls, Object.values(users));
    for (const [name, u] of Object.entries(users)) expect(copies.get(u), name).toBe(u === users.tenDays ? 1 : 0);
  });

  it('the picker speaks Russian to a Russian-speaking admin', async () => {
    const { confirm } = await draft(h, ADMIN_B, { text: 'привет' });
    expect(buttons(confirm).map((b) => b.text)).toEqual(expect.arrayContaining(['💤 Неактивные (и не подключавшиеся)', '📊 ≥ 80 % квоты', '⏳ Истекают', '🖥 На узле', '🌐 По языку']));
    await h.press(ADMIN_B, button(confirm, 'Неактивные').callback_data, confirm);
    expect(callWithButton(h, ADMIN_B.id, 'bcs:').payload.text).toContain('без рукопожатия 7 дней и дольше (включая тех, кто ни разу не подключался)</b>, всего 3');
  });

  it('the chosen audience and its argument survive a restart: Send after it reaches the same users', async () => {
    const { id, confirm } = await draft(h, ADMIN_A, { text: 'after restart' });
    await h.press(ADMIN_A, button(confirm, 'Inactive').callback_data, confirm);
    const view = callWithButton(h, ADMIN_A.id, 'bcs:');
    await h.press(ADMIN_A, button(view, '14 days').callback_data, view);
    const shown = callWithButton(h, ADMIN_A.id, 'bcs:');
    expect(shown.payload.text).toContain('2 recipients');
    await h.crash();
    const h2 = await createHarness({ captcha: false, nodes: [{ name: 'nl1' }], restartOf: { dir: h.dir, wg: h.wg, telegram: h.rec.state } });
    try {
      const { broadcaster: b2 } = attachBroadcaster(h2);
      await h2.press(ADMIN_A, `bcs:${id}`, shown);
      await b2.idle();
      const copies = copiesPerChat(h2.rec.calls, Object.values(users));
      for (const [name, u] of Object.entries(users)) expect(copies.get(u), name).toBe(u === users.noDevice || u === users.neverConnected ? 1 : 0);
    } finally {
      h = h2; // afterEach closes the live one (and removes the directory)
    }
  });
});
