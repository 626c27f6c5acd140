import { Composer, InlineKeyboard } from 'grammy';
import { countPending, nextPending, pendingBefore, pendingUpTo, placeOf } from '../../../db/requests.js';
import { findUser } from '../../../db/users.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { formatTime } from '../../format.js';
import { editCurrent, HTML, userParams } from '../../ui.js';
import { PoolExhaustedError } from '../../../vpn/service.js';
import { actorOf, answerDecidedAlready } from './decisions.js';

// Pending requests for admins: Approve / Reject on a request's message; Review (from a digest, see
// src/outbox/render.ts, or the overview) walks the queue one request at a time in order of arrival
// (Approve, Reject, Skip), editing one message in place; Approve all approves, after a
// confirmation, every request up to the newest the admin saw. A request decided anywhere else is
// simply not pending any more, so it is never shown again.

export const approvalsScreen = new Composer<BotContext>();

function errorText(ctx: BotContext, error: unknown): string {
  if (error instanceof PoolExhaustedError) return ctx.tr('error-pool-exhausted');
  return ctx.tr('error-vpn', { error: String(error instanceof Error ? error.message : error).slice(0, 500) });
}

/**
 * An approval from a request's button (or the review's): the peer goes live here; the user's
 * welcome and configs and every admin's copy of the request follow through the outbox. The admin
 * only waits for the answer to the press. True when it was approved.
 */
async function approveFromButton(ctx: BotContext, userId: number): Promise<boolean> {
  const stopTimer = ctx.deps.metrics?.provisioning.startTimer();
  const r = await ctx.deps.access.approve(userId, actorOf(ctx));
  if (r.kind === 'ok') stopTimer?.();
  // Decided already: the alert says by whom; the request's message gets its outcome from the outbox.
  if (await answerDecidedAlready(ctx, r)) return false;
  if (r.kind !== 'ok') {
    await ctx.answerCallbackQuery({ text: ctx.tr('approve-failed-short'), show_alert: true });
    // The buttons stay on the request, so the admin can retry once the cause is fixed.
    await ctx.api.sendMessage(ctx.from!.id, errorText(ctx, 'error' in r ? r.error : undefined), HTML);
    return false;
  }
  await ctx.answerCallbackQuery({ text: ctx.tr('approved-short') });
  return true;
}

/** A rejection from a button; the user and every admin's copy hear through the outbox. True when it was rejected. */
async function rejectFromButton(ctx: BotContext, userId: number): Promise<boolean> {
  const r = await ctx.deps.access.reject(userId, actorOf(ctx));
  if ((await answerDecidedAlready(ctx, r)) || r.kind !== 'ok') return false;
  await ctx.answerCallbackQuery({ text: ctx.tr('rejected-short') });
  return true;
}

approvalsScreen.callbackQuery(cb.approve.filter, async (ctx) => {
  const data = cb.approve.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  await approveFromButton(ctx, data.userId);
});

approvalsScreen.callbackQuery(cb.reject.filter, async (ctx) => {
  const data = cb.reject.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  await rejectFromButton(ctx, data.userId);
});

/** The first pending request after `afterUserId`'s place in the queue (0: from the start). */
async function reviewView(ctx: BotContext, afterUserId: number): Promise<{ text: string; keyboard?: InlineKeyboard }> {
  const { db } = ctx.deps;
  const after = afterUserId ? await findUser(db, afterUserId) : undefined;
  const user = await nextPending(db, after ? placeOf(after) : undefined);
  const total = await countPending(db);
  if (!user) {
    // Requests skipped (or arrived) before this place are still there: the review can start over.
    return { text: ctx.tr('review-end', { count: total }), keyboard: total ? new InlineKeyboard().text(ctx.tr('btn-review-again'), cb.reviewSkip.pack({ userId: 0 })) : undefined };
  }
  const place = placeOf(user);
  const text = ctx.tr('review-request', { ...userParams(user), pos: (await pendingBefore(db, place)) + 1, total, asked: formatTime(place.at, ctx.locale) });
  const userId = user.id;
  const keyboard = new InlineKeyboard()
    .text(ctx.tr('btn-approve'), cb.reviewApprove.pack({ userId }))
    .text(ctx.tr('btn-reject'), cb.reviewReject.pack({ userId }))
    .row()
    .text(ctx.tr('btn-skip'), cb.reviewSkip.pack({ userId }));
  return { text, keyboard };
}

