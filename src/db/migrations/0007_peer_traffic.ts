import { type Kysely, sql } from 'kysely';

// Each peer's traffic state moves to a narrow table of its own, the one row the monitor writes
// for every peer that moved, every tick: a rewrite of the narrow row, not of the whole peer (keys,
// address, name). peers keeps what changes rarely.
// pending_*: traffic of the current hour not yet in the hour and day buckets or the user's usage.
// Every tick adds its deltas there, in the same statement that adds them to the totals; the first
// tick of a new hour moves what is pending into traffic_hourly, traffic_daily and
// users.usage_bytes. Readers of history and usage add it. pending_hour: the hour (epoch ms) the
// bytes belong to; null when nothing is pending.
// Migrations use Kysely<any> and never import application code (see 0001_init).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('peer_traffic')
    .addColumn('peer_id', 'integer', (c) => c.primaryKey().references('peers.id').onDelete('cascade'))
    .addColumn('rx_total', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('tx_total', 'bigint', (c) => c.notNull().defaultTo(0))
    // Raw interface counters at the last monitor tick; deltas are taken against these.
    .addColumn('rx_last', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('tx_last', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('last_handshake_at', 'bigint')
    .addColumn('pending_hour', 'bigint')
    .addColumn('pending_rx', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('pending_tx', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`
    insert into peer_traffic (peer_id, rx_total, tx_total, rx_last, tx_last, last_handshake_at)
    select id, rx_total, tx_total, rx_last, tx_last, last_handshake_at from peers`.execute(db);
  for (const c of ['rx_total', 'tx_total', 'rx_last', 'tx_last', 'last_handshake_at']) await db.schema.alterTable('peers').dropColumn(c).execute();
}
