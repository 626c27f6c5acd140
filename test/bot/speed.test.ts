import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findUser } from '../../src/db/users.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import { buttons, type From } from '../support/recorder.js';

const USER: From = { id: 7001, first_name: 'Olga', username: 'olga', language_code: 'en' };
const STRANGER: From = { id: 7666, first_name: 'Mallory', language_code: 'en' };

describe("the admin's speed screen on the user card", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
    await h.send(USER, '/start');
    await h.solveCaptcha(USER);
    await h.press(ADMIN_A, `apr:${USER.id}`, h.rec.last('sendMessage', ADMIN_A.id)!);
    await h.send(ADMIN_A, '/admin');
  });
  afterEach(() => h.close());

  const speedOf = async () => {
    const u = await findUser(h.db, USER.id);
    return [u?.speed_down_kbit, u?.speed_up_kbit];
  };
  const menu = () => h.rec.last('sendMessage', ADMIN_A.id)!;
  const lastEdit = () => h.rec.last('editMessageText', ADMIN_A.id)!;

  it('the card shows the speed; a choice is stored and shaped on the node at once; default and unlimited are told apart', async () => {
    h.deps.defaultSpeed = { downKbit: 20_000, upKbit: 5000 };
    await h.press(ADMIN_A, `usr:${USER.id}`, menu());
    expect(lastEdit().payload.text).toContain('Speed: ↓ 20 / ↑ 5 Mbit/s (default)');
    expect(buttons(lastEdit()).map((b) => b.callback_data)).toContain(`spm:${USER.id}`);

    await h.press(ADMIN_A, `spm:${USER.id}`, menu());
    expect(buttons(lastEdit()).map((b) => b.callback_data)).toEqual([5, 10, 20, 50, 100, -1, 0].map((n) => `sps:${USER.id}:${n}`).concat(`usr:${USER.id}`));

    await h.press(ADMIN_A, `sps:${USER.id}:10`, menu());
    expect(await speedOf()).toEqual([10_000, 10_000]);
    expect(lastEdit().payload.text).toContain('Speed: ↓ 10 / ↑ 10 Mbit/s');
    expect(lastEdit().payload.text).not.toContain('(default)');
    const lines = h.wg.shaped.flatMap((s) => (s.input ?? '').split('\n'));
    expect(lines).toContain('class replace dev awg0 parent 1: classid 1:2 htb rate 10000kbit ceil 10000kbit');
    expect(lines).toContain('class replace dev ifb-awg0 parent 1: classid 1:2 htb rate 10000kbit ceil 10000kbit');

    await h.press(ADMIN_A, `sps:${USER.id}:0`, menu());
    expect(await speedOf()).toEqual([0, 0]);
    expect(lastEdit().payload.text).toContain('Speed: unlimited');
    expect(h.wg.shaped.at(-1)?.input).toContain('class del dev awg0 classid 1:2');

    await h.press(ADMIN_A, `sps:${USER.id}:-1`, menu());
    expect(await speedOf()).toEqual([null, null]);
    expect(lastEdit().payload.text).toContain('(default)');
  });

  it('bad data changes nothing; a non-admin is refused', async () => {
    await h.press(ADMIN_A, `sps:${USER.id}:-5`, menu());
    await h.press(ADMIN_A, `sps:${USER.id}:99999`, menu());
    await h.press(STRANGER, `sps:${USER.id}:5`);
    expect(await speedOf()).toEqual([null, null]);
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toBeTruthy();
  });
});
