import type { Kysely } from 'kysely';
import type { Database, Server } from './schema.js';

type Q = Kysely<Database>;

export function getServer(db: Q, node: string): Promise<Server | undefined> {
  return db.selectFrom('servers').selectAll().where('node', '=', node).executeTakeFirst();
}

/** Inserts the server row unless another process did first; returns the stored row either way. */
export async function insertServerOnce(db: Q, s: Omit<Server, 'ifindex'>): Promise<Server> {
  await db.insertInto('servers').values({ ...s, ifindex: null }).onConflict((oc) => oc.column('node').doNothing()).execute();
  return db.selectFrom('servers').selectAll().where('node', '=', s.node).executeTakeFirstOrThrow();
}

export async function setServerIfindex(db: Q, node: string, ifindex: number | null): Promise<void> {
  await db.updateTable('servers').set({ ifindex }).where('node', '=', node).execute();
}
