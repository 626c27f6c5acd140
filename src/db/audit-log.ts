import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

type Q = Kysely<Database>;

export async function audit(db: Q, e: { actorId: number | null; action: string; userId: number | null; details?: unknown }, now: number): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({ at: now, actor_id: e.actorId, action: e.action, user_id: e.userId, details: e.details === undefined ? null : JSON.stringify(e.details) })
    .execute();
}
