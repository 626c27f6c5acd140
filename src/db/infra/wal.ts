import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';
import { isPostgres } from './dialect.js';

// SQLite's write-ahead log; PostgreSQL has nothing to do here.

/** Moves the WAL into the database file and truncates it. */
export async function flushWal(db: Kysely<Database>): Promise<void> {
  if (isPostgres(db)) return;
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
}

/**
 * Copies what the WAL holds into the database file without waiting for readers or writers. The
 * monitor runs it while a dump is being taken, so the commit of a big tick does not have to
 * (wal_autocheckpoint is only the backstop).
 */
export async function checkpointWal(db: Kysely<Database>): Promise<void> {
  if (isPostgres(db)) return;
  await sql`PRAGMA wal_checkpoint(PASSIVE)`.execute(db);
}
