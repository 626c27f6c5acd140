import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findUser } from '../../src/db/users.js';
import { ADMIN_A, createHarness } from '../support/harness.js';

// Another process (a backup tool, a second replica, sqlite3 by hand) holds the write lock.
const HOLDER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN IMMEDIATE');
db.prepare("INSERT INTO audit_log (at, action) VALUES (1, 'other-writer')").run();
process.stdout.write('locked\\n');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]));
db.exec('COMMIT');
`;

describe('database locked by another writer', () => {
  it('the bot waits for the lock (busy timeout) instead of failing, and both writes survive', async () => {
    const h = await createHarness({ captcha: false, database: 'sqlite' /* SQLite's file lock and busy timeout */ });
    try {
      const child = spawn(process.execPath, ['-e', HOLDER, path.join(h.dir, 'bot.db'), '1500'], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
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
