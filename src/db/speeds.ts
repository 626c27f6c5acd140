import type { Kysely } from 'kysely';
import type { Database, User } from './schema.js';

type Q = Kysely<Database>;

/** A user's stored speed columns (see UsersTable: null = the default, 0 = unlimited). */
export type StoredSpeed = Pick<User, 'speed_down_kbit' | 'speed_up_kbit'>;

/**
 * The speed columns of the users of the active peers on a node that are limited in some direction,
 * by the peer's address: what the node's shaping is built from. `limitedByDefault`: whether
 * DEFAULT_SPEED_MBIT limits each direction (a null column takes it). The filter is in SQL: the
 * monitor asks every tick, and most peers are usually unlimited.
 */
export function limitedPeersOnNode(db: Q, node: string, limitedByDefault: { down: boolean; up: boolean }, ip?: string): Promise<(StoredSpeed & { ip: string })[]> {
  let q = db
    .selectFrom('peers')
    .innerJoin('users', 'users.id', 'peers.user_id')
    .select(['peers.ip', 'users.speed_down_kbit', 'users.speed_up_kbit'])
    .where('peers.node', '=', node)
    .where('peers.status', '=', 'active')
    .where((eb) => {
      const limited = (col: 'users.speed_down_kbit' | 'users.speed_up_kbit', byDefault: boolean) => (byDefault ? eb.or([eb(col, 'is', null), eb(col, '>', 0)]) : eb(col, '>', 0));
      return eb.or([limited('users.speed_down_kbit', limitedByDefault.down), limited('users.speed_up_kbit', limitedByDefault.up)]);
    });
  if (ip !== undefined) q = q.where('peers.ip', '=', ip);
  return q.execute();
}

export async function setUserSpeed(db: Q, userId: number, speed: StoredSpeed): Promise<boolean> {
  const res = await db.updateTable('users').set(speed).where('id', '=', userId).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
