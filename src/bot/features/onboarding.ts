import { randomBytes } from 'node:crypto';
import { Composer, InlineKeyboard } from 'grammy';
import { getCaptcha, putCaptcha, recordCaptchaFailure, startCaptcha, updateCaptcha } from '../../db/captchas.js';
import { findUser, updateProfile } from '../../db/users.js';
import { type Asked, fileRequest, fileRequestAfterCaptcha, queueFull } from '../../use-cases/onboarding.js';
import { cb } from '../callback-data.js';
import type { BotContext } from '../context.js';
import { HTML, safeEdit } from '../ui.js';
import { adminMenu } from './admin/overview.js';
import { admitWithInvite, holdStartInvite } from './invites.js';
import { sendStatus } from './user.js';
import { offerLocations } from './location.js';

export const CAPTCHA_MAX_ATTEMPTS = 3;
export const CAPTCHA_TTL_MS = 5 * 60_000;
export const CAPTCHA_COOLDOWN_MS = 15 * 60_000;
const CAPTCHA_OPTIONS = 6;

export const onboarding = new Composer<BotContext>();
const priv = onboarding.chatType('private');

priv.command('start', async (ctx) => {
  if (ctx.isAdmin) return adminMenu(ctx);
  const { db, now } = ctx.deps;
  const user = ctx.userAtStart;
  if (user && user.status !== 'revoked') {
    await updateProfile(db, ctx.from, now());
    return sendStatus(ctx, user);
  }
  // An invite link (t.me/<bot>?start=inv_<code>) is held until the request is submitted.
  if (ctx.match) await holdStartInvite(ctx, ctx.match);
  if (!ctx.deps.captcha) return submitRequest(ctx, await fileRequest(ctx.deps, ctx.from));
  // No CAPTCHA to solve for a place the queue does not have.
  if (await queueFull(ctx.deps, ctx.from.id)) return ctx.reply(ctx.tr('queue-full'), HTML);
  const challenge = newChallenge(ctx, ctx.from.id);
  // Newcomers come in bursts: their questions are stored together (one commit), before they are sent.
  const attempts = await ctx.deps.groupCommit.run((trx) => startCaptcha(trx, challenge.row, now()));
  if (attempts === null) {
    const cooldownUntil = (await getCaptcha(db, ctx.from.id))?.cooldown_until ?? now();
    return ctx.reply(ctx.tr('captcha-cooldown', { minutes: Math.max(1, Math.ceil((cooldownUntil - now()) / 60_000)) }), HTML);
  }
  await ctx.reply(`${ctx.tr('welcome')}\n\n${challenge.question(attempts)}`, { ...HTML, reply_markup: challenge.keyboard });
});

/** A new arithmetic question with a fresh nonce (so buttons of older questions stop counting); the caller stores `row`. */
function newChallenge(ctx: BotContext, userId: number) {
  const { randomInt, now } = ctx.deps;
  const a = 1 + randomInt(9);
  const b = 1 + randomInt(9);
  const answer = a + b;
  const options = new Set([answer]);
  while (options.size < CAPTCHA_OPTIONS) options.add(2 + randomInt(17));
  const shuffled = [...options];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const nonce = randomInt(2 ** 48 - 1).toString(36);
  const row = { user_id: userId, nonce, answer, expires_at: now() + CAPTCHA_TTL_MS };
  const keyboard = new InlineKeyboard();
  shuffled.forEach((n, i) => {
    keyboard.text(String(n), cb.captcha.pack({ nonce, answer: n }));
    if (i % 3 === 2) keyboard.row();
  });
  const question = (attempts: number) => ctx.tr('captcha-question', { a, b, attempts: CAPTCHA_MAX_ATTEMPTS - attempts });
  return { row, question, keyboard };
}

onboarding.callbackQuery(cb.captcha.filter, async (ctx) => {
  const data = cb.captcha.unpack(ctx.callbackQuery.data);
  const { db, now } = ctx.deps;
  const captcha = await getCaptcha(db, ctx.from.id);
  const message = ctx.callbackQuery.message;
  if (!data || !captcha || captcha.nonce !== data.nonce || !message) {
    return ctx.answerCallbackQuery({ text: ctx.tr('captcha-stale') });
  }
  if (captcha.cooldown_until && captcha.cooldown_until > now()) {
    return ctx.answerCallbackQuery({ text: ctx.tr('captcha-cooldown-short') });
  }
  if (captcha.expires_at <= now()) {
    await ctx.answerCallbackQuery();
    return safeEdit(ctx.api, message.chat.id, message.message_id, ctx.tr('captcha-expired'));
  }
  if (data.answer === captcha.answer) {
    const asked = await fileRequestAfterCaptcha(ctx.deps, ctx.from, data.nonce);
    if (asked === null) return ctx.answerCallbackQuery();
    await ctx.answerCallbackQuery({ text: ctx.tr('captcha-passed-short') });
    return submitRequest(ctx, asked, message);
  }
  const failed = await recordCaptchaFailure(db, ctx.from.id, data.nonce);
  if (!failed) return ctx.answerCallbackQuery({ text: ctx.tr('captcha-stale') });
  if (failed.attempts >= CAPTCHA_MAX_ATTEMPTS) {
    const until = now() + CAPTCHA_COOLDOWN_MS;
    await updateCaptcha(db, ctx.from.id, { cooldown_until: until, nonce: randomBytes(6).toString('base64url') });
    await ctx.answerCallbackQuery();
    return safeEdit(ctx.api, message.chat.id, message.message_id, ctx.tr('captcha-cooldown', { minutes: CAPTCHA_COOLDOWN_MS / 60_000 }));
  }
  await ctx.answerCallbackQuery({ text: ctx.tr('captcha-wrong') });
  const challenge = newChallenge(ctx, ctx.from.id);
  await putCaptcha(db, { ...challenge.row, attempts: failed.attempts, cooldown_until: null });
  await safeEdit(ctx.api, message.chat.id, message.message_id, `${ctx.tr('captcha-wrong')}\n\n${challenge.question(failed.attempts)}`, challenge.keyboard);
});

/**
 * After the request was filed (asked) or found to exist: a held invite admits the user at once;
 * otherwise the user is told (in the CAPTCHA's message, when there is one: one message, not two).
 */
async function submitRequest(ctx: BotContext, asked: Asked, captchaMessage?: { chat: { id: number }; message_id: number }): Promise<void> {
  const { db, log } = ctx.deps;
  if (asked === 'full') {
    if (captchaMessage) await safeEdit(ctx.api, captchaMessage.chat.id, captchaMessage.message_id, ctx.tr('queue-full'));
    else await ctx.reply(ctx.tr('queue-full'), HTML);
    return;
  }
  const user = await findUser(db, ctx.from!.id);
  if (!user) return;
  if (!asked) {
    if (captchaMessage) await safeEdit(ctx.api, captchaMessage.chat.id, captchaMessage.message_id, ctx.tr('captcha-passed'));
    return sendStatus(ctx, user);
  }
  // With a held invite the user is admitted at once, skipping the approval queue.
  if (await admitWithInvite(ctx, user, captchaMessage)) return;
  log.info({ userId: user.id }, 'access requested');
  const text = ctx.tr('request-sent');
  if (captchaMessage) await safeEdit(ctx.api, captchaMessage.chat.id, captchaMessage.message_id, `${ctx.tr('captcha-passed')}\n\n${text}`);
  else await ctx.reply(text, HTML);
  await offerLocations(ctx);
}