/** From the overview's Pending button (edits that message) or a digest's Review (a message of its own: the digest keeps being refreshed). */
async function openReview(ctx: BotContext): Promise<void> {
  if ((await countPending(ctx.deps.db)) === 0) {
    await ctx.answerCallbackQuery({ text: ctx.tr('pending-none') });
    return;
  }
  await ctx.answerCallbackQuery();
  const { text, keyboard } = await reviewView(ctx, 0);
  if (cb.review.filter.test(ctx.callbackQuery?.data ?? '')) await ctx.api.sendMessage(ctx.from!.id, text, { ...HTML, reply_markup: keyboard });
  else await editCurrent(ctx, text, keyboard);
}

approvalsScreen.callbackQuery(cb.review.filter, openReview);
approvalsScreen.callbackQuery(cb.pending.filter, openReview);

for (const [codec, decide] of [
  [cb.reviewApprove, approveFromButton],
  [cb.reviewReject, rejectFromButton],
] as const) {
  approvalsScreen.callbackQuery(codec.filter, async (ctx) => {
    const data = codec.unpack(ctx.callbackQuery.data);
    if (!data) return ctx.answerCallbackQuery();
    // Decided elsewhere meanwhile: the press is answered so, and the review moves on all the same.
    await decide(ctx, data.userId);
    const { text, keyboard } = await reviewView(ctx, data.userId);
    await editCurrent(ctx, text, keyboard);
  });
}

approvalsScreen.callbackQuery(cb.reviewSkip.filter, async (ctx) => {
  const data = cb.reviewSkip.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (!data) return;
  const { text, keyboard } = await reviewView(ctx, data.userId);
  await editCurrent(ctx, text, keyboard);
});

approvalsScreen.callbackQuery(cb.approveAllAsk.filter, async (ctx) => {
  const data = cb.approveAllAsk.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (!data) return;
  const count = (await pendingUpTo(ctx.deps.db, data.upTo)).length;
  if (count === 0) return void (await ctx.api.sendMessage(ctx.from.id, ctx.tr('pending-none'), HTML));
  const keyboard = new InlineKeyboard().text(ctx.tr('btn-approve-all-yes', { count }), cb.approveAllYes.pack({ upTo: data.upTo })).text(ctx.tr('btn-cancel'), cb.approveAllNo.pack({}));
  // A message of its own: the digest the button is on keeps being refreshed.
  await ctx.api.sendMessage(ctx.from.id, ctx.tr('approve-all-confirm', { count }), { ...HTML, reply_markup: keyboard });
});

approvalsScreen.callbackQuery(cb.approveAllNo.filter, async (ctx) => {
  await ctx.answerCallbackQuery();
  await editCurrent(ctx, ctx.tr('approve-all-cancelled'));
});

// Every request up to the newest the admin saw, oldest first; newer ones wait for their own decision.
approvalsScreen.callbackQuery(cb.approveAllYes.filter, async (ctx) => {
  const data = cb.approveAllYes.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  await ctx.answerCallbackQuery({ text: ctx.tr('approve-all-started') });
  const { access, log } = ctx.deps;
  const by = actorOf(ctx);
  let approved = 0;
  let failed = 0;
  for (const userId of await pendingUpTo(ctx.deps.db, data.upTo)) {
    const r = await access.approve(userId, by);
    if (r.kind === 'ok') approved++;
    else if (r.kind === 'failed') {
      // The cause (the interface, the address pool) fails the rest too: stop and say so.
      failed++;
      break;
    }
  }
  log.info({ adminId: by.id, approved, failed }, 'approve all');
  const left = await countPending(ctx.deps.db);
  await editCurrent(ctx, ctx.tr(failed ? 'approve-all-failed' : 'approve-all-done', { approved, left }));
});
