import type { Kysely } from 'kysely';

// Work in progress names the replica doing it, so a replica's death hands its work on at once
// instead of after a grace period: inbox.replica, the replica handling a stored update;
// users.claimed_by, the replica provisioning a user (status 'provisioning'). A replica is alive
// while its lock session holds its own advisory lock (src/db/infra/locks.ts). Null on rows from
// before: nobody's, taken like a dead replica's. Never imported by app code.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('inbox').addColumn('replica', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('claimed_by', 'bigint').execute();
}

