import { type Kysely, sql } from 'kysely';

// Per user: when the usage restarts (reset_plan; null: DEFAULT_RESET_PLAN), where rolling 30-day
// periods count from (period_anchor), this period's top-up, and an expiry that starts at the
// first handshake (expiry_days_pending). Never imported by app code.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('reset_plan', 'text').execute();
  await db.schema.alterTable('users').addColumn('period_anchor', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('topup_bytes', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('users').addColumn('expiry_days_pending', 'integer').execute();
  // The monitor looks for these every tick; they are few.
  await db.schema.createIndex('users_expiry_pending').on('users').column('id').where(sql.ref('expiry_days_pending'), 'is not', null).execute();
}
