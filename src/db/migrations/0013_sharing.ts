import type { Kysely } from 'kysely';

// Shared-config detection (SHARING_ACTION). peer_traffic.endpoint: the address (no port) the
// peer's endpoint had at the last monitor tick, so a tick writes only when it changes.
// peer_traffic.sharing_seen_at: the last time the peer came back to an address it had left
// within the window; an incident is reported when it starts (no such return for a whole window).
// peer_endpoints: each address a peer was at, first seen and last seen (when it arrived or left),
// pruned beyond the window. Never imported by app code.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('peer_traffic').addColumn('endpoint', 'text').execute();
  await db.schema.alterTable('peer_traffic').addColumn('sharing_seen_at', 'bigint').execute();
  await db.schema
    .createTable('peer_endpoints')
    .addColumn('peer_id', 'integer', (c) => c.notNull().references('peers.id').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('peer_endpoints_pk', ['peer_id', 'address'])
    .execute();
  await db.schema.createIndex('peer_endpoints_last_seen').on('peer_endpoints').column('last_seen').execute();
}
