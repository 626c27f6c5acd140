import { configDefaults, defineConfig } from 'vitest/config';
import { TEST_POSTGRES_WHERE, postgresReachable } from './test/support/database.js';

// Two projects run the suite: "sqlite" (SQLite files) and "postgres" (TEST_DATABASE=postgres: a
// fresh schema per harness or app in TEST_POSTGRES_URL). Both run under `npm test`.

/** Test files that never open a database: they run in the sqlite project only. */
const NO_DATABASE = [
  'test/bench/bench.test.ts',
  'test/bot/pacer.test.ts',
  'test/bot/traffic-chart.test.ts',
  'test/bot/updates.test.ts',
  'test/bot/units.test.ts',
  'test/architecture.test.ts',
  'test/config/config.test.ts',
  'test/deploy/compose.test.ts',
  'test/deploy/dockerfile.test.ts',
  'test/deploy/systemd.test.ts',
  'test/faults/properties.test.ts',
  'test/ops/cli.test.ts',
  'test/ops/setup.test.ts',
  'test/support-tests/amneziawg.test.ts',
  'test/support-tests/bot-api.test.ts',
  'test/support-tests/bot-api-webhook.test.ts',
  'test/support-tests/netns.test.ts',
  'test/vpn/amnezia-key.test.ts',
  'test/vpn/amneziawg.test.ts',
  'test/vpn/argv.test.ts',
  'test/vpn/dump.test.ts',
  'test/vpn/imitation-live.test.ts',
  'test/vpn/imitation.test.ts',
  'test/vpn/keys.test.ts',
  'test/vpn/params.test.ts',
  'test/vpn/pool.test.ts',
  'test/vpn/qr.test.ts',
  'test/vpn/render.test.ts',
  'test/vpn/run-dir.test.ts',
  'test/vpn/runner.test.ts',
  'test/vpn/shaper.test.ts',
  'test/vpn/ssh-host-key.test.ts',
];

/** Tests of PostgreSQL itself and of moving to it: the postgres project only. */
const POSTGRES_ONLY = ['test/db/postgres.test.ts', 'test/deploy/large-setup.test.ts', 'test/db/infra/copy-to-postgres.test.ts', 'test/db/outage.test.ts'];

// Like every real part: outside CI a missing PostgreSQL skips its project; under CI=true the
// project stays and fails (test/support/postgres-gate.ts).
const withPostgres = process.env.CI === 'true' || (await postgresReachable());
if (!withPostgres) console.warn(`PostgreSQL is not reachable at ${TEST_POSTGRES_WHERE}: the "postgres" test project is skipped (under CI=true it fails)`);

export default defineConfig({
  test: {
    projects: [
      { extends: true, test: { name: 'sqlite', env: { TEST_DATABASE: 'sqlite' }, exclude: [...configDefaults.exclude, ...POSTGRES_ONLY] } },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                env: { TEST_DATABASE: 'postgres' },
                exclude: [...configDefaults.exclude, ...NO_DATABASE],
                setupFiles: ['test/support/postgres-gate.ts'],
              },
            },
          ]
        : []),
    ],
  },
});
