import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInvite } from '../../src/db/invites.js';
import { findUser } from '../../src/db/users.js';
import { CAPTCHA_COOLDOWN_MS, CAPTCHA_MAX_ATTEMPTS, CAPTCHA_TTL_MS } from '../../src/bot/features/onboarding.js';
import { ADMIN_A, ADMIN_B, captchaCall, createHarness, type Harness } from '../support/harness.js';
import { buttons } from '../support/recorder.js';

const USER = { id: 5001, first_name: 'Ivan', last_name: '<Petrov & Co>', username: 'ivan_p', language_code: 'ru' };

describe('/start and the CAPTCHA', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(() => h.close());

  it('gives a newcomer a CAPTCHA with six answer buttons', async () => {
    await h.send(USER, '/start');
    const q = captchaCall(h.rec, USER.id);
    expect(q.payload.text).toContain('Сколько будет');
    expect(buttons(q)).toHaveLength(6);
    expect(await findUser(h.db, USER.id)).toBeUndefined();
  });

  it('passing it stores the user as pending and asks every admin, escaping the name', async () => {
    await h.send(USER, '/start');
    await h.solveCaptcha(USER);
    expect((await findUser(h.db, USER.id))?.status).toBe('pending');
    // In the question's own message: one message to the user, not two.
    expect(h.rec.textsTo(USER.id).at(-1)).toContain('Заявка отправлена');
    expect(h.rec.last('editMessageText', USER.id)?.payload.text).toContain('Заявка отправлена');
    for (const admin of [ADMIN_A, ADMIN_B]) {
      const req = h.rec.last('sendMessage', admin.id)!;
      expect(req.payload.text).toContain('&lt;Petrov &amp; Co&gt;');
      expect(req.payload.text).toContain('@ivan_p');
      expect(req.payload.text).toContain(String(USER.id));
      expect(buttons(req).map((b) => b.callback_data)).toEqual([`apr:${USER.id}`, `rej:${USER.id}`]);
    }
  });

  it('a wrong answer asks a new question; too many start a cooldown that /start respects', async () => {
    await h.send(USER, '/start');
    for (let i = 0; i < CAPTCHA_MAX_ATTEMPTS; i++) {
      const q = captchaCall(h.rec, USER.id);
      const [, a, b] = /<b>(\d+) \+ (\d+)<\/b>/.exec(q.payload.text)!;
      const wrong = buttons(q).find((x) => x.text !== String(Number(a) + Number(b)))!;
      await h.press(USER, wrong.callback_data, q);
    }
    expect(h.rec.last('editMessageText', USER.id)?.payload.text).toContain('Слишком много неверных ответов');
    expect(await findUser(h.db, USER.id)).toBeUndefined();
    const before = h.rec.calls.length;
    await h.send(USER, '/start');
    expect(h.rec.find('sendMessage', USER.id, before)[0]?.payload.text).toContain('Слишком много');
    h.advance(CAPTCHA_COOLDOWN_MS + 1);
    await h.send(USER, '/start');
    expect(buttons(captchaCall(h.rec, USER.id))).toHaveLength(6);
  });

  it('/start is no way to more tries: the wrong answers so far still count; after the cooldown there are three again', async () => {
    const wrongAnswer = async () => {
      const q = captchaCall(h.rec, USER.id);
      const [, a, b] = /<b>(\d+) \+ (\d+)<\/b>/.exec(q.payload.text)!;
      await h.press(USER, buttons(q).find((x) => x.text !== String(Number(a) + Number(b)))!.callback_data, q);
    };
    await h.send(USER, '/start');
    await wrongAnswer();
    await wrongAnswer();
    await h.send(USER, '/start');
    expect(captchaCall(h.rec, USER.id).payload.text).toContain('Осталось попыток: 1.');
    await wrongAnswer();
    expect(h.rec.last('editMessageText', USER.id)?.payload.text).toContain('Слишком много неверных ответов');
    h.advance(CAPTCHA_COOLDOWN_MS + 1);
    await h.send(USER, '/start');
    expect(captchaCall(h.rec, USER.id).payload.text).toContain(`Осталось попыток: ${CAPTCHA_MAX_ATTEMPTS}.`);
  });

  it('MAX_PENDING: past it a newcomer is asked to come back later, before any CAPTCHA, and the admins hear of it once a day; an invite still lets one in', async () => {
    h.deps.maxPending = 2;
    const newcomer = (i: number) => ({ id: 5100 + i, first_name: `N${i}`, language_code: 'en' });
    for (const i of [1, 2]) {
      await h.send(newcomer(i), '/start');
      await h.solveCaptcha(newcomer(i));
    }
    const full = (i: number) => h.rec.textsTo(newcomer(i).id).at(-1);
    const told = () => h.rec.find('sendMessage', ADMIN_A.id).filter((c) => /MAX_PENDING/.test(c.payload.text)).length;
    await h.send(newcomer(3), '/start');
    expect(full(3)).toContain('Too many requests are waiting');
    expect(h.rec.find('sendMessage', newcomer(3).id)).toHaveLength(1); // no question
    await h.send(newcomer(4), '/start');
    expect(full(4)).toContain('Too many requests are waiting');
    expect(await findUser(h.db, newcomer(4).id)).toBeUndefined();
    expect(told()).toBe(1);
    h.advance(86_400_000);
    await h.send(newcomer(4), '/start');
    expect(told()).toBe(2);

    // The last place taken while a question was open: solving it is refused, nothing is filed.
    h.deps.maxPending = 3;
    await h.send(newcomer(5), '/start');
    await h.send(newcomer(6), '/start');
    await h.solveCaptcha(newcomer(5));
    await h.solveCaptcha(newcomer(6));
    expect((await findUser(h.db, newcomer(5).id))?.status).toBe('pending');
    expect(await findUser(h.db, newcomer(6).id)).toBeUndefined();
    expect(h.rec.last('editMessageText', newcomer(6).id)?.payload.text).toContain('Too many requests are waiting');

    const { code } = await createInvite(h.db, { createdBy: ADMIN_A.id, creatorName: 'Alice', maxUses: 1, expiresAt: null, note: null }, h.deps.now());
    await h.send(newcomer(7), `/start inv_${code}`);
    await h.solveCaptcha(newcomer(7));
    expect((await findUser(h.db, newcomer(7).id))?.status).toBe('active');
  });

  it('an old question stops counting once a new one is asked, and a right answer counts once', async () => {
    await h.send(USER, '/start');
    const first = captchaCall(h.rec, USER.id);
    await h.send(USER, '/start');
    const good = (q: typeof first) => {
      const [, a, b] = /<b>(\d+) \+ (\d+)<\/b>/.exec(q.payload.text)!;
      return buttons(q).find((x) => x.text === String(Number(a) + Number(b)))!.callback_data;
    };
    await h.press(USER, good(first), first);
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('больше не действует');
    expect(await findUser(h.db, USER.id)).toBeUndefined();
    const second = captchaCall(h.rec, USER.id);
    await Promise.all([h.press(USER, good(second), second), h.press(USER, good(second), second)]);
    expect((await findUser(h.db, USER.id))?.status).toBe('pending');
    expect(h.rec.find('sendMessage', ADMIN_A.id)).toHaveLength(1);
  });

  it('a burst of newcomers each gets a question of their own, and each question works', async () => {
    const crowd = Array.from({ length: 20 }, (_, i) => ({ id: 7000 + i, first_name: `N${i}`, language_code: 'en' }));
    await Promise.all(crowd.map((u) => h.send(u, '/start')));
    const nonces = new Set(crowd.map((u) => buttons(captchaCall(h.rec, u.id))[0]!.callback_data.split(':')[1]));
    expect(nonces.size).toBe(crowd.length);
    await Promise.all(crowd.slice(0, 5).map((u) => h.solveCaptcha(u)));
    for (const u of crowd) expect((await findUser(h.db, u.id))?.status).toBe(crowd.indexOf(u) < 5 ? 'pending' : undefined);
  });

  it('a question expires', async () => {
    await h.send(USER, '/start');
    h.advance(CAPTCHA_TTL_MS + 1);
    await h.solveCaptcha(USER);
    expect(h.rec.last('editMessageText', USER.id)?.payload.text).toContain('Время на ответ вышло');
    expect(await findUser(h.db, USER.id)).toBeUndefined();
  });

  it("someone else's forged answer does not pass my CAPTCHA", async () => {
    await h.send(USER, '/start');
    const q = captchaCall(h.rec, USER.id);
    const other = { id: 5002, first_name: 'Mallory' };
    for (const b of buttons(q)) await h.press(other, b.callback_data, q);
    expect(await findUser(h.db, other.id)).toBeUndefined();
    expect(await findUser(h.db, USER.id)).toBeUndefined();
    await h.press(USER, 'cap:zzz:notanumber', q);
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toBeTruthy();
  });

  it('a known user gets their status; an admin gets the admin menu', async () => {
    await h.send(USER, '/start');
    await h.solveCaptcha(USER);
    await h.send(USER, '/start');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('ждёт одобрения');
    await h.send(ADMIN_A, '/start');
    const menu = h.rec.last('sendMessage', ADMIN_A.id)!;
    expect(menu.payload.text).toContain('Overview');
    expect(buttons(menu)[0]?.text).toContain('(1)');
  });

  it('unknown buttons are answered and stray text gets a hint', async () => {
    await h.press(USER, 'nonsense');
    expect(h.rec.last('answerCallbackQuery')?.payload.text).toContain('больше не действует');
    await h.send(USER, 'hello?');
    expect(h.rec.last('sendMessage', USER.id)?.payload.text).toContain('/help');
  });
});

describe('CAPTCHA=off', () => {
  it('goes straight to pending; each admin is asked in the language they last used', async () => {
    const h = await createHarness({ captcha: false });
    try {
      await h.send(ADMIN_B, '/help');
      await h.send(USER, '/start');
      expect((await findUser(h.db, USER.id))?.status).toBe('pending');
      expect(h.rec.last('sendMessage', ADMIN_B.id)?.payload.text).toContain('Заявка на доступ');
      expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Access request');
    } finally {
      await h.close();
    }
  });
});
