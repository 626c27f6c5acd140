import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { pruneBackups } from '../../src/db/infra/backup.js';
import { peersOfUser, peersOnNode } from '../../src/db/peers.js';
import { FakeWg } from '../support/fake-wg.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

const USER: From = { id: 808, first_name: 'Vera', language_code: 'en' };
const confValue = (conf: string, key: string) => new RegExp(`^${key} = (.+)$`, 'm').exec(conf)![1]!;

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

  it('/backup with SECRETS_KEY says the keys in it are encrypted, and none is in it in clear; restoring it needs the key', async () => {
    const key = randomBytes(32);
    const h = await createHarness({ captcha: false, database: 'sqlite', secretsKey: key });
    const fresh = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-restore-'));
    try {
      await h.send(USER, '/start');
      await h.press(ADMIN_A, `apr:${USER.id}`);
      const conf = h.rec.last('sendDocument', USER.id)!.files.document!.data.toString();
      await h.fleet.node('awg0').flushConfig();
      const serverKey = confValue(await fs.readFile(path.join(h.dir, 'conf', 'awg0.conf'), 'utf8'), 'PrivateKey');
      for (const admin of [ADMIN_A, ADMIN_B]) await h.send(admin, '/backup');
      expect(h.rec.last('sendDocument', ADMIN_A.id)!.payload.caption).toContain('keys in it are encrypted with <code>SECRETS_KEY</code>');
      expect(h.rec.last('sendDocument', ADMIN_B.id)!.payload.caption).toContain('зашифрованы ключом <code>SECRETS_KEY</code>');
      const doc = h.rec.last('sendDocument', ADMIN_A.id)!.files.document!.data;
      const [peer] = await peersOfUser(h.db, USER.id);
      expect(doc.toString('latin1')).toContain(peer!.public_key); // the check reads what is stored
      for (const secret of [confValue(conf, 'PrivateKey'), confValue(conf, 'PresharedKey'), serverKey]) expect(doc.toString('latin1')).not.toContain(secret);

      await fs.writeFile(path.join(fresh, 'bot.db'), doc, { mode: 0o600 });
      await expect(createHarness({ captcha: false, restartOf: { dir: fresh, wg: new FakeWg() } })).rejects.toThrow(/set SECRETS_KEY/);
      const restored = await createHarness({ captcha: false, secretsKey: key, restartOf: { dir: fresh, wg: new FakeWg() } });
      await restored.send(USER, '/config');
      expect(restored.rec.last('sendDocument', USER.id)!.files.document!.data.toString()).toBe(conf);
      await restored.close();
    } finally {
      await h.close();
      await fs.rm(fresh, { recursive: true, force: true });
    }
  });

  it('/backup without SECRETS_KEY warns once, ever, that the file holds every key in clear and points to SECRETS_KEY', async () => {
    const h = await createHarness({ captcha: false, database: 'sqlite' });
    let restarted: Harness | undefined;
    try {
      await h.send(ADMIN_B, '/backup');
      const warning = h.rec.last('sendDocument', ADMIN_B.id)!.payload.caption as string;
      expect(warning).toContain('все ключи в открытом виде');
      expect(warning).toContain('Задайте <code>SECRETS_KEY</code>');
      await h.send(ADMIN_A, '/backup');
      expect(h.rec.last('sendDocument', ADMIN_A.id)!.payload.caption).toBe('💾 Database backup. It holds every key in clear: keep it private. Restore: see the README.');
      await h.crash();
      restarted = await createHarness({ captcha: false, restartOf: { dir: h.dir, wg: h.wg, telegram: h.rec.state } });
      await restarted.send(ADMIN_B, '/backup');
      expect(restarted.rec.last('sendDocument', ADMIN_B.id)!.payload.caption).toBe('💾 Резервная копия базы. В ней все ключи в открытом виде: храните её в тайне. Восстановление описано в README.');
    } finally {
      await (restarted ?? h).close();
    }
    // The English warning, as the first backup of another install shows it.
    const other = await createHarness({ captcha: false, database: 'sqlite' });
    try {
      await other.send(ADMIN_A, '/backup');
      const caption = other.rec.last('sendDocument', ADMIN_A.id)!.payload.caption as string;
      expect(caption).toContain('It holds every key in clear');
      expect(caption).toContain('Set <code>SECRETS_KEY</code>');
    } finally {
      await other.close();
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
