import { type Kysely, sql } from 'kysely';

// Invite links: an admin's link admits newcomers without the approval queue.
// Migrations use Kysely<any> and never import application code (see 0001_init).
export async function up(db: Kysely<any>): Promise<void> {
  // id is the short public id admins see and revoke by. Only a SHA-256 of the code is kept, so
  // a leaked database or backup holds no usable link. max_uses null = unlimited.
  await db.schema
    .createTable('invites')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'bigint', (c) => c.notNull())
    .addColumn('creator_name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('max_uses', 'integer')
    .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expires_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .addColumn('note', 'text')
    // A safety net under the conditional update that consumes a use: never more joins than allowed.
    .addCheckConstraint('invites_uses', sql`uses >= 0 and (max_uses is null or (max_uses > 0 and uses <= max_uses))`)
    .execute();

  // Who joined through which invite.
  await db.schema
    .createTable('invite_uses')
    .addColumn('invite_id', 'text', (c) => c.notNull().references('invites.id').onDelete('cascade'))
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('invite_uses_invite_idx').on('invite_uses').column('invite_id').execute();

  // A newcomer's invite from /start, held until the CAPTCHA is passed (the captchas table stays as it is).
  await db.schema
    .createTable('pending_invites')
    .addColumn('user_id', 'bigint', (c) => c.primaryKey())
    .addColumn('invite_id', 'text', (c) => c.notNull().references('invites.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  // An admin's /invite in progress (label and nonce); taken by the final button, so a double tap creates one invite.
  await db.schema
    .createTable('invite_drafts')
    .addColumn('admin_id', 'bigint', (c) => c.primaryKey())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('note', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['invite_drafts', 'pending_invites', 'invite_uses', 'invites']) await db.schema.dropTable(t).execute();
}
