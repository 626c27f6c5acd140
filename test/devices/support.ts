import { expect } from 'vitest';
import { cb } from '../../src/bot/callback-data.js';
import { findUser } from '../../src/db/users.js';
import { ADMIN_A, type Harness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

/** Takes `u` through /start, the CAPTCHA and an admin's approval. */
export async function activeUser(h: Harness, u: From) {
  await h.send(u, '/start');
  await h.solveCaptcha(u);
  await h.press(ADMIN_A, cb.approve.pack({ userId: u.id }));
  expect((await findUser(h.db, u.id))?.status).toBe('active');
}

export const lastText = (h: Harness, chatId: number) => h.rec.last('sendMessage', chatId)?.payload.text as string;
export const alerts = (h: Harness) => h.rec.find('answerCallbackQuery').map((c) => c.payload.text as string | undefined);
