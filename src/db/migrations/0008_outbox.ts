import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../infra/dialect.js';

// Nobody waits on another chat's pace (issue 14):
// - outbox: every message sent outside the reply to the update in hand, written in the same
//   transaction as the change it reports and sent later, paced, by the leader. kind + data
//   describe what to send; it is rendered from the database when it goes out. status: queued →
//   sending (committed before the call) → the row is deleted once Telegram took it (or when there
//   is nothing to say any more), or kept as failed / blocked / unknown (cut off by a crash: never
//   sent twice) / folded (an access request summed up in the admin's digest). merge_key: at most one
//   queued row per chat and key (a digest refresh).
// - inbox: every update as received, stored before it is confirmed to Telegram (the next
//   getUpdates offset, or the webhook's 200); handled_at once handled. Kept a day, so a webhook
//   retry of a handled update is recognised.
// - admin_digests: each admin's live summary of pending requests.
// - users.requested_at: when the user asked (the review walks requests in that order).
// - peers.config_queued_at: the config was handed to the outbox (recovery queues the others).
// - peers: a device name is unique per user, so a replayed "add iPhone" cannot add a second one.
// Migrations use Kysely<any> and never import application code (see 0001_init).
export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  await db.schema
    .createTable('outbox')
    .addColumn('id', pg ? 'serial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('chat_id', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('queued'))
    .addColumn('merge_key', 'text')
    .addColumn('not_before', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('error', 'text')
    .addCheckConstraint('outbox_status', sql`status in ('queued', 'sending', 'failed', 'blocked', 'unknown', 'folded')`)
    .execute();
  await db.schema.createIndex('outbox_queued').on('outbox').columns(['chat_id', 'id']).where(sql.ref('status'), '=', 'queued').execute();
  await db.schema.createIndex('outbox_sending').on('outbox').column('id').where(sql.ref('status'), '=', 'sending').execute();
  await db.schema
    .createIndex('outbox_merge')
    .on('outbox')
    .columns(['chat_id', 'merge_key'])
    .unique()
    .where(sql<boolean>`status = 'queued' and merge_key is not null`)
    .execute();
  await db.schema.createIndex('outbox_updated').on('outbox').column('updated_at').execute();

  await db.schema
    .createTable('inbox')
    .addColumn('update_id', 'bigint', (c) => c.primaryKey())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('handled_at', 'bigint')
    .execute();
  await db.schema.createIndex('inbox_unhandled').on('inbox').column('update_id').where(sql.ref('handled_at'), 'is', null).execute();
  await db.schema.createIndex('inbox_received').on('inbox').column('received_at').execute();

  await db.schema
    .createTable('admin_digests')
    .addColumn('admin_id', 'bigint', (c) => c.primaryKey())
    .addColumn('message_id', 'bigint')
    .addColumn('sent_at', 'bigint')
    .addColumn('shown_at', 'bigint')
    .addColumn('last_request_at', 'bigint')
    .addColumn('live', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema.alterTable('users').addColumn('requested_at', 'bigint').execute();
  await sql`update users set requested_at = updated_at where status = 'pending'`.execute(db);
  await db.schema.createIndex('users_requests').on('users').columns(['status', 'requested_at', 'id']).execute();

  await db.schema.alterTable('peers').addColumn('config_queued_at', 'bigint').execute();
  await sql`update peers set config_queued_at = delivered_at`.execute(db);
  // Names given twice before this version keep their place: the later ones get their id appended.
  await sql`
    update peers set name = substr(name, 1, 20) || ' ' || cast(id as text)
    where name is not null and exists (select 1 from peers q where q.user_id = peers.user_id and q.name = peers.name and q.id < peers.id)`.execute(db);
  await db.schema.createIndex('peers_device_name').on('peers').columns(['user_id', 'name']).unique().where(sql.ref('name'), 'is not', null).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('peers_device_name').execute();
  await db.schema.alterTable('peers').dropColumn('config_queued_at').execute();
  await db.schema.dropIndex('users_requests').execute();
  await db.schema.alterTable('users').dropColumn('requested_at').execute();
  await db.schema.dropTable('admin_digests').execute();
  await db.schema.dropTable('inbox').execute();
  await db.schema.dropTable('outbox').execute();
}
