import { Composer } from 'grammy';
import type { ResetPlan } from '../../../db/schema.js';
import { RESET_PLANS } from '../../../db/usage-periods.js';
import { changeResetPlan, topUp } from '../../../use-cases/limits.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { actorOf } from './decisions.js';
import { cardSubmenu, showCard } from './card.js';

/** A user's reset plan and this period's top-ups, from the card's Plan button. */
export const plansScreen = new Composer<BotContext>();

const TOP_UPS_GB = [1, 5, 10, 50];

cardSubmenu(plansScreen, cb.planMenu, 'plans-menu', (ctx, user, kb) => {
  const userId = user.id;
  const mark = (on: boolean, label: string) => (on ? `✓ ${label}` : label);
  for (const plan of RESET_PLANS) kb.text(mark(user.reset_plan === plan, ctx.tr(`plan-${plan}`)), cb.setPlan.pack({ userId, plan }));
  const fallback = ctx.tr(`plan-${ctx.deps.periods.defaultPlan}`);
  kb.row().text(mark(user.reset_plan === null, ctx.tr('btn-plan-default', { plan: fallback })), cb.setPlan.pack({ userId, plan: 'default' })).row();
  for (const gb of TOP_UPS_GB) kb.text(ctx.tr('btn-topup', { gb }), cb.topUp.pack({ userId, gb }));
});

plansScreen.callbackQuery(cb.setPlan.filter, async (ctx) => {
  const data = cb.setPlan.unpack(ctx.callbackQuery.data);
  const plan = data?.plan === 'default' ? null : (RESET_PLANS as readonly string[]).includes(data?.plan ?? '') ? (data!.plan as ResetPlan) : undefined;
  if (!data || plan === undefined) return ctx.answerCallbackQuery();
  if (!(await changeResetPlan(ctx.deps, data.userId, plan, ctx.deps.periods, actorOf(ctx), ctx.deps.now()))) return ctx.answerCallbackQuery({ text: ctx.tr('user-not-found') });
  await ctx.answerCallbackQuery({ text: ctx.tr('limits-saved') });
  await showCard(ctx, data.userId);
});

plansScreen.callbackQuery(cb.topUp.filter, async (ctx) => {
  const data = cb.topUp.unpack(ctx.callbackQuery.data);
  if (!data || !TOP_UPS_GB.includes(data.gb)) return ctx.answerCallbackQuery();
  if (!(await topUp(ctx.deps, data.userId, data.gb * 1024 ** 3, actorOf(ctx), ctx.deps.now()))) return ctx.answerCallbackQuery({ text: ctx.tr('user-not-found') });
  await ctx.answerCallbackQuery({ text: ctx.tr('topup-added', { gb: data.gb }) });
  await showCard(ctx, data.userId);
});
