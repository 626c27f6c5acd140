import type { Db } from '../db/index.js';
import { inTransaction } from '../db/infra/transaction.js';
import { claimMetaSince } from '../db/meta.js';
import { enqueue, type Outgoing } from '../db/outbox.js';
import { markNeverConnectedNudged } from '../db/peers.js';
import { noteExpiryReminded, noteQuotaReminded, usersForExpiryReminder, usersForQuotaReminder } from '../db/users.js';
import { allowanceOf } from './limits.js';
import { tellUser } from './notify.js';

const DAY = 86_400_000;
const WEEK = 7 * DAY;

/** What REMINDERS can switch off, each on its own. */
export const REMINDER_KINDS = ['quota', 'expiry', 'never-connected', 'weekly-digest'] as const;
export type ReminderKind = (typeof REMINDER_KINDS)[number];

/** Quota reminders, in percent of the allowance; 100 % is the limit itself (enforceLimits). */
export const QUOTA_STEPS = [50, 80, 95] as const;
/** A device whose config reached Telegram this long ago without a handshake gets its reminder… */
export const NEVER_CONNECTED_AFTER_MS = DAY;
/** …unless it is older than this: devices from before an upgrade (or a long outage) are not all nudged at once. */
const NEVER_CONNECTED_WITHIN_MS = 7 * DAY;
/** The weekly digest is due from Monday 09:00 UTC. */
const DIGEST_WEEKDAY = 1;
const DIGEST_HOUR = 9;
const DIGEST_SENT = 'weekly_digest_sent_at';

export interface ReminderDeps {
  db: Db;
  adminIds: readonly number[];
  enabled: ReadonlySet<ReminderKind>;
}

/**
 * Runs after each monitor tick, after enforceLimits: the quota and expiry reminders, the
 * never-connected nudge and the admins' weekly digest, each as switched on. One query per kind
 * finds what is due; each reminder is queued in the transaction of the conditional update that
 * marks it, so it goes once, whatever restarts or replicas do.
 */
export async function sendReminders(deps: ReminderDeps, now: number): Promise<void> {
  if (deps.enabled.has('quota')) await remindQuota(deps.db, now);
  if (deps.enabled.has('expiry')) await remindExpiry(deps.db, now);
  if (deps.enabled.has('never-connected')) await nudgeNeverConnected(deps.db, now);
  if (deps.enabled.has('weekly-digest')) await sendWeeklyDigest(deps, now);
}

/** The highest quota step reached and not reminded yet (0: none): crossing several in one tick tells only the last. */
export function quotaReminderDue(usage: number, allowance: number, warned: number): number {
  const reached = QUOTA_STEPS.filter((p) => usage * 100 >= allowance * p).at(-1) ?? 0;
  return reached > warned ? reached : 0;
}

async function remindQuota(db: Db, now: number): Promise<void> {
  for (const u of await usersForQuotaReminder(db, QUOTA_STEPS.at(-1)!)) {
    const due = quotaReminderDue(u.usage_bytes, allowanceOf(u)!, u.warned_quota);
    if (due) await once(db, (trx) => noteQuotaReminded(trx, u.id, due), [tellUser(u.id, 'quota-warning', { percent: due })], now);
  }
}

async function remindExpiry(db: Db, now: number): Promise<void> {
  for (const u of await usersForExpiryReminder(db, now, now + 3 * DAY)) {
    const due = u.expires_at! - now <= DAY ? 1 : 3;
    if (u.warned_expiry === 0 || due < u.warned_expiry) await once(db, (trx) => noteExpiryReminded(trx, u.id, due), [tellUser(u.id, `expiry-warning-${due}`)], now);
  }
}

function nudgeNeverConnected(db: Db, now: number): Promise<void> {
  return inTransaction(db, async (trx) => {
    const peers = await markNeverConnectedNudged(trx, { after: now - NEVER_CONNECTED_WITHIN_MS, before: now - NEVER_CONNECTED_AFTER_MS }, now);
    await enqueue(trx, peers.map((p) => ({ chatId: p.user_id, intent: { kind: 'never-connected', peerId: p.id } })), now);
  });
}

/** Monday 09:00 UTC of the week `now` is in (the previous week's before that hour). */
export function digestSlot(now: number): number {
  const d = new Date(now);
  const monday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() - DIGEST_WEEKDAY + 7) % 7), DIGEST_HOUR);
  return monday > now ? monday - WEEK : monday;
}

/** Once per slot: the first tick after Monday 09:00 UTC (or the first start, if later in the week) claims it. */
function sendWeeklyDigest(deps: ReminderDeps, now: number): Promise<void> {
  const items = deps.adminIds.map((chatId): Outgoing => ({ chatId, intent: { kind: 'weekly-digest', since: now - WEEK, until: now } }));
  return once(deps.db, (trx) => claimMetaSince(trx, DIGEST_SENT, now, digestSlot(now)), items, now);
}

/** Queues `items` if `mark` wins, in its transaction. */
function once(db: Db, mark: (trx: Db) => Promise<boolean>, items: Outgoing[], now: number): Promise<void> {
  return inTransaction(db, async (trx) => {
    if (await mark(trx)) await enqueue(trx, items, now);
  });
}
