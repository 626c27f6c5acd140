import { Composer } from 'grammy';
import { changeDeviceLimit, changeLimits, extendExpiry } from '../../../use-cases/limits.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { actorOf } from './decisions.js';
import { cardSubmenu, showCard } from './card.js';

/** A user's quota, expiry, usage and device limit, from the card's Limits button. */
export const limitsScreen = new Composer<BotContext>();

const QUOTA_CHOICES_GB = [10, 50, 100, 500];

cardSubmenu(limitsScreen, cb.quotaMenu, 'limits-menu', (ctx, { id: userId }, kb) => {
  for (const gb of QUOTA_CHOICES_GB) kb.text(`${gb} GiB`, cb.setQuota.pack({ userId, gb }));
  kb.text('∞', cb.setQuota.pack({ userId, gb: 0 })).row();
  for (const days of [30, 90, 365]) kb.text(ctx.tr('btn-extend', { days }), cb.extend.pack({ userId, days }));
  kb.text(ctx.tr('btn-no-expiry'), cb.extend.pack({ userId, days: 0 })).row();
  for (const days of [30, 90, 365]) kb.text(ctx.tr('btn-extend-from-connection', { days }), cb.extendFromConnection.pack({ userId, days }));
  kb.row();
  kb.text(ctx.tr('btn-reset-usage'), cb.resetUsage.pack({ userId })).row();
  for (const n of [1, 3, 5, 10]) kb.text(ctx.tr('btn-max-devices', { n }), cb.maxDevices.pack({ userId, n }));
  kb.text(ctx.tr('btn-max-devices-default'), cb.maxDevices.pack({ userId, n: 0 }));
});

limitsScreen.callbackQuery(cb.setQuota.filter, async (ctx) => {
  const data = cb.setQuota.unpack(ctx.callbackQuery.data);
  if (!data || data.gb < 0 || data.gb > 100_000) return ctx.answerCallbackQuery();
  await changeLimits(ctx.deps, data.userId, { quota_bytes: data.gb ? data.gb * 1024 ** 3 : null, warned_quota: 0 }, actorOf(ctx), ctx.deps.now());
  await limitsSaved(ctx, data.userId);
});

// From now (or the current expiry), or days that start at the user's first connection.
for (const [codec, from] of [
  [cb.extend, 'now'],
  [cb.extendFromConnection, 'first_handshake'],
] as const) {
  limitsScreen.callbackQuery(codec.filter, async (ctx) => {
    const data = codec.unpack(ctx.callbackQuery.data);
    if (!data || data.days < 0 || data.days > 36_500) return ctx.answerCallbackQuery();
    if (!(await extendExpiry(ctx.deps, data.userId, data.days, actorOf(ctx), ctx.deps.now(), from))) return ctx.answerCallbackQuery({ text: ctx.tr('user-not-found') });
    await limitsSaved(ctx, data.userId);
  });
}

limitsScreen.callbackQuery(cb.resetUsage.filter, async (ctx) => {
  const data = cb.resetUsage.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  await changeLimits(ctx.deps, data.userId, { usage_bytes: 0, warned_quota: 0 }, actorOf(ctx), ctx.deps.now());
  await limitsSaved(ctx, data.userId);
});

limitsScreen.callbackQuery(cb.maxDevices.filter, async (ctx) => {
  const data = cb.maxDevices.unpack(ctx.callbackQuery.data);
  if (!data || data.n < 0 || data.n > 100) return ctx.answerCallbackQuery();
  await changeDeviceLimit(ctx.deps.db, data.userId, data.n || null, actorOf(ctx), ctx.deps.now());
  await limitsSaved(ctx, data.userId);
});

limitsScreen.callbackQuery(cb.liftLimits.filter, async (ctx) => {
  const data = cb.liftLimits.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  await changeLimits(ctx.deps, data.userId, { quota_bytes: null, expires_at: null, warned_quota: 0, warned_expiry: 0 }, actorOf(ctx), ctx.deps.now());
  await limitsSaved(ctx, data.userId);
});

async function limitsSaved(ctx: BotContext, userId: number): Promise<void> {
  await ctx.answerCallbackQuery({ text: ctx.tr('limits-saved') });
  await showCard(ctx, userId);
}

