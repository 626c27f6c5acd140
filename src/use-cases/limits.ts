import { audit } from '../db/audit-log.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/infra/transaction.js';
import type { ResetPlan, User } from '../db/schema.js';
import { type PeriodRules, setResetPlan } from '../db/usage-periods.js';
import { addTopUp, findUser, setLimits, setMaxDevices, usageNow, usersWithLimits } from '../db/users.js';
import type { AccessService, Actor } from './access.js';

const DAY = 86_400_000;

export interface LimitsDeps {
  db: Db;
  /** Limiting and lifting tell the user (and the admins) themselves. */
  access: AccessService;
}

/** This period's allowance: the quota and the period's top-up; null: unlimited. */
export function allowanceOf(u: Pick<User, 'quota_bytes' | 'topup_bytes'>): number | null {
  return u.quota_bytes === null ? null : u.quota_bytes + u.topup_bytes;
}

export function withinLimits(u: Pick<User, 'quota_bytes' | 'topup_bytes' | 'usage_bytes' | 'expires_at'>, now: number): { quota: boolean; expiry: boolean } {
  const allowed = allowanceOf(u);
  return { quota: allowed === null || u.usage_bytes < allowed, expiry: u.expires_at === null || u.expires_at > now };
}

/**
 * Runs after each monitor tick (usage is already counted): limits users over their quota or past
 * their expiry (peers off the interface, keys kept); lifts the limit as soon as the user is within
 * limits again (new period, bigger quota, later expiry). The reminders before the limit are
 * reminders.ts's. Conditional updates make it idempotent, and everything it needs is in the
 * database, so a restart changes nothing.
 */
export async function enforceLimits(deps: LimitsDeps, now: number): Promise<void> {
  for (const u of await usersWithLimits(deps.db)) {
    const ok = withinLimits(u, now);
    if (u.status === 'active') {
      if (!ok.expiry || !ok.quota) {
        await deps.access.limit(u.id, ok.expiry ? 'limited' : 'expired');
        // No quota reminder after the limit itself, this period.
        if (!ok.quota && u.warned_quota < 100) await setLimits(deps.db, u.id, { warned_quota: 100 });
      }
    } else if (ok.quota && ok.expiry) {
      await deps.access.lift(u.id, null);
    }
  }
}

/**
 * An admin changes a user's quota, expiry or usage: stored and audited; a limited user now within
 * limits gets their peers back at once (going over is left to the next tick, which tells the user).
 */
export async function changeLimits(deps: LimitsDeps, userId: number, values: Parameters<typeof setLimits>[2], by: Actor, now: number): Promise<void> {
  await inTransaction(deps.db, async (trx) => {
    await setLimits(trx, userId, values);
    await audit(trx, { actorId: by.id, action: 'limits', userId, details: values }, now);
  });
  await liftIfWithin(deps, userId, by, now);
}

/** A limited user now within limits gets their peers back at once. */
async function liftIfWithin(deps: LimitsDeps, userId: number, by: Actor, now: number): Promise<void> {
  const user = await findUser(deps.db, userId);
  if (user && (user.status === 'limited' || user.status === 'expired')) {
    const ok = withinLimits({ ...user, usage_bytes: await usageNow(deps.db, user) }, now);
    if (ok.quota && ok.expiry) await deps.access.lift(userId, by.id);
  }
}

/**
 * The expiry pushed `days` further from the later of now and the current one; 0 = no expiry.
 * from 'first_handshake': `days` of validity that start at the user's next connection (the
 * monitor sets the date). False for an unknown user.
 */
export async function extendExpiry(deps: LimitsDeps, userId: number, days: number, by: Actor, now: number, from: 'now' | 'first_handshake' = 'now'): Promise<boolean> {
  const user = await findUser(deps.db, userId);
  if (!user) return false;
  if (from === 'first_handshake' && days > 0) {
    await changeLimits(deps, userId, { expires_at: null, expiry_days_pending: days, warned_expiry: 0 }, by, now);
    return true;
  }
  const base = Math.max(now, user.expires_at ?? 0);
  await changeLimits(deps, userId, { expires_at: days ? base + days * DAY : null, expiry_days_pending: null, warned_expiry: 0 }, by, now);
  return true;
}

/** + `bytes` to this period's allowance (gone when the period rolls); a user limited by the quota may be back at once. False for an unknown user. */
export async function topUp(deps: LimitsDeps, userId: number, bytes: number, by: Actor, now: number): Promise<boolean> {
  const added = await inTransaction(deps.db, async (trx) => {
    if (!(await addTopUp(trx, userId, bytes))) return false;
    await audit(trx, { actorId: by.id, action: 'topup', userId, details: { bytes } }, now);
    return true;
  });
  if (added) await liftIfWithin(deps, userId, by, now);
  return added;
}

/** The user's reset plan (null: DEFAULT_RESET_PLAN); the usage so far stays in the new plan's period. False for an unknown user. */
export async function changeResetPlan(deps: LimitsDeps, userId: number, plan: ResetPlan | null, rules: PeriodRules, by: Actor, now: number): Promise<boolean> {
  return inTransaction(deps.db, async (trx) => {
    if (!(await setResetPlan(trx, userId, plan, now, rules))) return false;
    await audit(trx, { actorId: by.id, action: 'reset_plan', userId, details: { plan } }, now);
    return true;
  });
}

/** The user's own device limit (null: back to MAX_DEVICES_PER_USER). Lowering it keeps existing devices; it only stops new ones. */
export async function changeDeviceLimit(db: Db, userId: number, max: number | null, by: Actor, now: number): Promise<void> {
  await inTransaction(db, async (trx) => {
    await setMaxDevices(trx, userId, max);
    await audit(trx, { actorId: by.id, action: 'max_devices', userId, details: { n: max } }, now);
  });
}
