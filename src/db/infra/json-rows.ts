import { type Kysely, type RawBuilder, sql } from 'kysely';
import { isPostgres } from './dialect.js';

type ColumnType = 'integer' | 'bigint' | 'text';

/**
 * Many rows as the table `v` (these columns), from one JSON parameter: `jsonb_to_recordset` on
 * PostgreSQL, `json_each` on SQLite. The monitor writes every peer that moved, each tick; one
 * statement with one short text to prepare, instead of one per row or thousands of parameters.
 */
export function jsonRows<K extends string>(db: Kysely<any>, columns: Record<K, ColumnType>, rows: Record<K, number | string | null>[]): RawBuilder<unknown> {
  const names = Object.keys(columns) as K[];
  for (const n of names) if (!/^[a-z_]+$/.test(n)) throw new Error(`bad column name ${n}`);
  if (isPostgres(db)) return sql`jsonb_to_recordset(cast(${JSON.stringify(rows)} as jsonb)) as v(${sql.raw(names.map((n) => `${n} ${columns[n]}`).join(', '))})`;
  // Rows as arrays, not objects: half the text to parse, and `->> 2` finds a value without comparing keys.
  const json = JSON.stringify(rows.map((r) => names.map((n) => r[n])));
  return sql`(select ${sql.raw(names.map((n, i) => `value ->> ${i} as ${n}`).join(', '))} from json_each(${json})) as v`;
}
