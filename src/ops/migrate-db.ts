// `npm run migrate-db -- --from sqlite:<path> --to postgres://…`: the command around
// src/db/infra/copy-to-postgres.ts. Exit 0: moved and verified; 1: the copy or its verification failed and the
// target was rolled back; 2: bad arguments, or a source or target it refuses (nothing changed).
// MIGRATE_FROM_URL / MIGRATE_TO_URL stand in for --from / --to: argv is world-readable (ps,
// /proc/<pid>/cmdline), the environment only to the owner, so the password is better there.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { isPostgresUrl, openPostgres, openSqlite, redactUrl } from '../db/index.js';
import { MoveError, type MoveOptions, moveDatabase, type TableCheck, tableMatches } from '../db/infra/copy-to-postgres.js';
import { UsageError } from './setup.js';

export const MIGRATE_DB_USAGE = `node dist/cli.js migrate-db --from sqlite:<path> --to postgres://user:password@host:5432/db
         (or MIGRATE_FROM_URL=sqlite:<path> MIGRATE_TO_URL=postgres://… in the environment, where ps does not show the password)`;

export interface MigrateDbArgs {
  /** The SQLite file. */
  from: string;
  /** The PostgreSQL URL. */
  to: string;
}

/** The flags, each of which may instead come from the environment (the flag wins). */
export function parseMigrateDbArgs(argv: string[], env: Record<string, string | undefined>): MigrateDbArgs {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { from: { type: 'string' }, to: { type: 'string' } } }));
  } catch (e) {
    throw new UsageError(`migrate-db: ${(e as Error).message}`);
  }
  const from = values.from ?? env.MIGRATE_FROM_URL;
  const to = values.to ?? env.MIGRATE_TO_URL;
  const fromName = values.from === undefined ? 'MIGRATE_FROM_URL' : '--from';
  const toName = values.to === undefined ? 'MIGRATE_TO_URL' : '--to';
  if (!from || !to) {
    const missing = [!from && '--from sqlite:<path> (or MIGRATE_FROM_URL)', !to && '--to postgres://… (or MIGRATE_TO_URL)'];
    throw new UsageError(`migrate-db: ${missing.filter(Boolean).join(' and ')} required`);
  }
  if (!from.startsWith('sqlite:') || from === 'sqlite:') throw new UsageError(`migrate-db: ${fromName} must be sqlite:<path to the bot's database> (got ${JSON.stringify(from)})`);
  if (!isPostgresUrl(to)) throw new UsageError(`migrate-db: ${toName} must be a postgres:// or postgresql:// URL (got ${JSON.stringify(redactUrl(to))})`);
  return { from: path.resolve(from.slice('sqlite:'.length)), to };
}

const short = (checksum: string) => checksum.slice(0, 16);

export function formatChecks(checks: TableCheck[]): string[] {
  const width = Math.max(5, ...checks.map((c) => c.table.length));
  const head = `${'table'.padEnd(width)}  ${'rows (sqlite)'.padStart(13)}  ${'rows (pg)'.padStart(13)}  ${'checksum (sqlite)'.padEnd(17)}  checksum (pg)`;
  return [
    head,
    ...checks.map(
      (c) =>
        `${c.table.padEnd(width)}  ${String(c.sourceRows).padStart(13)}  ${String(c.targetRows).padStart(13)}  ${short(c.sourceChecksum).padEnd(17)}  ${short(c.targetChecksum).padEnd(17)}  ${tableMatches(c) ? 'ok' : 'MISMATCH'}`,
    ),
  ];
}

export async function runMigrateDb(args: MigrateDbArgs, io: { out: Writable; err: Writable }, opts: MoveOptions = {}): Promise<number> {
  const target = redactUrl(args.to);
  if (!(await fs.stat(args.from).catch(() => null))?.isFile()) {
    io.err.write(`migrate-db: there is no SQLite database at ${args.from}\n`);
    return 2;
  }
  io.out.write(`Moving sqlite:${args.from} to ${target}\n`);
  const source = await openSqlite(args.from, { readonly: true });
  const dest = openPostgres(args.to, { max: 2, connectTimeoutMs: 10_000 });
  try {
    const checks = await moveDatabase(source, dest, {
      ...opts,
      onCopied: (table, rows) => {
        io.out.write(`  copied ${table}: ${rows} row${rows === 1 ? '' : 's'}\n`);
        opts.onCopied?.(table, rows);
      },
    });
    const rows = checks.reduce((n, c) => n + c.targetRows, 0);
    io.out.write(`${formatChecks(checks).join('\n')}\n`);
    io.out.write(`Moved ${rows} rows in ${checks.length} tables; every count and checksum matches.\n`);
    io.out.write(`Next: set DATABASE_URL=${target} (with the real password) for the bot, and start it.\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof MoveError)) {
      io.err.write(`migrate-db: ${e instanceof Error ? e.message : String(e)} (the target is unchanged)\n`);
      return 1;
    }
    if (e.tables.length) io.out.write(`${formatChecks(e.tables).join('\n')}\n`);
    io.err.write(`migrate-db: ${e.message}\n`);
    return e.kind === 'refused' ? 2 : 1;
  } finally {
    await source.destroy();
    await dest.destroy();
  }
}
