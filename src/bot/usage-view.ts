import type { User } from '../db/schema.js';
import { dailyTrafficOfUser } from '../db/stats.js';
import { dayOf } from '../db/traffic-buckets.js';
import { periodEnd, planOf } from '../db/usage-periods.js';
import { usageNow } from '../db/users.js';
import { allowanceOf } from '../use-cases/limits.js';
import type { BotContext } from './context.js';
import { formatBytes, formatTime, fullName } from './format.js';
import { renderTrafficChart } from './traffic-chart.js';

// A user's usage as the admin's card and the user's own /usage show it: one home for both.

const CHART_DAYS = 30;

/** The user's last 30 days as a PNG: download and upload per day, from the user's side. */
export async function usageChartPng(ctx: BotContext, user: User): Promise<Buffer> {
  const today = Date.parse(dayOf(ctx.deps.now()));
  const days = Array.from({ length: CHART_DAYS }, (_, i) => dayOf(today - (CHART_DAYS - 1 - i) * 86_400_000));
  const stored = new Map((await dailyTrafficOfUser(ctx.deps.db, user.id, days[0]!)).map((r) => [r.day, r]));
  return renderTrafficChart(
    days.map((day) => ({ day, upload: stored.get(day)?.rx ?? 0, download: stored.get(day)?.tx ?? 0 })),
    { title: ctx.deps.translator.tRaw(ctx.locale, 'chart-title', { name: fullName(user), days: String(CHART_DAYS) }), upload: ctx.tr('chart-upload'), download: ctx.tr('chart-download'), noData: ctx.tr('chart-no-data') },
  );
}

/** This period's numbers as translation parameters: used, allowed, the plan, when the period ends, the expiry. */
export async function usageParams(ctx: BotContext, user: User): Promise<Record<string, string>> {
  const rules = ctx.deps.periods;
  const allowed = allowanceOf(user);
  const end = periodEnd(user, ctx.deps.now(), rules);
  return {
    used: formatBytes(await usageNow(ctx.deps.db, user), ctx.locale),
    quota: allowed === null ? ctx.tr('unlimited') : formatBytes(allowed, ctx.locale),
    topup: user.topup_bytes > 0 ? ctx.tr('usage-topup', { topup: formatBytes(user.topup_bytes, ctx.locale) }) : '',
    plan: ctx.tr(`plan-${planOf(user, rules)}`),
    end: end === null ? ctx.tr('period-never-ends') : formatTime(end, ctx.locale),
    expires:
      user.expiry_days_pending !== null
        ? ctx.tr('expiry-at-first-connection', { days: user.expiry_days_pending })
        : user.expires_at === null
          ? ctx.tr('no-expiry')
          : formatTime(user.expires_at, ctx.locale),
  };
}
