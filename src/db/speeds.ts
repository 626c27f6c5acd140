import type { Kysely } from 'kysely';
import type { Database, User } from './schema.js';

type Q = Kysely<Database>;

/** A user's stored speed columns (see UsersTable: null = the default, 0 = unlimited). */
export type StoredSpeed = Pick<User, 'speed_down_kbit' | 'speed_up_kbit'>;

/** The speed columns of the user of each active peer on a node, by the peer's address: what the node's shaping is built from. */
export function peerSpeedsOnNode(db: Q, node: string, ip?: string): Promise<(StoredSpeed & { ip: string })[]> {
  let q = db
    .selectFrom('peers')
    .innerJoin('users', 'users.id', 'peers.user_id')
    .select(['peers.ip', 'users.speed_down_kbit', 'users.speed_up_kbit'])
    .where('peers.node', '=', node)
    .where('peers.status', '=', 'active');
  if (ip !== undefined) q = q.where('peers.ip', '=', ip);
  return q.execute();
}

export async function setUserSpeed(db: Q, userId: number, speed: StoredSpeed): Promise<boolean> {
  const res = await db.updateTable('users').set(speed).where('id', '=', userId).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
