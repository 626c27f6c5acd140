import type { AccessService } from '../access.js';
import type { Db } from '../db/index.js';
import { enqueue } from '../db/outbox.js';
import type { User } from '../db/schema.js';
import { inTransaction } from '../db/infra/transaction.js';
import { setLimits, usersWithLimits } from '../db/users.js';
import { notice } from '../delivery.js';

const DAY = 86_400_000;

export interface QuotaDeps {
  db: Db;
  /** Limiting and lifting tell the user (and the admins) themselves. */
  access: AccessService;
}

export function withinLimits(u: Pick<User, 'quota_bytes' | 'usage_bytes' | 'expires_at'>, now: number): { quota: boolean; expiry: boolean } {
  return { quota: u.quota_bytes === null || u.usage_bytes < u.quota_bytes, expiry: u.expires_at === null || u.expires_at > now };
}

/**
 * Runs after each monitor tick (usage is already counted): warns at 80 % and 100 % of the
 * quota and 3 and 1 days before expiry, once each; limits users over their quota or past their
 * expiry (peers off the interface, keys kept); lifts the limit as soon as the user is within
 * limits again (new period, bigger quota, later expiry). Conditional updates make it idempotent,
 * and everything it needs is in the database, so a restart changes nothing.
 */
export async function enforceLimits(deps: QuotaDeps, now: number): Promise<void> {
  for (const u of await usersWithLimits(deps.db)) {
    const ok = withinLimits(u, now);
    if (u.status === 'active') {
      if (!ok.expiry || !ok.quota) {
        await deps.access.limit(u.id, ok.expiry ? 'limited' : 'expired');
        if (!ok.quota && u.warned_quota < 100) await setLimits(deps.db, u.id, { warned_quota: 100 });
        continue;
      }
      if (u.quota_bytes !== null && u.warned_quota < 80 && u.usage_bytes >= u.quota_bytes * 0.8) {
        await warn(deps.db, u.id, { warned_quota: 80 }, 'quota-warning', { percent: 80 }, now);
      }
      if (u.expires_at !== null) {
        const daysLeft = (u.expires_at - now) / DAY;
        const due = daysLeft <= 1 ? 1 : daysLeft <= 3 ? 3 : 0;
        if (due && (u.warned_expiry === 0 || due < u.warned_expiry)) await warn(deps.db, u.id, { warned_expiry: due }, `expiry-warning-${due}`, {}, now);
      }
    } else if (ok.quota && ok.expiry) {
      await deps.access.lift(u.id, null);
    }
  }
}

/** A warning and the mark that it was given, together: given once, never lost. */
function warn(db: Db, userId: number, mark: Parameters<typeof setLimits>[2], key: string, params: Record<string, number>, now: number): Promise<void> {
  return inTransaction(db, async (trx) => {
    await setLimits(trx, userId, mark);
    await enqueue(trx, [notice(userId, key, params)], now);
  });
}
