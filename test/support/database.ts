// The database a test runs on. Every test file that opens a database runs twice: in the vitest
// project "sqlite" (a SQLite file in a temp dir) and in the project "postgres"
// (TEST_DATABASE=postgres: a fresh schema in TEST_POSTGRES_URL per harness or app, dropped afterwards).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { type Db, migrate, openPostgres, openSqlite } from '../../src/db/index.js';

export type TestDatabase = 'sqlite' | 'postgres';

export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Where the bot in a network namespace finds PostgreSQL: the host's 127.0.0.1 is not the namespace's, a Unix socket is the same file everywhere. */
export const TEST_POSTGRES_SOCKET_DIR = process.env.TEST_POSTGRES_SOCKET_DIR ?? '/var/run/postgresql';

/** TEST_POSTGRES_URL without its password, for messages. */
export const TEST_POSTGRES_WHERE = TEST_POSTGRES_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');

export function defaultTestDatabase(): TestDatabase {
  return process.env.TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
}

/** True when TEST_POSTGRES_URL answers within a few seconds. */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Where a connection goes: TEST_POSTGRES_URL, or (`viaSocket`, from inside a network namespace) its Unix socket. */
export interface PostgresRoute {
  viaSocket?: boolean;
}

/** A connection to TEST_POSTGRES_URL (its default schema), for creating and dropping test schemas. */
function adminPool(route: PostgresRoute = {}): Db {
  return openPostgres(route.viaSocket ? viaSocket(new URL(TEST_POSTGRES_URL)).href : TEST_POSTGRES_URL, { max: 1 });
}

/** A fresh, empty schema and a pool whose search_path is that schema. */
export async function createPostgresSchema(route: PostgresRoute = {}): Promise<{ schema: string; db: Db; drop: () => Promise<void> }> {
  const schema = `h_${randomBytes(6).toString('hex')}`;
  const admin = adminPool(route);
  try {
    await sql`create schema ${sql.id(schema)}`.execute(admin);
  } finally {
    await admin.destroy();
  }
  const db = route.viaSocket ? openPostgres(schemaUrl(schema, route)) : openPostgresSchema(schema);
  return { schema, db, drop: () => dropPostgresSchema(schema, route) };
}

export function openPostgresSchema(schema: string): Db {
  return openPostgres(TEST_POSTGRES_URL, { options: `-c search_path=${schema}` });
}

export async function dropPostgresSchema(schema: string, route: PostgresRoute = {}): Promise<void> {
  const admin = adminPool(route);
  try {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(admin);
  } finally {
    await admin.destroy();
  }
}

/**
 * A DATABASE_URL for the bot on `schema` (pg reads `options` from the URL). `viaSocket`: through
 * TEST_POSTGRES_SOCKET_DIR, for a bot running inside a network namespace.
 */
export function schemaUrl(schema: string, opts: PostgresRoute = {}): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return (opts.viaSocket ? viaSocket(url) : url).href;
}

/** `url` through TEST_POSTGRES_SOCKET_DIR (pg reads `host` from the query). */
function viaSocket(url: URL): URL {
  if (!fs.existsSync(path.join(TEST_POSTGRES_SOCKET_DIR, `.s.PGSQL.${url.port || 5432}`))) {
    throw new Error(`a bot in a network namespace reaches PostgreSQL through its Unix socket, and there is none in ${TEST_POSTGRES_SOCKET_DIR}: set TEST_POSTGRES_SOCKET_DIR`);
  }
  url.searchParams.set('host', TEST_POSTGRES_SOCKET_DIR);
  return url;
}

/** A fresh, migrated database for repository-level tests: a SQLite file in `dir`, or a PostgreSQL schema. */
export async function openTestDatabase(dir: string, upTo?: string): Promise<{ db: Db; close: () => Promise<void> }> {
  if (defaultTestDatabase() === 'sqlite') {
    const db = await openSqlite(path.join(dir, 'bot.db'));
    await migrate(db, upTo);
    return { db, close: () => db.destroy() };
  }
  const { db, drop } = await createPostgresSchema();
  await migrate(db, upTo);
  return {
    db,
    close: async () => {
      await db.destroy();
      await drop();
    },
  };
}

export interface AppDatabase {
  kind: TestDatabase;
  /** What to add to the app's environment: DATABASE_URL under PostgreSQL; nothing for SQLite (the default file in DATA_DIR). */
  env: Record<string, string>;
  /** Opens the app's database from the test's side, to look at it. */
  open(): Promise<Db>;
  /** Drops the PostgreSQL schema (after the app has stopped). */
  drop(): Promise<void>;
}

/**
 * The database of an app started with startApp or as a process: under TEST_DATABASE=postgres a
 * fresh schema it gets through DATABASE_URL; otherwise its default SQLite file, DATA_DIR/bot.db.
 */
export async function appDatabase(opts: { dataDir: string; inNamespace?: boolean }): Promise<AppDatabase> {
  if (defaultTestDatabase() === 'sqlite') {
    return { kind: 'sqlite', env: {}, open: () => openSqlite(path.join(opts.dataDir, 'bot.db')), drop: async () => undefined };
  }
  const { schema, db, drop } = await createPostgresSchema();
  await db.destroy();
  return {
    kind: 'postgres',
    env: { DATABASE_URL: schemaUrl(schema, { viaSocket: opts.inNamespace }) },
    open: async () => openPostgresSchema(schema),
    drop,
  };
}

/**
 * The database refuses inserts into `table` whose `column` is `value` (a trigger: a real write
 * failure, in the middle of whatever transaction makes it). Returns the undo.
 */
export async function refuseInserts(db: Db, table: string, column: string, value: string): Promise<() => Promise<void>> {
  const name = `refuse_${table}`;
  if (defaultTestDatabase() === 'postgres') {
    await sql`create function ${sql.id(name)}() returns trigger language plpgsql as ${sql.lit(`begin if new.${column} = '${value}' then raise exception 'refused by the test'; end if; return new; end`)}`.execute(db);
    await sql`create trigger ${sql.id(name)} before insert on ${sql.table(table)} for each row execute function ${sql.id(name)}()`.execute(db);
    return async () => {
      await sql`drop trigger ${sql.id(name)} on ${sql.table(table)}`.execute(db);
      await sql`drop function ${sql.id(name)}()`.execute(db);
    };
  }
  await sql`create trigger ${sql.id(name)} before insert on ${sql.table(table)} when new.${sql.raw(column)} = ${sql.lit(value)} begin select raise(abort, 'refused by the test'); end`.execute(db);
  return async () => void (await sql`drop trigger ${sql.id(name)}`.execute(db));
}
