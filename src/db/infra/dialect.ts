import { type Kysely, PostgresAdapter } from 'kysely';

/** True when the database is PostgreSQL (the other dialect is SQLite). Usable from migrations and transactions. */
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
