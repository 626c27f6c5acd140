import fs from 'node:fs/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';

const NAME_RE = /^bot-\d{8}T\d{6}Z\.db$/;

/**
 * A consistent online snapshot through SQLite's backup API, on a connection of its own so the
 * bot's connection is not held, copied in steps so the event loop is not blocked for long.
 * Written as a 0600 file in a 0700 directory; returns its path.
 */
export async function backupSqlite(dbFile: string, dir: string, now: number): Promise<string> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const dest = path.join(dir, `bot-${stamp}.db`);
  const tmp = `${dest}.partial`;
  const src = new SQLite(dbFile, { readonly: true, fileMustExist: true });
  try {
    await src.backup(tmp);
  } finally {
    src.close();
  }
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, dest);
  return dest;
}

/** Keeps the newest `keep` backups; returns the removed paths. */
export async function pruneBackups(dir: string, keep: number): Promise<string[]> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => NAME_RE.test(n)).sort();
  const old = names.slice(0, Math.max(0, names.length - keep)).map((n) => path.join(dir, n));
  for (const f of old) await fs.rm(f, { force: true });
  return old;
}
