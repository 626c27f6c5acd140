import { type Kysely, sql } from 'kysely';
import { isPostgres } from './infra/dialect.js';
import { dayOf } from './traffic-buckets.js';
import type { Database, ResetPlan, User } from './schema.js';

type Q = Kysely<Database>;

// The users' quota periods. Each user's usage_period holds the key of the period their usage
// counts in; the monitor's tick compares it with the key of now under the user's plan, in one
// statement for every user, and a differing key starts a new period from zero.

export const RESET_PLANS = ['none', 'day', 'week', 'month', 'rolling'] as const satisfies readonly ResetPlan[];

/** How periods are cut: QUOTA_RESET_DAY and DEFAULT_RESET_PLAN (for users without a plan of their own). */
export interface PeriodRules {
  resetDay: number;
  defaultPlan: ResetPlan;
}

export const DEFAULT_PERIOD_RULES: PeriodRules = { resetDay: 1, defaultPlan: 'month' };

const DAY = 86_400_000;
const ROLLING_MS = 30 * DAY;

/** First day (YYYY-MM-DD, UTC) of the monthly period that contains `now`, periods starting on `resetDay`. */
export function quotaPeriod(now: number, resetDay: number): string {
  const d = new Date(now);
  let y = d.getUTCFullYear();
  let m = d.getUTCMonth();
  if (d.getUTCDate() < resetDay) m -= 1;
  if (m < 0) {
    m = 11;
    y -= 1;
  }
  return `${y}-${String(m + 1).padStart(2, '0')}-${String(resetDay).padStart(2, '0')}`;
}

/** Midnight (UTC) of the Monday of the week that contains `now`. */
function weekStart(now: number): number {
  const day = Date.parse(dayOf(now));
  return day - ((new Date(day).getUTCDay() + 6) % 7) * DAY;
}

export function planOf(user: Pick<User, 'reset_plan'>, rules: PeriodRules): ResetPlan {
  return user.reset_plan ?? rules.defaultPlan;
}

/** When the user's current period ends (its successor starts); null: the usage never restarts. */
export function periodEnd(user: Pick<User, 'reset_plan' | 'period_anchor' | 'created_at'>, now: number, rules: PeriodRules): number | null {
  switch (planOf(user, rules)) {
    case 'none':
      return null;
    case 'day':
      return Date.parse(dayOf(now)) + DAY;
    case 'week':
      return weekStart(now) + 7 * DAY;
    case 'month': {
      const start = new Date(`${quotaPeriod(now, rules.resetDay)}T00:00:00Z`);
      return Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, rules.resetDay);
    }
    case 'rolling': {
      const anchor = user.period_anchor ?? user.created_at;
      return anchor + (Math.trunc(Math.max(0, now - anchor) / ROLLING_MS) + 1) * ROLLING_MS;
    }
  }
}

/** Each user's period key at `now`, as SQL over the users row (the same for all users of one plan but rolling). */
function periodKey(now: number, rules: PeriodRules) {
  // Integer steps on both databases (better-sqlite3 may bind `now` as a real).
  const rolling = sql`'r' || cast(cast((${now} - coalesce(period_anchor, created_at)) / ${ROLLING_MS} as integer) as text)`;
  return sql<string>`(case coalesce(reset_plan, ${rules.defaultPlan})
    when 'none' then 'none'
    when 'day' then ${`d${dayOf(now)}`}
    when 'week' then ${`w${dayOf(weekStart(now))}`}
    when 'rolling' then ${rolling}
    else ${quotaPeriod(now, rules.resetDay)} end)`;
}

/** A user whose period just ended, with what they used in it (for the summary). */
export interface EndedPeriod {
  id: number;
  usage_bytes: number;
  quota_bytes: number | null;
  topup_bytes: number;
}

/**
 * Every user whose period key changed starts a new period: usage, top-up and the quota warning
 * from zero; totals and history are untouched. Run in the tick's transaction. With `ended`, it
 * also returns the members (active, limited, expired) whose earlier period ended, read under a
 * lock on PostgreSQL so that two ticks at once do not both report the same roll.
 */
export async function rollUsagePeriods(db: Q, now: number, rules: PeriodRules, ended = false): Promise<EndedPeriod[]> {
  const key = periodKey(now, rules);
  let rows: EndedPeriod[] = [];
  if (ended) {
    const lock = isPostgres(db) ? sql` for update` : sql``;
    const r = await sql<EndedPeriod>`
      select id, usage_bytes, quota_bytes, topup_bytes from users
      where usage_period is not null and usage_period != ${key} and status in ('active', 'limited', 'expired')${lock}`.execute(db);
    rows = r.rows.map((u) => ({ id: Number(u.id), usage_bytes: Number(u.usage_bytes), quota_bytes: u.quota_bytes === null ? null : Number(u.quota_bytes), topup_bytes: Number(u.topup_bytes) }));
  }
  await sql`
    update users set usage_bytes = 0, warned_quota = 0, topup_bytes = 0, usage_period = ${key}
    where usage_period is null or usage_period != ${key}`.execute(db);
  return rows;
}

/**
 * The user's plan changes without restarting the usage: the period key becomes the new plan's
 * (a switch to rolling starts the 30-day periods now). False for an unknown user.
 */
export async function setResetPlan(db: Q, id: number, plan: ResetPlan | null, now: number, rules: PeriodRules): Promise<boolean> {
  const anchor = (plan ?? rules.defaultPlan) === 'rolling' ? now : null;
  const res = await db
    .updateTable('users')
    .set({ reset_plan: plan, period_anchor: anchor })
    .where('id', '=', id)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return false;
  await sql`update users set usage_period = ${periodKey(now, rules)} where id = ${id}`.execute(db);
  return true;
}

/**
 * Users whose validity starts at the first handshake and whose peers have one: it starts now
 * (at the latest handshake seen, which on the first tick after the connection is that one).
 * One statement, for the tick's transaction.
 */
export async function startPendingExpiries(db: Q): Promise<void> {
  const handshakes = sql`from peer_traffic join peers on peers.id = peer_traffic.peer_id where peers.user_id = users.id and peer_traffic.last_handshake_at is not null`;
  await sql`
    update users set expires_at = (select max(peer_traffic.last_handshake_at) ${handshakes}) + cast(expiry_days_pending as bigint) * ${DAY},
      expiry_days_pending = null, warned_expiry = 0
    where expiry_days_pending is not null and exists (select 1 ${handshakes})`.execute(db);
}
