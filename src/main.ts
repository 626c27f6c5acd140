import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type RunnerHandle, run } from '@grammyjs/runner';
import { AccessService } from './access.js';
import { installApiTransformers } from './bot/api.js';
import { createBot } from './bot/create-bot.js';
import type { BotDeps } from './bot/context.js';
import { LOCALES, Translator } from './bot/i18n.js';
import { broadcastToAdmins, resumeDeliveries } from './bot/messaging.js';
import { ConfigError, loadConfig } from './config.js';
import { backupSqlite, pruneBackups } from './db/backup.js';
import { migrate, openSqlite } from './db/index.js';
import { setBlocked } from './db/users.js';
import { startHttp } from './http/server.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { startBackups } from './monitor/backups.js';
import { startMonitor } from './monitor/index.js';
import { createCli } from './vpn/cli.js';
import { SecretBox, SecretsKeyError } from './vpn/secrets.js';
import { VpnService } from './vpn/service.js';

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

let stopping = false;

async function main(): Promise<void> {
  const config = readConfig();
  // Everything we write (database, server config, logs) holds secrets: owner-only.
  process.umask(0o077);
  await fs.promises.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await fs.promises.chmod(config.dataDir, 0o700);
  const log = createLogger(config.logLevel);

  const db = await openSqlite(config.databasePath);
  await migrate(db);

  const cli = createCli(config.vpn.flavor, { logDir: path.join(config.dataDir, 'logs'), secretsDir: path.join(config.dataDir, 'run') });
  const secrets = config.secretsKey ? new SecretBox(config.secretsKey) : undefined;
  const vpn = new VpnService(db, cli, config.vpn, log.child({ module: 'vpn' }), Date.now, secrets);
  let reconciled;
  try {
    reconciled = await vpn.start();
  } catch (e) {
    if (!(e instanceof SecretsKeyError)) throw e;
    process.stderr.write(`Refusing to start: ${e.message}\n`);
    process.exit(2);
  }
  log.info({ iface: config.vpn.iface, flavor: config.vpn.flavor, ...reconciled }, 'VPN interface ready');

  const translator = new Translator();
  const metrics = createMetrics(db);
  const deps: BotDeps = {
    metrics,
    db,
    vpn,
    access: new AccessService(db, vpn, log.child({ module: 'access' })),
    translator,
    log: log.child({ module: 'bot' }),
    adminIds: config.adminIds,
    captcha: config.captcha,
    backup: async () => {
      const file = await backupSqlite(config.databasePath, config.backups.dir, Date.now());
      await pruneBackups(config.backups.dir, config.backups.keep);
      return file;
    },
    now: Date.now,
    randomInt: (max) => randomInt(max),
  };
  const bot = createBot(config.botToken, deps, { client: { apiRoot: config.telegramApiRoot } });
  installApiTransformers(bot.api, { log: deps.log, onBlocked: (chatId) => setBlocked(db, chatId, Date.now()) });
  await bot.init();
  log.info({ username: bot.botInfo.username }, 'bot connected');

  for (const locale of LOCALES) {
    const commands = ['start', 'status', 'config', 'help'].map((c) => ({ command: c, description: translator.t(locale, `cmd-${c}`) }));
    const adminCommands = [...commands, ...['admin', 'backup'].map((c) => ({ command: c, description: translator.t(locale, `cmd-${c}`) }))];
    try {
      await bot.api.setMyCommands(commands, { language_code: locale === 'en' ? undefined : locale });
      for (const id of config.adminIds) {
        await bot.api.setMyCommands(adminCommands, { scope: { type: 'chat', chat_id: id }, language_code: locale === 'en' ? undefined : locale });
      }
    } catch (err) {
      log.warn({ err }, 'could not set the command menu');
    }
  }

  await resumeDeliveries(bot.api, deps);
  const monitor = startMonitor({
    db,
    vpn,
    log: log.child({ module: 'monitor' }),
    intervalMs: config.monitorIntervalMs,
    onEvent: (e) => broadcastToAdmins(bot.api, deps, `monitor-${e.kind}`, { iface: e.iface, keys: 'keys' in e ? e.keys.join('\n') : '' }),
    onTick: (s) => metrics.monitorTick.observe(s),
  });
  const backups =
    config.backups.intervalMs > 0
      ? startBackups({ dbFile: config.databasePath, ...config.backups, log: log.child({ module: 'backup' }) })
      : undefined;
  // Webhook mode: Telegram POSTs updates to WEBHOOK_URL (proxied to our HTTP server).
  // Polling mode: any webhook left from an earlier run is removed first, or getUpdates fails.
  const { webhook } = config.http;
  let runner: RunnerHandle | undefined;
  if (webhook) {
    await bot.api.setWebhook(webhook.url, { secret_token: webhook.secret });
  } else {
    await bot.api.deleteWebhook();
  }
  const httpServer = await startHttp({
    ...config.http,
    bot,
    metrics,
    log: log.child({ module: 'http' }),
    health: async () => {
      const botUp = webhook ? !stopping : (runner?.isRunning() ?? false);
      const ifaceUp = (await vpn.ifindex()) !== null;
      return { ok: botUp && ifaceUp, bot: botUp ? 'up' : 'down', interface: ifaceUp ? 'up' : 'down' };
    },
  });
  if (!webhook) runner = run(bot);
  log.info({ mode: webhook ? 'webhook' : 'polling', http: `${config.http.host}:${httpServer.port}` }, 'taking updates');

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown took too long, exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    // Stop taking updates and finish the ones in flight, then the monitor, then the DB.
    await httpServer.close();
    if (runner?.isRunning()) await runner.stop();
    await monitor.stop();
    await monitor.tick(); // final flush: traffic up to this moment is counted
    await backups?.stop();
    await db.destroy();
    log.info('stopped');
    process.exit(signal === 'runner stopped' ? 1 : 0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  // A crashed runner (e.g. the token was revoked) ends the process so a supervisor restarts it.
  void runner?.task()?.then(() => {
    if (!stopping) void shutdown('runner stopped');
  });
}

main().catch((err) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
