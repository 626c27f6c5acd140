// Setup file of the vitest project "postgres": without a reachable PostgreSQL every test file of
// the project fails with this message. (Outside CI, vitest.config.ts leaves the project out
// instead when the server does not answer; under CI=true it never does.)
import { TEST_POSTGRES_WHERE, postgresReachable } from './database.js';

if (!(await postgresReachable())) {
  throw new Error(
    `PostgreSQL is not reachable at ${TEST_POSTGRES_WHERE}: the "postgres" test project needs it (start it, e.g. pg_ctlcluster <version> main start, or set TEST_POSTGRES_URL)`,
  );
}
