import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { pendingBytesOf } from './peer-traffic.js';
import type { BroadcastAudience } from './schema-messaging.js';
import type { Database, UserStatus } from './schema.js';

type Q = Kysely<Database>;

const DAY_MS = 86_400_000;

/** A broadcast's audience and its argument (days, a node's name, a locale; null for active, all, pending). */
export interface AudienceChoice {
  audience: BroadcastAudience;
  arg: string | null;
}

/** What an audience is measured against: the time, and the language of users who have none stored. */
export interface AudienceEnv {
  now: number;
  defaultLocale: string;
}

// A positive list of statuses, so a status added later is not messaged by accident. The audiences
// with an argument narrow the active users (only they use the VPN now); the quota's also reaches
// those already paused by it.
const STATUSES: Record<BroadcastAudience, UserStatus[]> = {
  active: ['active'],
  pending: ['pending'],
  all: ['pending', 'provisioning', 'active', 'disabled', 'limited', 'expired', 'revoked'],
  inactive: ['active'],
  quota: ['active', 'limited'],
  expiring: ['active'],
  node: ['active'],
  language: ['active'],
};

function days(arg: string | null): number {
  const n = Number(arg);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`broadcast audience: bad number of days ${String(arg)}`);
  return n;
}

function required(arg: string | null, audience: BroadcastAudience): string {
  if (arg === null) throw new Error(`broadcast audience ${audience} needs an argument`);
  return arg;
}

/**
 * The ids of the users a broadcast to this audience reaches now, without those who blocked the
 * bot. The one definition of an audience: the confirmation counts it and Send snapshots it into
 * the deliveries, so the count shown is the number of deliveries made.
 */
export function audienceUsers(db: Q, { audience, arg }: AudienceChoice, env: AudienceEnv) {
  const base = db.selectFrom('users').select('users.id').where('users.status', 'in', STATUSES[audience]).where('users.blocked_at', 'is', null);
  switch (audience) {
    case 'active':
    case 'all':
    case 'pending':
      return base;
    case 'inactive': {
      // No handshake on any device in the last N days; a user who never connected (or has no device) is inactive too.
      const since = env.now - days(arg) * DAY_MS;
      return base.where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('peers')
              .innerJoin('peer_traffic', 'peer_traffic.peer_id', 'peers.id')
              .select('peers.id')
              .whereRef('peers.user_id', '=', 'users.id')
              .where('peer_traffic.last_handshake_at', '>', since),
          ),
        ),
      );
    }
    case 'quota':
      // Usage as usageNow counts it (with the traffic not in usage_bytes yet), at least 80 % of this period's allowance (quota and top-up); whole numbers only.
      return base
        .where('users.quota_bytes', 'is not', null)
        .where(sql<boolean>`(users.usage_bytes + (${pendingBytesOf(db, sql.ref<number>('users.id'))})) * 5 >= (users.quota_bytes + users.topup_bytes) * 4`);
    case 'expiring':
      return base.where('users.expires_at', '>', env.now).where('users.expires_at', '<=', env.now + days(arg) * DAY_MS);
    case 'node': {
      const node = required(arg, audience);
      return base.where(({ exists, selectFrom }) =>
        exists(selectFrom('peers').select('peers.id').whereRef('peers.user_id', '=', 'users.id').where('peers.node', '=', node)),
      );
    }
    case 'language': {
      // A user without a stored language is spoken to in the default one.
      const locale = required(arg, audience);
      return base.where((eb) =>
        eb(eb.fn.coalesce(eb.selectFrom('chat_locales').select('chat_locales.locale').whereRef('chat_locales.chat_id', '=', 'users.id'), eb.val(env.defaultLocale)), '=', locale),
      );
    }
  }
}

/** How many users the audience reaches now (what Send would queue). */
export async function countAudience(db: Q, choice: AudienceChoice, env: AudienceEnv): Promise<number> {
  const { n } = await db
    .selectFrom(audienceUsers(db, choice, env).as('a'))
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(n);
}
