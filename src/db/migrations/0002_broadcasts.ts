import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../infra/dialect.js';

// Broadcasts: an admin's message sent to many users, resumable after a restart.
// Migrations use Kysely<any> and never import application code (see 0001_init).
export async function up(db: Kysely<any>): Promise<void> {
  // SQLite: INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL: serial.
  const pg = isPostgres(db);
  // An admin was asked for the message to broadcast; kept in the DB so a restart does not lose it.
  await db.schema
    .createTable('broadcast_prompts')
    .addColumn('admin_id', 'bigint', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  // draft (preview shown) → sending → done | cancelled. The content is stored as Telegram gave
  // it (text or caption plus entities), so it is re-sent exactly, with no parse_mode.
  await db.schema
    .createTable('broadcasts')
    .addColumn('id', pg ? 'serial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('admin_id', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('text', 'text')
    .addColumn('entities', 'text')
    .addColumn('photo', 'text')
    .addColumn('progress_chat_id', 'bigint')
    .addColumn('progress_message_id', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('started_at', 'bigint')
    .addColumn('finished_at', 'bigint')
    .addCheckConstraint('broadcasts_status', sql`status in ('draft','sending','done','cancelled')`)
    .addCheckConstraint('broadcasts_audience', sql`audience in ('active','all','pending')`)
    .addCheckConstraint('broadcasts_kind', sql`kind in ('text','photo')`)
    .execute();
  await db.schema.createIndex('broadcasts_status_idx').on('broadcasts').column('status').execute();

  // One row per recipient (the primary key makes a second copy impossible to even queue).
  // queued → sending → sent | failed | blocked; a row found in 'sending' after a restart
  // becomes 'unknown' and is never sent again; queued rows of a cancelled broadcast become 'cancelled'.
  await db.schema
    .createTable('broadcast_deliveries')
    .addColumn('broadcast_id', 'integer', (c) => c.notNull().references('broadcasts.id').onDelete('cascade'))
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('broadcast_deliveries_pk', ['broadcast_id', 'user_id'])
    .addCheckConstraint('broadcast_deliveries_status', sql`status in ('queued','sending','sent','failed','blocked','unknown','cancelled')`)
    .execute();
  await db.schema.createIndex('broadcast_deliveries_status_idx').on('broadcast_deliveries').columns(['broadcast_id', 'status']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['broadcast_deliveries', 'broadcasts', 'broadcast_prompts']) await db.schema.dropTable(t).execute();
}
