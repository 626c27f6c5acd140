import type { Kysely } from 'kysely';

// Per-user speed limits, in kbit/s per direction: null = the deployment's default
// (DEFAULT_SPEED_MBIT), 0 = unlimited whatever the default, n > 0 = n kbit/s.
// Migrations use Kysely<any> and never import application code (see 0001_init).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('speed_down_kbit', 'integer').execute();
  await db.schema.alterTable('users').addColumn('speed_up_kbit', 'integer').execute();
}
