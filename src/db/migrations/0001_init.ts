import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../infra/dialect.js';

// Migrations use Kysely<any> and never import application code: they must keep
// working unchanged after the app's types move on.
export async function up(db: Kysely<any>): Promise<void> {
  // SQLite: INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL: serial.
  const pg = isPostgres(db);
  await db.schema
    .createTable('users')
    .addColumn('id', 'bigint', (c) => c.primaryKey())
    .addColumn('first_name', 'text', (c) => c.notNull())
    .addColumn('last_name', 'text')
    .addColumn('username', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('decided_by', 'bigint')
    .addColumn('decided_at', 'bigint')
    .addColumn('blocked_at', 'bigint')
    .addColumn('quota_bytes', 'bigint')
    .addColumn('expires_at', 'bigint')
    .addColumn('usage_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('usage_period', 'text')
    .addColumn('warned_quota', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('warned_expiry', 'integer', (c) => c.notNull().defaultTo(0))
    .addCheckConstraint('users_status', sql`status in ('pending','provisioning','active','disabled','limited','expired','rejected','revoked','banned')`)
    .execute();
  await db.schema.createIndex('users_status_idx').on('users').column('status').execute();

  await db.schema
    .createTable('captchas')
    .addColumn('user_id', 'bigint', (c) => c.primaryKey())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('answer', 'integer', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('cooldown_until', 'bigint')
    .execute();

  await db.schema
    .createTable('peers')
    .addColumn('id', pg ? 'serial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('iface', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull().unique())
    .addColumn('private_key', 'text', (c) => c.notNull())
    .addColumn('preshared_key', 'text', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('rx_total', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('tx_total', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('rx_last', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('tx_last', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('last_handshake_at', 'bigint')
    .addColumn('delivered_at', 'bigint')
    .addUniqueConstraint('peers_iface_ip', ['iface', 'ip'])
    .addCheckConstraint('peers_status', sql`status in ('active','disabled')`)
    .execute();
  await db.schema.createIndex('peers_user_idx').on('peers').column('user_id').execute();

  for (const [table, bucket, type] of [['traffic_hourly', 'hour', 'bigint'], ['traffic_daily', 'day', 'text']] as const) {
    await db.schema
      .createTable(table)
      .addColumn('peer_id', 'integer', (c) => c.notNull().references('peers.id').onDelete('cascade'))
      .addColumn(bucket, type, (c) => c.notNull())
      .addColumn('rx', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('tx', 'bigint', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint(`${table}_pk`, ['peer_id', bucket])
      .execute();
    await db.schema.createIndex(`${table}_${bucket}_idx`).on(table).column(bucket).execute();
  }

  // Public keys of deleted peers: a crash between the delete and `set peer … remove` must not
  // leave a revoked peer working, and such a key is not an "unknown" peer to report.
  await db.schema
    .createTable('removed_peers')
    .addColumn('public_key', 'text', (c) => c.primaryKey())
    .addColumn('iface', 'text', (c) => c.notNull())
    .addColumn('removed_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('servers')
    .addColumn('iface', 'text', (c) => c.primaryKey())
    .addColumn('private_key', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('listen_port', 'integer', (c) => c.notNull())
    .addColumn('awg_params', 'text')
    .addColumn('ifindex', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('approval_messages')
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('chat_id', 'bigint', (c) => c.notNull())
    .addColumn('message_id', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('approval_messages_pk', ['user_id', 'chat_id'])
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', pg ? 'serial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor_id', 'bigint')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('user_id', 'bigint')
    .addColumn('details', 'text')
    .execute();

  await db.schema
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('chat_locales')
    .addColumn('chat_id', 'bigint', (c) => c.primaryKey())
    .addColumn('locale', 'text', (c) => c.notNull())
    .addColumn('chosen', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['traffic_daily', 'traffic_hourly', 'chat_locales', 'meta', 'audit_log', 'approval_messages', 'servers', 'removed_peers', 'peers', 'captchas', 'users']) {
    await db.schema.dropTable(t).execute();
  }
}
