import type { Kysely } from 'kysely';

// Devices: every peer is one device of its user. Existing peers keep name null, shown as
// "Device <n>" (their position among the user's peers). users.max_devices overrides
// MAX_DEVICES_PER_USER for one user (null = the global setting).
// Migrations use Kysely<any> and never import application code (see 0001_init).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('peers').addColumn('name', 'text').execute();
  await db.schema.alterTable('users').addColumn('max_devices', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('max_devices').execute();
  await db.schema.alterTable('peers').dropColumn('name').execute();
}
