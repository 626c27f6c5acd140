// `migrate-db`: moves a whole community from SQLite to PostgreSQL. The target is migrated to this
// version's schema, then every table is copied from one read transaction of the source (a
// consistent snapshot, even while a bot writes to it) inside one transaction of the target, and
// verified there by row counts and checksums before the commit: all or nothing. Rows are copied
// as stored: encrypted private keys stay encrypted, and no value is ever printed.
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { appliedMigrations, type Db, migrate, MIGRATIONS } from '../index.js';
import { isPostgres } from './dialect.js';
import type { Database } from '../schema.js';

/**
 * Every table of the schema, parents before the tables whose foreign keys point at them: the
 * order migrate-db copies them in. A new table must be added here (a test compares this list
 * with a freshly migrated database, and the type below with `Database`).
 */
export const TABLE_ORDER = [
  'users',
  'captchas',
  'peers',
  'peer_traffic',
  'peer_endpoints',
  'traffic_hourly',
  'traffic_daily',
  'removed_peers',
  'servers',
  'approval_messages',
  'audit_log',
  'meta',
  'chat_locales',
  'broadcast_prompts',
  'broadcasts',
  'broadcast_deliveries',
  'invites',
  'invite_uses',
  'pending_invites',
  'invite_drafts',
  'device_requests',
  'device_request_messages',
  'nodes',
  'outbox',
  'inbox',
  'admin_digests',
] as const satisfies readonly (keyof Database)[];

// Fails to compile when `Database` has a table that TABLE_ORDER lacks.
type Unlisted = Exclude<keyof Database, (typeof TABLE_ORDER)[number]>;
const everyTableListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyTableListed;

export interface TableCheck {
  table: string;
  sourceRows: number;
  targetRows: number;
  sourceChecksum: string;
  targetChecksum: string;
}

export const tableMatches = (t: TableCheck) => t.sourceRows === t.targetRows && t.sourceChecksum === t.targetChecksum;

/** Why a move did not happen. `refused`: nothing was changed; `failed`: the target was rolled back (only migrations remain). */
export class MoveError extends Error {
  constructor(
    message: string,
    readonly kind: 'refused' | 'failed',
    /** Filled when the verification ran and found a difference. */
    readonly tables: TableCheck[] = [],
  ) {
    super(message);
  }
}

export interface MoveOptions {
  /** Rows per INSERT (fewer when the table is wide: PostgreSQL takes at most 65,535 parameters). */
  batchSize?: number;
  /** Called after each table is copied. */
  onCopied?: (table: string, rows: number) => void;
}

type AnyDb = Kysely<any>;

// PostgreSQL's limit of bind parameters per statement is 65,535.
const MAX_PARAMETERS = 65_000;

/**
 * A checksum of a table's rows that does not depend on their order: the sum, modulo 2^256, of
 * each row's SHA-256. SQLite and PostgreSQL order text differently (byte order vs. collation),
 * so no common ORDER BY is needed. Each row is hashed as JSON of its columns sorted by name,
 * values normalized so that the same integer, text or NULL compares equal across dialects.
 */
class TableDigest {
  rows = 0;
  private sum = 0n;

  add(row: Record<string, unknown>): void {
    const canonical = Object.keys(row)
      .sort()
      .map((k) => [k, normalize(row[k])]);
    this.sum = (this.sum + BigInt(`0x${createHash('sha256').update(JSON.stringify(canonical)).digest('hex')}`)) % 2n ** 256n;
    this.rows++;
  }

  get hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}

function normalize(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0; // SQLite stores booleans as 0/1
  if (Buffer.isBuffer(v)) return { bytes: v.toString('hex') };
  throw new Error(`unexpected ${typeof v} value in the database`);
}

/** Every table of a migrated database, without Kysely's own (kysely_migration, kysely_migration_lock). */
export async function applicationTables(db: Db): Promise<string[]> {
  return (await db.introspection.getTables()).map((t) => t.name).sort();
}

/** Refuses a target whose tables hold any row, naming them ("users: 3 rows, peers: 5 rows"). */
async function refuseUnlessEmpty(db: AnyDb): Promise<void> {
  const present = new Set(await applicationTables(db));
  const held: string[] = [];
  for (const t of TABLE_ORDER.filter((x) => present.has(x))) {
    const { n } = await db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    if (Number(n) > 0) held.push(`${t}: ${n} row${Number(n) === 1 ? '' : 's'}`);
  }
  if (held.length) throw new MoveError(`the target already holds data (${held.join(', ')}); move into an empty database or schema`, 'refused');
}

/**
 * Copies `source` (SQLite, opened read-only is enough) into `target` (PostgreSQL). Throws a
 * MoveError; returns the per-table counts and checksums, all matching.
 */
