import { type Kysely, sql } from 'kysely';

// peers.nudged_at: when the user was reminded that this device never connected (once per peer).
// The partial index keeps the monitor's look for due reminders to the peers not reminded yet.
// Never imported by app code.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('peers').addColumn('nudged_at', 'bigint').execute();
  await db.schema.createIndex('peers_not_nudged').on('peers').column('delivered_at').where(sql.ref('nudged_at'), 'is', null).execute();
}
