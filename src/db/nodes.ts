import type { Kysely } from 'kysely';
import type { Database, Node, NodeState, NodesTable } from './schema.js';

type Q = Kysely<Database>;

export type NodeRow = Omit<NodesTable, 'state' | 'down_since'>;

export function listNodes(db: Q): Promise<Node[]> {
  return db.selectFrom('nodes').selectAll().orderBy('created_at').orderBy('name').execute();
}

export function getNode(db: Q, name: string): Promise<Node | undefined> {
  return db.selectFrom('nodes').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Inserts a node; false when the name is taken. */
export async function insertNode(db: Q, n: NodeRow): Promise<boolean> {
  const res = await db.insertInto('nodes').values(n).onConflict((oc) => oc.column('name').doNothing()).executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
}

/**
 * The node of the VPN_* variables or of the nodes file: its settings follow the configuration at
 * every start; its state (draining) and health stay as they are.
 */
export async function upsertNode(db: Q, n: NodeRow): Promise<void> {
  const { name, created_at: _created, ...rest } = n;
  await db.insertInto('nodes').values(n).onConflict((oc) => oc.column('name').doUpdateSet(rest)).execute();
}

export async function setNodeState(db: Q, name: string, state: NodeState): Promise<boolean> {
  const res = await db.updateTable('nodes').set({ state }).where('name', '=', name).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Marks the node down (keeps the first time it was seen down) or up (null). */
export async function setNodeDown(db: Q, name: string, since: number | null): Promise<void> {
  let q = db.updateTable('nodes').set({ down_since: since }).where('name', '=', name);
  if (since !== null) q = q.where('down_since', 'is', null);
  await q.execute();
}

/** Deletes a node that holds no peers (with its server keys); false if it has peers or does not exist. */
export async function deleteEmptyNode(db: Q, name: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const peers = await trx.selectFrom('peers').select((eb) => eb.fn.countAll<number>().as('n')).where('node', '=', name).executeTakeFirstOrThrow();
    if (Number(peers.n) > 0) return false;
    await trx.deleteFrom('servers').where('node', '=', name).execute();
    const res = await trx.deleteFrom('nodes').where('name', '=', name).executeTakeFirst();
    return Number(res.numDeletedRows) === 1;
  });
}

/** Active peers per node (nodes without any are absent). */
export async function activePeersPerNode(db: Q): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('peers')
    .select(['node', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', '=', 'active')
    .groupBy('node')
    .execute();
  return new Map(rows.map((r) => [r.node, Number(r.n)]));
}
