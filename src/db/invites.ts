import { createHash, randomBytes } from 'node:crypto';
import type { ExpressionBuilder, Kysely } from 'kysely';
import { audit } from './audit-log.js';
import type { Database, Invite } from './schema.js';

type Q = Kysely<Database>;

/** 16 random bytes: 128 bits, 22 base64url characters (Telegram's start payload allows A-Za-z0-9_-, up to 64). */
const CODE_BYTES = 16;
export const INVITE_CODE_RE = /^[A-Za-z0-9_-]{22}$/;

/**
 * What the database keeps instead of the code. No salt or slow hash is needed: a code has
 * 128 random bits, so it cannot be found from its hash by trying candidates.
 */
export function hashInviteCode(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

export interface NewInvite {
  createdBy: number;
  creatorName: string;
  /** null: unlimited. */
  maxUses: number | null;
  expiresAt: number | null;
  note: string | null;
}

/** Stores a new invite; the plain code is returned here, once, and never stored. */
export async function createInvite(db: Q, n: NewInvite, now: number): Promise<{ invite: Invite; code: string }> {
  const code = randomBytes(CODE_BYTES).toString('base64url');
  for (let attempt = 0; ; attempt++) {
    // 48 bits: short enough to read out, and a clash (retried) is practically impossible.
    const id = randomBytes(6).toString('base64url');
    try {
      const invite = await db
        .insertInto('invites')
        .values({
          id,
          code_hash: hashInviteCode(code),
          created_by: n.createdBy,
          creator_name: n.creatorName.slice(0, 64),
          created_at: now,
          max_uses: n.maxUses,
          expires_at: n.expiresAt,
          revoked_at: null,
          note: n.note,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await audit(db, { actorId: n.createdBy, action: 'invite_create', userId: null, details: { invite: id, maxUses: n.maxUses, expiresAt: n.expiresAt } }, now);
      return { invite, code };
    } catch (e) {
      if (attempt >= 3 || !/unique/i.test(String(e))) throw e;
    }
  }
}

export function findInvite(db: Q, id: string): Promise<Invite | undefined> {
  return db.selectFrom('invites').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findInviteByCode(db: Q, code: string): Promise<Invite | undefined> {
  return db.selectFrom('invites').selectAll().where('code_hash', '=', hashInviteCode(code)).executeTakeFirst();
}

/**
 * Usable now: not revoked, not expired, not used up, and made by someone who is still an admin
 * (an admin removed from ADMIN_IDS must not keep admitting people through old links).
 */
function usable(now: number, adminIds: readonly number[]) {
  return (eb: ExpressionBuilder<Database, 'invites'>) =>
    eb.and([
      eb('invites.revoked_at', 'is', null),
      eb.or([eb('invites.expires_at', 'is', null), eb('invites.expires_at', '>', now)]),
      eb.or([eb('invites.max_uses', 'is', null), eb('invites.uses', '<', eb.ref('invites.max_uses'))]),
      adminIds.length ? eb('invites.created_by', 'in', adminIds) : eb.lit(false),
    ]);
}

/** Why an invite cannot be used now (for the log; the user gets one message for all), or null if it can. */
export function inviteProblem(i: Invite, now: number, adminIds: readonly number[]): 'revoked' | 'expired' | 'used-up' | 'creator-not-admin' | null {
  if (i.revoked_at !== null) return 'revoked';
  if (i.expires_at !== null && i.expires_at <= now) return 'expired';
  if (i.max_uses !== null && i.uses >= i.max_uses) return 'used-up';
  if (!adminIds.includes(i.created_by)) return 'creator-not-admin';
  return null;
}

// ---------------------------------------------------------------- held invites (across the CAPTCHA)

export async function holdInvite(db: Q, userId: number, inviteId: string, now: number): Promise<void> {
  await db
    .insertInto('pending_invites')
    .values({ user_id: userId, invite_id: inviteId, created_at: now })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ invite_id: inviteId, created_at: now }))
    .execute();
}

export async function hasHeldInvite(db: Q, userId: number): Promise<boolean> {
  return (await db.selectFrom('pending_invites').select('user_id').where('user_id', '=', userId).executeTakeFirst()) !== undefined;
}

export type Redeemed = { kind: 'none' } | { kind: 'invalid'; inviteId: string } | { kind: 'ok'; invite: Invite };

/**
 * Takes the user's held invite and consumes one use of it, in one transaction: the use and the
 * record of who joined are committed together. The use is taken by one conditional update, so
 * when many race for the last use exactly one wins. A hold older than `heldSince` counts as
 * no longer valid (it only has to outlive a CAPTCHA).
 */
export async function redeemHeldInvite(db: Q, userId: number, heldSince: number, now: number, adminIds: readonly number[]): Promise<Redeemed> {
  return db.transaction().execute(async (trx) => {
    const held = await trx.deleteFrom('pending_invites').where('user_id', '=', userId).returning(['invite_id', 'created_at']).executeTakeFirst();
    if (!held) return { kind: 'none' };
    if (held.created_at < heldSince) return { kind: 'invalid', inviteId: held.invite_id };
    const invite = await trx
      .updateTable('invites')
      .set((eb) => ({ uses: eb('uses', '+', 1) }))
      .where('id', '=', held.invite_id)
      .where(usable(now, adminIds))
      .returningAll()
      .executeTakeFirst();
    if (!invite) return { kind: 'invalid', inviteId: held.invite_id };
    await trx.insertInto('invite_uses').values({ invite_id: invite.id, user_id: userId, used_at: now }).execute();
    await audit(trx, { actorId: invite.created_by, action: 'invite_join', userId, details: { invite: invite.id } }, now);
    return { kind: 'ok', invite };
  });
}

// ---------------------------------------------------------------- listing and revoking

export async function listUsableInvites(db: Q, now: number, adminIds: readonly number[], offset: number, limit: number): Promise<{ rows: Invite[]; total: number }> {
  const rows = await db
    .selectFrom('invites')
    .selectAll()
    .where(usable(now, adminIds))
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .offset(offset)
    .limit(limit)
    .execute();
  const { n } = await db
    .selectFrom('invites')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(usable(now, adminIds))
    .executeTakeFirstOrThrow();
  return { rows, total: Number(n) };
}

/** True for exactly one of several concurrent revokes of a not yet revoked invite. */
export async function revokeInvite(db: Q, id: string, adminId: number, now: number): Promise<boolean> {
  const res = await db.updateTable('invites').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  const revoked = Number(res.numUpdatedRows) === 1;
  if (revoked) await audit(db, { actorId: adminId, action: 'invite_revoke', userId: null, details: { invite: id } }, now);
  return revoked;
}

export function inviteUses(db: Q, inviteId: string) {
  return db.selectFrom('invite_uses').selectAll().where('invite_id', '=', inviteId).orderBy('used_at').execute();
}

// ---------------------------------------------------------------- drafts (an admin's /invite in progress)

export async function putDraft(db: Q, adminId: number, nonce: string, note: string | null, now: number): Promise<void> {
  await db
    .insertInto('invite_drafts')
    .values({ admin_id: adminId, nonce, note, created_at: now })
    .onConflict((oc) => oc.column('admin_id').doUpdateSet({ nonce, note, created_at: now }))
    .execute();
}

export async function hasDraft(db: Q, adminId: number, nonce: string): Promise<boolean> {
  const row = await db.selectFrom('invite_drafts').select('admin_id').where('admin_id', '=', adminId).where('nonce', '=', nonce).executeTakeFirst();
  return row !== undefined;
}

/** Deletes the draft if it is still the given one; returns it to exactly one caller. */
export function takeDraft(db: Q, adminId: number, nonce: string): Promise<{ note: string | null } | undefined> {
  return db.deleteFrom('invite_drafts').where('admin_id', '=', adminId).where('nonce', '=', nonce).returning('note').executeTakeFirst();
}
