import fs from 'node:fs/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import {
  type DatabaseIntrospector,
  type DatabaseMetadataOptions,
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  Kysely,
  type KyselyConfig,
  type Migration,
  Migrator,
  PostgresDialect,
  PostgresIntrospector,
  SqliteDialect,
  type SqliteDatabase,
  sql,
  type TableMetadata,
} from 'kysely';
import type pg from 'pg';
import * as m0001 from './migrations/0001_init.js';
import * as m0002 from './migrations/0002_broadcasts.js';
import * as m0003 from './migrations/0003_invites.js';
import * as m0004 from './migrations/0004_devices.js';
import * as m0005 from './migrations/0005_device_requests.js';
import * as m0006 from './migrations/0006_nodes.js';
import * as m0007 from './migrations/0007_peer_traffic.js';
import * as m0008 from './migrations/0008_outbox.js';
import * as m0009 from './migrations/0009_outbox_bulk.js';
import * as m0010 from './migrations/0010_speed_limits.js';
import * as m0011 from './migrations/0011_reset_plans.js';
import * as m0012 from './migrations/0012_reminders.js';
import * as m0013 from './migrations/0013_sharing.js';
import * as m0014 from './migrations/0014_broadcast_audiences.js';
import * as m0015 from './migrations/0015_replica_claims.js';
import { isPostgres } from './infra/dialect.js';
import { loadPg } from './infra/pg.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

const migrations: Record<string, Migration> = { '0001_init': m0001, '0002_broadcasts': m0002, '0003_invites': m0003, '0004_devices': m0004, '0005_device_requests': m0005, '0006_nodes': m0006, '0007_peer_traffic': m0007, '0008_outbox': m0008, '0009_outbox_bulk': m0009, '0010_speed_limits': m0010, '0011_reset_plans': m0011, '0012_reminders': m0012, '0013_sharing': m0013, '0014_broadcast_audiences': m0014, '0015_replica_claims': m0015 };

/** Names of every migration this version knows; `npm run doctor` compares them with the database. */
export const MIGRATIONS: readonly string[] = Object.keys(migrations);

/** `log` sees every statement, transaction control included. */
export async function openSqlite(file: string, opts: { readonly?: boolean } & Pick<KyselyConfig, 'log'> = {}): Promise<Db> {
  if (opts.readonly) {
    // Only to look at it (doctor, migrate-db's source): the file must exist and is never changed.
    const sqlite = new SQLite(file, { readonly: true, fileMustExist: true });
    sqlite.pragma('busy_timeout = 5000');
    return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(file);
  // The DB holds private keys: owner-only, whatever the umask.
  await fs.chmod(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  // The monitor checkpoints every tick (checkpointWal); a commit checkpoints only past 16 MB of WAL.
  sqlite.pragma('wal_autocheckpoint = 4000');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Deleted and replaced content (revoked keys, keys re-stored encrypted) is zeroed, not left in free pages.
  sqlite.pragma('secure_delete = ON');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: reusingStatements(sqlite) }), ...(opts.log ? { log: opts.log } : {}) });
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

/** True for PostgreSQL URLs (the rest are SQLite). */
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

/**
 * Kysely's PostgreSQL introspector reads the columns of every schema in the database, and fails
 * when another schema is dropped meanwhile (another bot or app sharing the database, parallel
 * test runs). The bot has one schema, the current one (search_path): this one reads only that.
 */
class CurrentSchemaIntrospector extends PostgresIntrospector {
  readonly #db: Kysely<any>;

  constructor(db: Kysely<any>) {
    super(db);
    this.#db = db;
  }

