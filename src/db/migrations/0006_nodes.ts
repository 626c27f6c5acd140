import { type Kysely, sql } from 'kysely';

// Several VPN nodes. Peers, servers and tombstones were keyed by the interface name; they are now
// keyed by the node's name. Existing rows keep their value: the node configured by VPN_* variables
// is named after its interface unless VPN_NODE_NAME says otherwise, so an upgrade changes nothing.
// Migrations use Kysely<any> and never import application code (see 0001_init).
export async function up(db: Kysely<any>): Promise<void> {
  for (const table of ['peers', 'servers', 'removed_peers']) {
    await db.schema.alterTable(table).renameColumn('iface', 'node').execute();
  }

  // Remote nodes (added from Telegram or a nodes file). The node of the VPN_* variables is stored too,
  // with ssh_host null (local). state: 'active' takes new peers, 'draining' keeps its peers but takes none.
  // down_since: set by the monitor while the node does not answer; new peers avoid it.
  await db.schema
    .createTable('nodes')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('location', 'text', (c) => c.notNull())
    .addColumn('ssh_host', 'text')
    .addColumn('ssh_port', 'integer')
    .addColumn('ssh_user', 'text')
    .addColumn('ssh_key_file', 'text')
    .addColumn('ssh_host_key', 'text')
    .addColumn('flavor', 'text', (c) => c.notNull())
    .addColumn('iface', 'text', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('listen_port', 'integer', (c) => c.notNull())
    .addColumn('subnet', 'text', (c) => c.notNull())
    .addColumn('config_dir', 'text', (c) => c.notNull())
    .addColumn('state_dir', 'text')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('down_since', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addCheckConstraint('nodes_state', sql`state in ('active', 'draining')`)
    .execute();

  // NODE_CHOICE=user: the location a user picked; new devices go there while it takes peers.
  await db.schema.alterTable('users').addColumn('node', 'text').execute();
}
