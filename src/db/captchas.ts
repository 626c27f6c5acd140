import type { Kysely } from 'kysely';
import { compiledOnce } from './infra/compiled.js';
import type { Captcha, Database } from './schema.js';

type Q = Kysely<Database>;

export function getCaptcha(db: Q, userId: number): Promise<Captcha | undefined> {
  return db.selectFrom('captchas').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

export async function putCaptcha(db: Q, c: Captcha): Promise<void> {
  await db
    .insertInto('captchas')
    .values(c)
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ nonce: c.nonce, answer: c.answer, attempts: c.attempts, expires_at: c.expires_at, cooldown_until: c.cooldown_until }))
    .execute();
}

/**
 * A newcomer's question at /start: stored unless they are cooling down after too many wrong
 * answers (then nothing changes and null is returned). The wrong answers so far still count (a
 * /start is not a way to more tries) until a cooldown has passed. One statement: the checks are its
 * conditions. Returns the wrong answers that count.
 */
export async function startCaptcha(db: Q, c: Omit<Captcha, 'cooldown_until' | 'attempts'>, now: number): Promise<number | null> {
  const rows = await startCaptchaQuery(db, c.user_id, c.nonce, c.answer, c.expires_at, now);
  return rows[0] ? Number(rows[0].attempts) : null;
}

// Every newcomer's /start runs it: compiled once.
const startCaptchaQuery = compiledOnce((db, userId: number, nonce: string, answer: number, expiresAt: number, now: number) =>
  db
    .insertInto('captchas')
    .values({ user_id: userId, nonce, answer, attempts: 0, expires_at: expiresAt, cooldown_until: null })
    .onConflict((oc) =>
      oc
        .column('user_id')
        .doUpdateSet((eb) => ({
          nonce,
          answer,
          expires_at: expiresAt,
          cooldown_until: null,
          attempts: eb.case().when('captchas.cooldown_until', 'is', null).then(eb.ref('captchas.attempts')).else(0).end(),
        }))
        .where((eb) => eb.or([eb('captchas.cooldown_until', 'is', null), eb('captchas.cooldown_until', '<=', now)])),
    )
    .returning('attempts'),
);

/** Counts a wrong answer only if the challenge is still the one answered (nonce), atomically. */
export async function recordCaptchaFailure(db: Q, userId: number, nonce: string): Promise<Captcha | undefined> {
  return db
    .updateTable('captchas')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('user_id', '=', userId)
    .where('nonce', '=', nonce)
    .returningAll()
    .executeTakeFirst();
}

export async function updateCaptcha(db: Q, userId: number, values: Partial<Omit<Captcha, 'user_id'>>): Promise<void> {
  await db.updateTable('captchas').set(values).where('user_id', '=', userId).execute();
}

/** Deletes the challenge if it is still the given one; true for exactly one caller. */
export async function consumeCaptcha(db: Q, userId: number, nonce: string): Promise<boolean> {
  const res = await db.deleteFrom('captchas').where('user_id', '=', userId).where('nonce', '=', nonce).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}
