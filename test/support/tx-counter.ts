import type { LogEvent } from 'kysely';

/**
 * Counts the transactions a SQLite connection runs, from Kysely's log (openSqlite's `log`):
 * each BEGIN, and each write run outside one (SQLite wraps it in one of its own).
 */
export class TransactionCounter {
  begins = 0;
  loneWrites = 0;
  private open = false;

  readonly log = (e: LogEvent): void => {
    const sql = e.query.sql.trimStart().toLowerCase();
    if (sql === 'begin') {
      this.begins++;
      this.open = true;
    } else if (sql === 'commit' || sql === 'rollback') this.open = false;
    else if (!this.open && /^(with\b[\s\S]*\b)?(insert|update|delete|replace)\b/.test(sql)) this.loneWrites++;
  };

  reset(): void {
    this.begins = 0;
    this.loneWrites = 0;
  }

  get transactions(): number {
    return this.begins + this.loneWrites;
  }
}
