// Operations entry point, separate from the bot (src/main.ts):
//   node dist/cli.js doctor   checks the host and the configuration (exit 0 = all good, 1 = problems)
//   node dist/cli.js setup    writes .env (exit 0 = written, 1 = nothing written, 2 = bad values)
//   node dist/cli.js migrate-db --from sqlite:<path> --to postgres://…   (or MIGRATE_FROM_URL, MIGRATE_TO_URL)
//                             moves the database (exit 0 = moved and verified, 1 = failed and rolled back, 2 = refused or bad arguments)
import { loadEnvLayers } from './ops/env.js';
import { realDoctorEnv } from './ops/doctor/real-host.js';
import { runDoctor } from './ops/doctor/run.js';
import { MIGRATE_DB_USAGE, parseMigrateDbArgs, runMigrateDb } from './ops/migrate-db.js';
import { parseSetupArgs, runSetup, SETUP_USAGE, UsageError } from './ops/setup.js';
import { run } from './vpn/runner.js';

const USAGE = `usage: node dist/cli.js doctor
       ${SETUP_USAGE}
       ${MIGRATE_DB_USAGE}
`;

async function doctor(args: string[]): Promise<number> {
  if (args.length) throw new UsageError(`doctor takes no arguments (got ${args.join(' ')})`);
  const { env, envFile } = await loadEnvLayers(process.env);
  const report = await runDoctor(realDoctorEnv(env, { envFile }));
  process.stdout.write(`${report.lines.join('\n')}\n`);
  const failed = report.results.filter((r) => r.status === 'fail' || r.status === 'skip').length;
  process.stdout.write(report.ok ? '\nAll checks passed.\n' : `\n${failed} check(s) failed or could not run.\n`);
  return report.ok ? 0 : 1;
}

async function setup(args: string[]): Promise<number> {
  const opts = parseSetupArgs(args, process.env);
  return runSetup(opts, {
    input: process.stdin,
    output: process.stdout,
    errorOutput: process.stderr,
    fetch: globalThis.fetch,
    run: (bin, argv) => run(bin, argv, { timeoutMs: 5_000 }),
    env: process.env,
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'doctor') return await doctor(rest);
    if (command === 'setup') return await setup(rest);
    if (command === 'migrate-db') return await runMigrateDb(parseMigrateDbArgs(rest, process.env), { out: process.stdout, err: process.stderr });
    if (command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(USAGE);
      return 0;
    }
    throw new UsageError(command ? `unknown command: ${command}` : 'no command given');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n${USAGE}`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fatal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
