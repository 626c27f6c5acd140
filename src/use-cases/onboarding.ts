import type { Db } from '../db/index.js';
import { consumeCaptcha } from '../db/captchas.js';
import { inTransaction } from '../db/infra/transaction.js';
import { hasHeldInvite } from '../db/invites.js';
import { claimMetaEvery } from '../db/meta.js';
import { enqueue } from '../db/outbox.js';
import { pendingAtLeast } from '../db/requests.js';
import { requestAccess } from '../db/users.js';
import { askAdmins, tellAdmins } from './notify.js';

const DAY_MS = 86_400_000;

export interface OnboardingDeps {
  db: Db;
  adminIds: readonly number[];
  /** MAX_PENDING: requests that may wait at once. */
  maxPending: number;
  now: () => number;
}

/** Filed (true), found to exist already (false: the user has a status other than revoked), or refused at MAX_PENDING. */
export type Asked = boolean | 'full';

/**
 * MAX_PENDING requests wait already: a newcomer is asked to come back later (unless a held invite
 * admits them at once), and the admins hear of it at most once a day.
 */
export async function queueFull(deps: OnboardingDeps, userId: number, db: Db = deps.db): Promise<boolean> {
  const { maxPending, now } = deps;
  if (!(await pendingAtLeast(db, maxPending)) || (await hasHeldInvite(db, userId))) return false;
  if (await claimMetaEvery(db, 'pending_full_told', now(), DAY_MS)) await enqueue(db, tellAdmins(deps.adminIds, 'alert-pending-full', { max: maxPending }), now());
  return true;
}

/** Files the request and queues it for the admins, together; `db` may be the caller's transaction. */
export async function fileRequest(deps: OnboardingDeps, from: Parameters<typeof requestAccess>[1], db: Db = deps.db): Promise<Asked> {
  // Not in the transaction below: on SQLite one that reads first cannot wait for another writer's lock.
  if (await queueFull(deps, from.id, db)) return 'full';
  return inTransaction(db, async (trx) => {
    if (!(await requestAccess(trx, from, deps.now()))) return false;
    // Even for a held invite: if admitting fails, the admins still have the request.
    await enqueue(trx, askAdmins(deps.adminIds, from.id), deps.now());
    return true;
  });
}

/** The CAPTCHA's right answer: only one of several taps (or a replay) consumes it, in the transaction that files the request; null for the others. */
export function fileRequestAfterCaptcha(deps: OnboardingDeps, from: Parameters<typeof requestAccess>[1], nonce: string): Promise<Asked | null> {
  return inTransaction(deps.db, async (trx) => ((await consumeCaptcha(trx, from.id, nonce)) ? fileRequest(deps, from, trx) : null));
}