export async function moveDatabase(source: Db, target: Db, opts: MoveOptions = {}): Promise<TableCheck[]> {
  if (isPostgres(source) || !isPostgres(target)) throw new MoveError('migrate-db moves a SQLite database into PostgreSQL', 'refused');
  const src = source as AnyDb;
  const dst = target as AnyDb;
  const applied = await appliedMigrations(source);
  if (applied.join() !== [...MIGRATIONS].sort().join()) {
    throw new MoveError(
      `the source's schema is not this version's (applied migrations: ${applied.join(', ') || 'none'}; this version has ${MIGRATIONS.join(', ')}): start this version of the bot on it once, stop it, then move`,
      'refused',
    );
  }
  // Checked before anything is written, so a refused target is left exactly as it was.
  await refuseUnlessEmpty(dst);
  await migrate(target);

  try {
    return await dst.transaction().execute(async (trx) => {
      // Nobody else writes into the tables until the commit; and nobody did since the check above.
      await sql`lock table ${sql.join(TABLE_ORDER.map((t) => sql.table(t)))} in exclusive mode`.execute(trx);
      await refuseUnlessEmpty(trx);

      const { digests: sourceDigests, usedIds } = await src.transaction().execute(async (snapshot) => {
        const digests = new Map<string, TableDigest>();
        for (const table of TABLE_ORDER) {
          digests.set(table, await copyTable(snapshot, trx, table, opts.batchSize ?? 1000));
          opts.onCopied?.(table, digests.get(table)!.rows);
        }
        return { digests, usedIds: await autoincrementHighs(snapshot) };
      });
      await resetSequences(trx, usedIds);

      const checks: TableCheck[] = [];
      for (const table of TABLE_ORDER) {
        const s = sourceDigests.get(table)!;
        const t = await digestPostgresTable(trx, table);
        checks.push({ table, sourceRows: s.rows, targetRows: t.rows, sourceChecksum: s.hex, targetChecksum: t.hex });
      }
      const bad = checks.filter((c) => !tableMatches(c));
      if (bad.length) throw new MoveError(`verification failed for ${bad.map((c) => c.table).join(', ')}: the target was rolled back`, 'failed', checks);
      return checks;
    });
  } catch (e) {
    if (e instanceof MoveError) throw e;
    throw new MoveError(`copy failed, the target was rolled back: ${e instanceof Error ? e.message : String(e)}`, 'failed');
  }
}

/** Copies one table in rowid order (every table here is a rowid table), `batchSize` rows per INSERT; returns the source digest. */
async function copyTable(snapshot: AnyDb, trx: AnyDb, table: string, batchSize: number): Promise<TableDigest> {
  const digest = new TableDigest();
  let after: number | null = null;
  for (;;) {
    const rows = await snapshot
      .selectFrom(table)
      .select(sql<number>`rowid`.as('__rowid'))
      .selectAll()
      .$if(after !== null, (q) => q.where(sql`rowid`, '>', after))
      .orderBy(sql`rowid`)
      .limit(batchSize)
      .execute();
    if (!rows.length) break;
    after = rows.at(-1)!.__rowid as number;
    const values = rows.map(({ __rowid: _, ...row }) => row);
    const perInsert = Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMETERS / Object.keys(values[0]!).length)));
    for (let i = 0; i < values.length; i += perInsert) await trx.insertInto(table).values(values.slice(i, i + perInsert)).execute();
    for (const row of values) digest.add(row);
    if (rows.length < batchSize) break;
  }
  return digest;
}

/**
 * The highest id each AUTOINCREMENT table ever handed out (SQLite keeps it in sqlite_sequence):
 * SQLite never reuses the id of a deleted row, e.g. a revoked device's, and neither should PostgreSQL.
 */
async function autoincrementHighs(snapshot: AnyDb): Promise<Map<string, number>> {
  const { rows: present } = await sql`select 1 from sqlite_master where type = 'table' and name = 'sqlite_sequence'`.execute(snapshot);
  if (!present.length) return new Map();
  const { rows } = await sql<{ name: string; seq: number }>`select name, seq from sqlite_sequence`.execute(snapshot);
  return new Map(rows.map((r) => [r.name, Number(r.seq)]));
}

/** Serial and identity columns continue after the copied ids (and after any id SQLite ever used), so new rows get fresh ones. */
async function resetSequences(trx: AnyDb, usedIds: Map<string, number>): Promise<void> {
  const { rows } = await sql<{ t: string; c: string; seq: string }>`
    select table_name as t, column_name as c, pg_get_serial_sequence(quote_ident(table_name), column_name) as seq
    from information_schema.columns
    where table_schema = current_schema() and (column_default like 'nextval(%' or is_identity = 'YES')`.execute(trx);
  for (const { t, c, seq } of rows) {
    if (!seq) continue;
    const used = usedIds.get(t) ?? 0;
    await sql`select setval(${seq}::regclass, greatest(coalesce((select max(${sql.ref(c)}) from ${sql.table(t)}), 0), ${used}::bigint) + 1, false)`.execute(trx);
  }
}

/** Reads the table back through a cursor, inside the copying transaction. */
async function digestPostgresTable(trx: AnyDb, table: string): Promise<TableDigest> {
  const digest = new TableDigest();
  await sql`declare move_check no scroll cursor for select * from ${sql.table(table)}`.execute(trx);
  for (;;) {
    const { rows } = await sql<Record<string, unknown>>`fetch forward 5000 from move_check`.execute(trx);
    for (const row of rows) digest.add(row);
    if (rows.length < 5000) break;
  }
  await sql`close move_check`.execute(trx);
  return digest;
}
