import fs from 'node:fs';
import { startApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { SecretsKeyError } from './vpn/secrets.js';

const SHUTDOWN_DEADLINE_MS = 9_000;

function readConfig() {
  // Variables already in the environment win over .env.
  const envFile = process.env.ENV_FILE ?? '.env';
  if (fs.existsSync(envFile)) process.loadEnvFile(envFile);
  try {
    return loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  // Everything we write (database, server config, logs) holds secrets: owner-only.
  process.umask(0o077);
  const log = createLogger(config.logLevel);
  let app;
  try {
    app = await startApp(config, log);
  } catch (e) {
    if (!(e instanceof SecretsKeyError)) throw e;
    process.stderr.write(`Refusing to start: ${e.message}\n`);
    process.exit(2);
  }

  let stopping = false;
  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown took too long, exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    await app.stop();
    log.info('stopped');
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  void app.done.then((crashed) => {
    if (crashed) void shutdown('update runner stopped', 1);
  });
}

main().catch((err) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
