import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import { buttons, type From } from '../support/recorder.js';

const USER: From = { id: 4321, first_name: 'Lena', language_code: 'en' };

describe('/language', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
  });
  afterEach(() => h.close());

  it('a chosen language wins over the Telegram one, in replies and in messages the bot sends on its own', async () => {
    await h.send(USER, '/language');
    const menu = h.rec.last('sendMessage', USER.id)!;
    expect(buttons(menu).map((b) => b.callback_data)).toEqual(['lng:en', 'lng:ru']);
    await h.press(USER, 'lng:ru', menu);
    expect(h.rec.last('editMessageText', USER.id)?.payload.text).toContain('по-русски');
    await h.send(USER, '/help'); // Telegram still says "en"
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('Команды');
    await h.send(USER, '/start');
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect(h.rec.find('sendMessage', USER.id).some((c) => /Ваша заявка одобрена/.test(c.payload.text))).toBe(true);
    await h.press(USER, 'lng:en', menu);
    await h.send(USER, '/help');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('Commands');
  });

  it('a forged language code is refused and changes nothing', async () => {
    await h.press(USER, 'lng:de');
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('no longer active');
    await h.send(USER, '/help');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('Commands');
  });
});