  override async getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<TableMetadata[]> {
    const { rows } = await sql<{ table: string; schema: string; view: boolean; column: string | null; type: string; typeSchema: string; nullable: boolean; hasDefault: boolean; auto: boolean }>`
      select t.table_name as "table", t.table_schema as "schema", t.table_type = 'VIEW' as "view",
        c.column_name as "column", c.udt_name as "type", c.udt_schema as "typeSchema", c.is_nullable = 'YES' as "nullable",
        (c.column_default is not null or c.is_identity = 'YES') as "hasDefault",
        (c.column_default like 'nextval(%' or c.is_identity = 'YES') as "auto"
      from information_schema.tables t
      left join information_schema.columns c on c.table_schema = t.table_schema and c.table_name = t.table_name
      where t.table_schema = current_schema()
      order by t.table_name, c.ordinal_position`.execute(this.#db);
    const internal = new Set([DEFAULT_MIGRATION_TABLE, DEFAULT_MIGRATION_LOCK_TABLE]);
    const tables = new Map<string, TableMetadata>();
    for (const r of rows) {
      if (!options.withInternalKyselyTables && internal.has(r.table)) continue;
      let t = tables.get(r.table);
      if (!t) tables.set(r.table, (t = { name: r.table, schema: r.schema, isView: r.view, columns: [] }));
      if (r.column) {
        t.columns.push({ name: r.column, dataType: r.type, dataTypeSchema: r.typeSchema, isNullable: r.nullable, hasDefaultValue: r.hasDefault, isAutoIncrementing: r.auto });
      }
    }
    return [...tables.values()];
  }
}

class BotPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db);
  }
}

export interface PostgresOptions {
  /** Extra startup options, e.g. `-c search_path=…` (the test harness uses one schema per bot). */
  options?: string;
  max?: number;
  /** Give up connecting, or waiting for a free connection, after this long (default: pg's, no limit). */
  connectTimeoutMs?: number;
  /**
   * The server cancels a statement running this long and ends a session idle this long inside a
   * transaction; the client gives up on an answer a little later (a server that does not answer at all).
   */
  statementTimeoutMs?: number;
  /** A pooled connection failed while idle (the server restarted, the network dropped it); the pool replaces it. */
  onError?: (err: Error) => void;
}

/** How much longer than the server's statement timeout the client waits: the server's cancel normally comes first. */
const CLIENT_TIMEOUT_MARGIN_MS = 2_000;

/** A PostgreSQL pool (`postgres://` / `postgresql://` URL) with int8 and numeric read as numbers. */
export function openPostgres(url: string, opts: PostgresOptions = {}): Db {
  const statement = opts.statementTimeoutMs;
  const pool = new (loadPg().Pool)({
    connectionString: url,
    max: opts.max ?? 10,
    types: pgTypes,
    ...(opts.options ? { options: opts.options } : {}),
    ...(opts.connectTimeoutMs ? { connectionTimeoutMillis: opts.connectTimeoutMs } : {}),
    ...(statement ? { statement_timeout: statement, idle_in_transaction_session_timeout: statement, query_timeout: statement + CLIENT_TIMEOUT_MARGIN_MS } : {}),
  });
  // Without a listener, an idle connection's error (a restarted server) would crash the process.
  pool.on('error', (err) => opts.onError?.(err));
  return new Kysely<Database>({ dialect: new BotPostgresDialect({ pool }) });
}

/** A database as configured: DATABASE_URL's two kinds (PostgreSQL with PG_CONNECT_TIMEOUT_SECONDS, PG_STATEMENT_TIMEOUT_SECONDS). */
export type DatabaseTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; connectTimeoutMs?: number; statementTimeoutMs?: number };

/** The bot's database, migrated; PostgreSQL as a pool with the target's timeouts. */
export async function openMigrated(target: DatabaseTarget, onError?: (err: Error) => void): Promise<Db> {
  if (target.kind === 'sqlite') {
    const db = await openSqlite(target.path);
    await migrate(db);
    return db;
  }
  const { url, connectTimeoutMs, statementTimeoutMs } = target;
  // Migrations may rewrite big tables: they run on a pool of their own, without the statement timeout.
  const migrating = openPostgres(url, { connectTimeoutMs });
  try {
    await migrate(migrating);
  } finally {
    await migrating.destroy();
  }
  return openPostgres(url, { connectTimeoutMs, statementTimeoutMs, onError });
}

/** The URL with any password replaced by ***, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.href;
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

/** Opens a database only to look at it: SQLite read-only, PostgreSQL with one connection and a connect timeout. */
export async function openForReading(target: DatabaseTarget): Promise<Db> {
  return target.kind === 'sqlite' ? openSqlite(target.path, { readonly: true }) : openPostgres(target.url, { max: 1, connectTimeoutMs: 10_000 });
}

/** Names of the migrations applied to this database, sorted ([] when it has none yet). */
export async function appliedMigrations(db: Db): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === DEFAULT_MIGRATION_TABLE)) return [];
  const rows = await (db as Kysely<any>).selectFrom(DEFAULT_MIGRATION_TABLE).select('name').orderBy('name').execute();
  return rows.map((r) => r.name as string);
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
