import fs from 'node:fs/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, type KyselyConfig, type Migration, Migrator, PostgresDialect, SqliteDialect, type SqliteDatabase, sql } from 'kysely';
import type pg from 'pg';
import * as m0001 from './migrations/0001_init.js';
import * as m0002 from './migrations/0002_broadcasts.js';
import * as m0003 from './migrations/0003_invites.js';
import * as m0004 from './migrations/0004_devices.js';
import * as m0005 from './migrations/0005_device_requests.js';
import * as m0006 from './migrations/0006_nodes.js';
import { isPostgres } from './migrations/dialect.js';
import { loadPg } from './pg.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

const migrations: Record<string, Migration> = { '0001_init': m0001, '0002_broadcasts': m0002, '0003_invites': m0003, '0004_devices': m0004, '0005_device_requests': m0005, '0006_nodes': m0006 };

/** Names of every migration this version knows; `npm run doctor` compares them with the database. */
export const MIGRATIONS: readonly string[] = Object.keys(migrations);

/** `log` sees every statement, transaction control included (the benchmark counts transactions with it). */
export async function openSqlite(file: string, opts: Pick<KyselyConfig, 'log'> = {}): Promise<Db> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(file);
  // The DB holds private keys: owner-only, whatever the umask.
  await fs.chmod(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Deleted and replaced content (revoked keys, keys re-stored encrypted) is zeroed, not left in free pages.
  sqlite.pragma('secure_delete = ON');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: reusingStatements(sqlite) }), ...opts });
}

const STATEMENTS_KEPT = 500;

/**
 * Kysely prepares every query anew, which costs more than running most of them (a /start, a
 * monitor tick): the prepared statements are kept by their SQL text, the most recently used
 * STATEMENTS_KEPT. One connection runs one query at a time, so a statement is never shared by two.
 */
function reusingStatements(sqlite: SQLite.Database): SqliteDatabase {
  const kept = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text) {
      let stmt = kept.get(text);
      if (stmt && !stmt.busy) {
        kept.delete(text); // most recently used last
      } else {
        stmt = sqlite.prepare(text);
        if (kept.size >= STATEMENTS_KEPT) kept.delete(kept.keys().next().value!);
      }
      kept.set(text, stmt);
      return stmt;
    },
  };
}

export type DatabaseKind = 'sqlite' | 'postgres';

/** True for the URLs openDatabase hands to PostgreSQL. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

// int8 (count(*), bigint columns) and numeric (sum() of bigints) come back from pg as strings;
// every such value here (Telegram ids, byte counts, millisecond times) fits a JS number.
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => Number(v); // pg never passes NULL to a parser
    return loadPg().types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  /** Extra startup options, e.g. `-c search_path=…` (the test harness uses one schema per bot). */
  options?: string;
  max?: number;
}

/** A PostgreSQL pool (`postgres://` / `postgresql://` URL) with int8 and numeric read as numbers. */
export function openPostgres(url: string, opts: PostgresOptions = {}): Db {
  const pool = new (loadPg().Pool)({ connectionString: url, max: opts.max ?? 10, types: pgTypes, ...(opts.options ? { options: opts.options } : {}) });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** `sqlite:<path>` or `postgres(ql)://…`. */
export async function openDatabase(url: string): Promise<{ db: Db; kind: DatabaseKind }> {
  if (isPostgresUrl(url)) return { db: openPostgres(url), kind: 'postgres' };
  if (url.startsWith('sqlite:')) return { db: await openSqlite(path.resolve(url.slice('sqlite:'.length))), kind: 'sqlite' };
  throw new Error('DATABASE_URL must be sqlite:<path> or postgres://…');
}

/** Migrates to the latest schema (or to `to`, for upgrade tests). */
export async function migrate(db: Db, to?: string): Promise<void> {
  // PostgreSQL: Kysely's migrator looks for its tables in every schema unless told one, so a
  // kysely_migration table of another schema (another app, another bot) would be taken for ours.
  const migrationTableSchema = isPostgres(db) ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s : undefined;
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, ...(migrationTableSchema ? { migrationTableSchema } : {}) });
  const { error, results } = await (to ? migrator.migrateTo(to) : migrator.migrateToLatest());
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
