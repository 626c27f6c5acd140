import type { AccessService } from '../access.js';
import type { Db } from '../db/index.js';
import type { User } from '../db/schema.js';
import { setLimits, usersWithLimits } from '../db/users.js';

const DAY = 86_400_000;

export interface QuotaDeps {
  db: Db;
  access: AccessService;
  /** A message to the user, and to every admin; keys are translation ids, params are escaped by the caller's translator. */
  notifyUser: (userId: number, key: string, params: Record<string, string | number>) => Promise<void>;
  notifyAdmins: (key: string, params: Record<string, string | number>) => Promise<void>;
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
    const name = [u.first_name, u.last_name].filter(Boolean).join(' ');
    if (u.status === 'active') {
      if (!ok.expiry || !ok.quota) {
        const to = ok.expiry ? 'limited' : 'expired';
        const r = await deps.access.limit(u.id, to);
        if (r.kind === 'ok' || r.kind === 'applied-later') {
          await deps.notifyUser(u.id, `you-are-${to}`, {});
          await deps.notifyAdmins(`admin-user-${to}`, { name, id: String(u.id) });
        }
        if (!ok.quota && u.warned_quota < 100) await setLimits(deps.db, u.id, { warned_quota: 100 });
        continue;
      }
      if (u.quota_bytes !== null && u.warned_quota < 80 && u.usage_bytes >= u.quota_bytes * 0.8) {
        await setLimits(deps.db, u.id, { warned_quota: 80 });
        await deps.notifyUser(u.id, 'quota-warning', { percent: 80 });
      }
      if (u.expires_at !== null) {
        const daysLeft = (u.expires_at - now) / DAY;
        const due = daysLeft <= 1 ? 1 : daysLeft <= 3 ? 3 : 0;
        if (due && (u.warned_expiry === 0 || due < u.warned_expiry)) {
          await setLimits(deps.db, u.id, { warned_expiry: due });
          await deps.notifyUser(u.id, `expiry-warning-${due}`, {});
        }
      }
    } else if (ok.quota && ok.expiry) {
      const r = await deps.access.lift(u.id, null);
      if (r.kind === 'ok' || r.kind === 'applied-later') await deps.notifyUser(u.id, 'limit-lifted', {});
    }
  }
}
