import type { Kysely } from 'kysely';

// Traffic of the current hour, per peer, not yet in the hour and day buckets or the user's usage.
// Every monitor tick adds its deltas here, in the same statement that stores the totals; the first
// tick of a new hour moves what is here into traffic_hourly, traffic_daily and users.usage_bytes.
// Readers of history and usage add these columns. pending_hour: the hour (epoch ms) the bytes
// belong to; null when nothing is pending.
// Migrations use Kysely<any> and never import application code (see 0001_init).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('peers').addColumn('pending_hour', 'bigint').execute();
  await db.schema.alterTable('peers').addColumn('pending_rx', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('peers').addColumn('pending_tx', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
}
