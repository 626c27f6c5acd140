import fs from 'node:fs/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, type Migration, Migrator, SqliteDialect } from 'kysely';
import * as m0001 from './migrations/0001_init.js';
import * as m0002 from './migrations/0002_broadcasts.js';
import * as m0003 from './migrations/0003_invites.js';
import * as m0004 from './migrations/0004_devices.js';
import * as m0005 from './migrations/0005_device_requests.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

const migrations: Record<string, Migration> = { '0001_init': m0001, '0002_broadcasts': m0002, '0003_invites': m0003, '0004_devices': m0004, '0005_device_requests': m0005 };

/** Names of every migration this version knows; `npm run doctor` compares them with the database. */
export const MIGRATIONS: readonly string[] = Object.keys(migrations);

export async function openSqlite(file: string): Promise<Db> {
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
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}

export async function migrate(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
