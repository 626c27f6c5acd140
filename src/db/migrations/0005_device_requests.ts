import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../infra/dialect.js';

// Device requests (REQUIRE_APPROVAL_PER_DEVICE=on): a user's named device waits for an admin.
// Decided by one conditional update (status = 'pending'), so double taps and several admins at
// once have a single winner. At most one open request per user (partial unique index).
// Migrations use Kysely<any> and never import application code (see 0001_init).
export async function up(db: Kysely<any>): Promise<void> {
  // SQLite: INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL: serial.
  const pg = isPostgres(db);
  await db.schema
    .createTable('device_requests')
    .addColumn('id', pg ? 'serial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('decided_by', 'bigint')
    .addCheckConstraint('device_requests_status', sql`status in ('pending', 'approved', 'rejected')`)
    .execute();
  await db.schema.createIndex('device_requests_one_pending').on('device_requests').column('user_id').unique().where(sql.ref('status'), '=', 'pending').execute();

  // Each admin's copy of the request, so all of them can be updated once it is decided.
  await db.schema
    .createTable('device_request_messages')
    .addColumn('request_id', 'integer', (c) => c.notNull().references('device_requests.id').onDelete('cascade'))
    .addColumn('chat_id', 'bigint', (c) => c.notNull())
    .addColumn('message_id', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('device_request_messages_pk', ['request_id', 'chat_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('device_request_messages').execute();
  await db.schema.dropTable('device_requests').execute();
}
