import { createRequire } from 'node:module';
import type pg from 'pg';

const require = createRequire(import.meta.url);

/** The pg driver, loaded on first use: a bot on SQLite never loads it (about 14 MB of memory). */
export function loadPg(): typeof pg {
  return require('pg') as typeof pg;
}
