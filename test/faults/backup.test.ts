import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { pruneBackups } from '../../src/db/backup.js';
import { peersOnNode } from '../../src/db/peers.js';
import { FakeWg } from '../support/fake-wg.js';
import { ADMIN_A, createHarness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

describe('backups', () => {
  it('/backup sends a consistent 0600 snapshot; restored into a fresh DATA_DIR, every peer is back on the interface', async () => {
    const h = await createHarness({ captcha: false, database: 'sqlite' /* the SQLite backup API */ });
    const fresh = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-restore-'));
    try {
      const users: From[] = [1, 2, 3].map((i) => ({ id: 700 + i, first_name: `R${i}`, language_code: 'en' }));
      for (const u of users) {
        await h.send(u, '/start');
        await h.press(ADMIN_A, `apr:${u.id}`);
      }
      await h.press(ADMIN_A, `dis:${users[2]!.id}`);
      const stranger: From = { id: 799, first_name: 'S', language_code: 'en' };
      await h.send(stranger, '/backup');
      expect(h.rec.last('sendMessage', stranger.id)?.payload.text).toContain('admins only');
      expect(h.rec.find('sendDocument', stranger.id)).toHaveLength(0);

      await h.send(ADMIN_A, '/backup');
      const doc = h.rec.last('sendDocument', ADMIN_A.id)!;
      expect(doc.files.document!.name).toMatch(/^bot-\d{8}T\d{6}Z\.db$/);
      const [file] = await fs.readdir(path.join(h.dir, 'backups'));
      expect((await fs.stat(path.join(h.dir, 'backups', file!))).mode & 0o777).toBe(0o600);
      expect(doc.files.document!.data.equals(await fs.readFile(path.join(h.dir, 'backups', file!)))).toBe(true);

      // The documented restore: the backup becomes <DATA_DIR>/bot.db of a fresh install.
      await fs.writeFile(path.join(fresh, 'bot.db'), doc.files.document!.data, { mode: 0o600 });
      const check = new SQLite(path.join(fresh, 'bot.db'), { readonly: true });
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      check.close();
      const restored = await createHarness({ captcha: false, restartOf: { dir: fresh, wg: new FakeWg() } });
      const active = await peersOnNode(restored.db, 'awg0', 'active');
      expect(active).toHaveLength(2);
      expect([...restored.wg.peers.keys()].sort()).toEqual(active.map((p) => p.public_key).sort());
      expect(restored.wg.calls.some((c) => c.startsWith('up '))).toBe(true);
      await restored.send(users[0]!, '/config');
      const conf = restored.rec.last('sendDocument', users[0]!.id)!.files.document!.data.toString();
      const original = h.rec.find('sendDocument', users[0]!.id)[0]!.files.document!.data.toString();
      expect(conf).toBe(original);
      await restored.close();
    } finally {
      await h.close();
      await fs.rm(fresh, { recursive: true, force: true });
    }
  });

  it('pruning keeps the newest backups', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-prune-'));
    try {
      const names = ['bot-20260101T000000Z.db', 'bot-20260102T000000Z.db', 'bot-20260103T000000Z.db', 'unrelated.txt'];
      for (const n of names) await fs.writeFile(path.join(dir, n), 'x');
      await pruneBackups(dir, 2);
      expect((await fs.readdir(dir)).sort()).toEqual(['bot-20260102T000000Z.db', 'bot-20260103T000000Z.db', 'unrelated.txt']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
