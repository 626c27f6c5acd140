import { audit } from '../db/audit-log.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/infra/transaction.js';
import { peersOfUser } from '../db/peers.js';
import { setUserSpeed, type StoredSpeed } from '../db/speeds.js';
import type { Fleet } from '../vpn/fleet.js';
import type { Actor } from './access.js';

export interface SpeedDeps {
  db: Db;
  fleet: Fleet;
}

/** The speeds an admin picks from: 'default' (DEFAULT_SPEED_MBIT), 'unlimited', or Mbit/s both ways. */
export type SpeedChoice = 'default' | 'unlimited' | number;

/** What a choice stores (see UsersTable: null = the default, 0 = unlimited, n = kbit/s). */
export function storedSpeedOf(choice: SpeedChoice): StoredSpeed {
  if (choice === 'default') return { speed_down_kbit: null, speed_up_kbit: null };
  if (choice === 'unlimited') return { speed_down_kbit: 0, speed_up_kbit: 0 };
  return { speed_down_kbit: choice * 1000, speed_up_kbit: choice * 1000 };
}

export type SpeedResult = { kind: 'applied' } | { kind: 'not-found' } | { kind: 'applied-later'; error: unknown };

/**
 * An admin sets a user's speed: stored and audited, then applied at once on every node the user has
 * active peers on. A node that fails keeps the old limit until its next monitor tick converges it to the database.
 */
export async function changeSpeed(deps: SpeedDeps, userId: number, choice: SpeedChoice, by: Actor, now: number): Promise<SpeedResult> {
  const stored = storedSpeedOf(choice);
  const found = await inTransaction(deps.db, async (trx) => {
    if (!(await setUserSpeed(trx, userId, stored))) return false;
    await audit(trx, { actorId: by.id, action: 'speed', userId, details: stored }, now);
    return true;
  });
  if (!found) return { kind: 'not-found' };
  const byNode = new Map<string, string[]>();
  for (const p of await peersOfUser(deps.db, userId)) if (p.status === 'active') byNode.set(p.node, [...(byNode.get(p.node) ?? []), p.ip]);
  const failures = await Promise.allSettled([...byNode].map(([node, ips]) => deps.fleet.node(node).reshapePeers(ips)));
  const failed = failures.find((r) => r.status === 'rejected');
  return failed ? { kind: 'applied-later', error: failed.reason } : { kind: 'applied' };
}
