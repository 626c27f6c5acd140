import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

type Q = Kysely<Database>;

export async function countByStatus(db: Q, table: 'users' | 'peers' | 'outbox'): Promise<{ status: string; n: number }[]> {
  const rows = await db
    .selectFrom(table)
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  return rows.map((r) => ({ status: r.status, n: Number(r.n) }));
}

/** Totals over all peers, and how many had a handshake since `onlineSince` (epoch ms). */
export async function trafficSummary(db: Q, onlineSince: number): Promise<{ rx: number; tx: number; online: number }> {
  const t = await db
    .selectFrom('peer_traffic')
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number>('rx_total'), eb.lit(0)).as('rx'),
      eb.fn.coalesce(eb.fn.sum<number>('tx_total'), eb.lit(0)).as('tx'),
      eb.fn.countAll<number>().filterWhere('last_handshake_at', '>', onlineSince).as('online'),
    ])
    .executeTakeFirstOrThrow();
  return { rx: Number(t.rx), tx: Number(t.tx), online: Number(t.online) };
}
