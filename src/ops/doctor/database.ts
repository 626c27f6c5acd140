import { appliedMigrations, type DatabaseTarget, openForReading, redactUrl } from '../../db/index.js';
import { type Check, errorText, fail, octal, pass, warn } from './check.js';

export const checkDatabase: Check = async (denv, config) => {
  const name = 'database';
  const { database } = config;
  let where: string;
  let fix: string;
  if (database.kind === 'sqlite') {
    const file = database.path;
    const info = await denv.stat(file);
    if (!info) return pass(name, `${file} does not exist yet (created on first start)`);
    if ((info.mode & 0o777) !== 0o600) return fail(name, `${file} has mode ${octal(info.mode)}, it holds private keys`, `chmod 600 ${file}`);
    where = file;
    fix = 'check the file is a SQLite database the bot wrote, or restore a backup from DATA_DIR/backups';
  } else {
    where = `PostgreSQL ${redactUrl(database.url)}`;
    fix = 'check DATABASE_URL (host, port, user, password, database) and that PostgreSQL is running and lets this user connect';
  }
  let applied: string[];
  try {
    applied = await denv.readMigrations(database);
  } catch (e) {
    return fail(name, `cannot read ${where}: ${errorText(e)}`, fix);
  }
  const unknown = applied.filter((m) => !denv.knownMigrations.includes(m));
  if (unknown.length) {
    return fail(name, `migrated by a newer version of the bot (unknown: ${unknown.join(', ')})`, 'run that newer version, or restore a backup made by this one');
  }
  const pending = denv.knownMigrations.filter((m) => !applied.includes(m));
  // Pending migrations are normal after an upgrade (or before the first start): the bot applies them on start.
  if (pending.length) return warn(name, `${where}: ${pending.length} migration(s) pending (${pending.join(', ')}), applied on next start`);
  return pass(name, `${where}, schema up to date (${applied.length} migration${applied.length === 1 ? '' : 's'})`);
};

export async function readMigrations(target: DatabaseTarget): Promise<string[]> {
  // SQLite read-only, so the doctor can look at the database of a running bot without disturbing it.
  const db = await openForReading(target);
  try {
    return await appliedMigrations(db);
  } finally {
    await db.destroy();
  }
}
