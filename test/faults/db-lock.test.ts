import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findUser } from '../../src/db/users.js';
import { schemaUrl } from '../support/database.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';

// Another process (a backup tool, a second replica, sqlite3 or psql by hand) holds a write lock.
const SQLITE_HOLDER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN IMMEDIATE');
db.prepare("INSERT INTO audit_log (at, action) VALUES (1, 'other-writer')").run();
process.stdout.write('locked\\n');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]));
db.exec('COMMIT');
`;
// PostgreSQL locks rows and tables, not the file: the other writer locks the users table.
const POSTGRES_HOLDER = `
const pg = require('pg');
const c = new pg.Client({ connectionString: process.argv[1] });
(async () => {
  await c.connect();
  await c.query('BEGIN');
  await c.query('LOCK TABLE users IN EXCLUSIVE MODE');
  await c.query("INSERT INTO audit_log (at, action) VALUES (1, 'other-writer')");
  process.stdout.write('locked\\n');
  await new Promise((r) => setTimeout(r, Number(process.argv[2])));
  await c.query('COMMIT');
  await c.end();
})();
`;

function holdLock(h: Harness, ms: number) {
  const [script, target] = h.database === 'sqlite' ? [SQLITE_HOLDER, path.join(h.dir, 'bot.db')] : [POSTGRES_HOLDER, schemaUrl(h.pgSchema!)];
  return spawn(process.execPath, ['-e', script, target, String(ms)], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
}

describe('database locked by another writer', () => {
  it('the bot waits for the lock instead of failing, and both writes survive', async () => {
    const h = await createHarness({ captcha: false });
    try {
      const child = holdLock(h, 1500);
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const started = Date.now();
      await h.send({ id: 8080, first_name: 'Patient', language_code: 'en' }, '/start');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(await exited).toBe(0);
      expect((await findUser(h.db, 8080))?.status).toBe('pending');
      expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Access request');
      const other = await h.db.selectFrom('audit_log').selectAll().where('action', '=', 'other-writer').execute();
      expect(other).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});
