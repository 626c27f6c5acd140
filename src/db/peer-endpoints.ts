import { type Kysely, sql } from 'kysely';
import { jsonRows } from './infra/json-rows.js';
import type { Database } from './schema.js';

type Q = Kysely<Database>;

// The addresses each peer's endpoint was at (shared-config detection); written only on ticks
// where some peer's address changed.

/** A peer whose endpoint address differs from the one stored; previous null: the first one seen. */
export interface EndpointMove {
  id: number;
  address: string;
  previous: string | null;
}

const moveRows = (db: Q, moves: EndpointMove[]) => jsonRows(db, { id: 'integer', address: 'text', previous: 'text' }, moves.map((m) => ({ ...m })));

/** The moves back to an address the peer left at or after `since`, with the peer's last such return. */
export async function returnsSince(db: Q, moves: EndpointMove[], since: number): Promise<{ id: number; sharing_seen_at: number | null }[]> {
  if (moves.length === 0) return [];
  const { rows } = await sql<{ id: number; sharing_seen_at: number | null }>`
    select v.id as id, t.sharing_seen_at as sharing_seen_at from ${moveRows(db, moves)}
    join peer_endpoints e on e.peer_id = v.id and e.address = v.address
    join peer_traffic t on t.peer_id = v.id
    where v.previous is not null and e.last_seen >= ${since}`.execute(db);
  return rows.map((r) => ({ id: Number(r.id), sharing_seen_at: r.sharing_seen_at === null ? null : Number(r.sharing_seen_at) }));
}

/** Both ends of each move are last seen now (the one arrived at first seen now, if new to the window): one statement. */
export async function recordMoves(db: Q, moves: EndpointMove[], now: number): Promise<void> {
  if (moves.length === 0) return;
  const v = moveRows(db, moves);
  // `where true`: SQLite's parser needs it before ON CONFLICT after a SELECT.
  await sql`
    insert into peer_endpoints (peer_id, address, first_seen, last_seen)
    select id, address, cast(${now} as bigint), cast(${now} as bigint) from (
      select id, address from ${v} union select id, previous from ${v} where previous is not null
    ) as ends where true
    on conflict (peer_id, address) do update set last_seen = excluded.last_seen`.execute(db);
}

export async function pruneEndpoints(db: Q, before: number): Promise<void> {
  await db.deleteFrom('peer_endpoints').where('last_seen', '<', before).execute();
}

/** The addresses the peer was at since `since`, in the order it first came to them. */
export async function addressesSince(db: Q, peerId: number, since: number): Promise<string[]> {
  const rows = await db.selectFrom('peer_endpoints').select('address').where('peer_id', '=', peerId).where('last_seen', '>=', since).orderBy('first_seen').orderBy('address').execute();
  return rows.map((r) => r.address);
}
