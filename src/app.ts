import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import { Api } from 'grammy';
import type { Logger } from 'pino';
import { installApiTransformers, plainTextFallback } from './bot/api.js';
import { Audience } from './bot/audience.js';
import { setCommandMenus } from './bot/commands.js';
import type { BotDeps } from './bot/context.js';
import { createBot } from './bot/create-bot.js';
import { DEFAULT_LOCALE, Translator } from './bot/i18n.js';
import { Inbox } from './bot/inbox.js';
import { Pacer } from './bot/pacer.js';
import type { Polling } from './bot/polling.js';
import { HTML } from './bot/ui.js';
import { Broadcaster } from './broadcast/broadcaster.js';
import type { Config } from './config.js';
import { openMigrated } from './db/index.js';
import { backupSqlite, pruneBackups } from './db/infra/backup.js';
import { GroupCommit } from './db/infra/group-commit.js';
import { openLockSession, replicasAlive, thisReplica } from './db/infra/locks.js';
import { setBlocked } from './db/users.js';
import { HealthWatch } from './health.js';
import { startHttp } from './http/server.js';
import { startLeadership } from './leader.js';
import { leaderJobs } from './leader-jobs.js';
import { createMetrics } from './metrics.js';
import { OutboxSender } from './outbox/sender.js';
import { startFleet } from './start-fleet.js';
import { AccessService } from './use-cases/access.js';
import { DeviceService } from './use-cases/devices.js';
import { ensureImitation, type ImitationSettings } from './use-cases/imitation.js';
import type { VpnRunner } from './vpn/runner.js';

/** The database is probed (and the nodes' health read) at least this often, for /healthz and the outage alert. */
const HEALTH_PROBE_MS = 10_000;

export interface App {
  httpPort: number;
  /** Resolves when the app stops by itself (long polling ended: the token was refused); true = crashed. */
  done: Promise<boolean>;
  /** Stop taking updates, finish the ones in flight, flush the monitor, close the DB. */
  stop(): Promise<void>;
}

/**
 * The composition root: config → db → VPN nodes → use cases → bot, outbox, broadcasts → the
 * leader's jobs → updates (polling or webhook). `runner` can be replaced so tests run the whole app
 * against an in-memory interface; `throttle: false` turns off the pacing of replies (the benchmark
 * measures the bot's own cost per update).
 */
export async function startApp(config: Config, log: Logger, overrides: { runner?: VpnRunner; throttle?: boolean } = {}): Promise<App> {
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await fs.chmod(config.dataDir, 0o700);
  const { database } = config;
  const db = await openMigrated(database, (err) => log.warn({ err }, 'an idle database connection failed; the pool replaces it'));

  const v = config.vpn;
  const { fleet, runDir } = await startFleet(config, db, log, overrides.runner).catch(async (e: unknown) => {
    await db.destroy();
    throw e;
  });

  const imitation: ImitationSettings = { enabled: v.flavor === 'amneziawg' && v.awgProtocol === 2, ...v.imitation };
  await ensureImitation(db, imitation, Date.now());

  const translator = new Translator();
  const metrics = createMetrics(db, Date.now, config.onlineWindowMs);
  const audience = new Audience(config.adminIds);
  await audience.load(db);
  // Every message this process sends takes its turn here: replies, the outbox and broadcasts.
  const pacer = Pacer.forTelegram();
  // Work this process has in hand is marked as its own, so another replica takes it over if it dies.
  const replica = thisReplica(db, database.kind);
  const access = new AccessService(db, fleet, log.child({ module: 'access' }), Date.now, {
    replica,
    adminIds: config.adminIds,
    quotaBytes: config.limits.defaultQuotaBytes,
    days: config.limits.defaultDays,
    daysFromFirstHandshake: config.limits.daysFromFirstHandshake,
  });
  const devices = new DeviceService(db, fleet, log.child({ module: 'devices' }), Date.now);
  const botLog = log.child({ module: 'bot' });
  // Broadcasts get an API of their own that never repeats a request lost on the network; they pace themselves.
  const onBlocked = (chatId: number) => setBlocked(db, chatId, Date.now());
  const broadcastApi = new Api(config.botToken, { apiRoot: config.telegramApiRoot });
  installApiTransformers(broadcastApi, { log: botLog, retryNetworkErrors: false, retry429: false, onBlocked });
  // Sends only while this replica leads (standby until then); confirmed anywhere, queued in the DB.
  const broadcaster = new Broadcaster(broadcastApi, { db, log: botLog, translator, now: Date.now }, { standby: true, pacer });
  const deps: BotDeps = {
    db,
    groupCommit: new GroupCommit(db),
    fleet,
    broadcasts: broadcaster,
    access,
    devices,
    audience,
    translator,
    log: botLog,
    adminIds: config.adminIds,
    captcha: config.captcha,
    imitation,
    backup: async () => {
      // PostgreSQL is backed up with its own tools (pg_dump); /backup says so instead of sending a file.
      if (config.database.kind === 'postgres') return null;
      const file = await backupSqlite(config.databasePath, config.backups.dir, Date.now());
      await pruneBackups(config.backups.dir, config.backups.keep);
      return { file, keysEncrypted: config.secretsKey !== null };
    },
    metrics,
    onlineWindowMs: config.onlineWindowMs,
    maxDevicesPerUser: config.maxDevicesPerUser,
    periods: { resetDay: config.limits.resetDay, defaultPlan: config.limits.defaultPlan },
    defaultSpeed: config.vpn.defaultSpeed,
    maxPending: config.maxPending,
    requireApprovalPerDevice: config.requireApprovalPerDevice,
    nodeChoice: config.nodes.choice,
    nodeDefaults: { flavor: config.vpn.flavor, sshKeyFile: config.nodes.sshKeyFile },
    now: Date.now,
    randomInt: (max) => randomInt(max),
  };
  const bot = createBot(config.botToken, deps, { client: { apiRoot: config.telegramApiRoot } });
  const inbox = new Inbox({ db, replica, handle: (u) => bot.handleUpdate(u), priorityOf: (userId) => audience.priorityOf(userId), log: log.child({ module: 'updates' }), now: Date.now });
  // A handler waiting for its reply's turn gives its update slot to the next update meanwhile.
  const pacing = overrides.throttle === false ? undefined : { pacer, priorityOf: (chatId: number) => audience.priorityOf(chatId), beforeWait: () => inbox.queue.yieldSlot() };
  installApiTransformers(bot.api, { log: deps.log, pacing, onBlocked });
  // The outbox's API only falls back to plain text: the sender paces and retries itself.
  const outboxApi = new Api(config.botToken, { apiRoot: config.telegramApiRoot });
  outboxApi.config.use(plainTextFallback(deps.log));
  const outbox = new OutboxSender({ db, api: outboxApi, pacer, adminIds: config.adminIds, translator, fleet, now: Date.now, log: log.child({ module: 'outbox' }) });
  await bot.init();
  log.info({ username: bot.botInfo.username }, 'bot connected');

  await setCommandMenus(bot.api, translator, config.adminIds, log);

  const { webhook } = config.http;
  let polling: Polling | undefined;
  let stopping = false;
  const health = new HealthWatch({
    db,
    nodes: () => fleet.names(),
    adminIds: config.adminIds,
    botUp: () => !stopping && (webhook !== null || (polling?.isRunning() ?? false)),
    intervalMs: Math.min(config.monitorIntervalMs, HEALTH_PROBE_MS),
    // A tick may wait out a node's command timeouts; three intervals without one is a hung monitor.
    staleAfterMs: 3 * config.monitorIntervalMs + 30_000,
    // The outbox lives in the database that cannot be reached: the alert goes straight to Telegram, paced, and its recovery after it.
    onDatabase: async (e, locales) => {
      const params = e.kind === 'database-down' ? { error: e.error } : {};
      await Promise.all(
        config.adminIds.map((id) =>
          bot.api.sendMessage(id, translator.t(locales.get(id) ?? DEFAULT_LOCALE, `monitor-${e.kind}`, params), HTML).catch((err) => log.warn({ err, chatId: id }, 'could not send a database alert')),
        ),
      );
    },
    log: log.child({ module: 'health' }),
  });
  await health.start();

  // No other replica alive when this one started (with SQLite there is none): what is left over from
  // before is settled at once, not after IN_FLIGHT_GRACE_MS. Asked once the replica is announced.
  let aloneAtStart: Promise<boolean> | undefined;
  const alone = () => (aloneAtStart ??= config.database.kind === 'sqlite' ? Promise.resolve(true) : replicasAlive(db).then((n) => n <= 1));

  // Nodes added or removed on another replica are followed here too (every replica adds peers).
  const nodesTimer = setInterval(() => void fleet.refresh().catch((err) => log.warn({ err }, 'could not refresh the VPN nodes')), config.monitorIntervalMs);
  const leadership = await startLeadership({
    ...(database.kind === 'postgres' ? { connect: () => openLockSession(database.url, `andreyvpn ${os.hostname()} pid ${process.pid}`) } : {}),
    replica: replica.id,
    intervalMs: config.monitorIntervalMs,
    log: log.child({ module: 'leader' }),
    // The singleton jobs run on exactly one replica at a time; updates are handled by every replica.
    lead: leaderJobs({ config, db, fleet, access, devices, inbox, outbox, broadcaster, health, metrics, log, alone }),
    onChange: (leading) => {
      metrics.leader.set(leading ? 1 : 0);
      metrics.leaderChanges.inc({ event: leading ? 'acquired' : 'released' });
    },
  });
  // Alone, updates stored but not handled when the last run stopped go first; otherwise the leader
  // takes those of replicas that are gone at its next tick.
  if (await alone()) await inbox.takeOrphaned();

  // Webhook mode: Telegram POSTs updates to WEBHOOK_URL (proxied to our HTTP server).
  // Polling mode: any webhook left from an earlier run is removed first, or getUpdates fails.
  const httpServer = await startHttp({
    ...config.http,
    onUpdate: (update) => inbox.receive(update),
    metrics,
    log: log.child({ module: 'http' }),
    health: () => health.report(),
  });
  if (webhook) {
    await bot.api.setWebhook(webhook.url, { secret_token: webhook.secret });
  } else {
    await bot.api.deleteWebhook();
    polling = inbox.poll(bot.api);
  }
  log.info({ mode: webhook ? 'webhook' : 'polling', http: `${config.http.host}:${httpServer.port}` }, 'taking updates');

  // Polling that ends by itself (e.g. the token was revoked) ends the app, so a supervisor restarts it.
  const done = polling?.done.then((crashed) => crashed && !stopping) ?? new Promise<boolean>(() => {});

  return {
    httpPort: httpServer.port,
    done,
    async stop() {
      if (stopping) return;
      stopping = true;
      await httpServer.close();
      await polling?.stop();
      await inbox.stop();
      clearInterval(nodesTimer);
      await leadership.stop();
      await health.stop();
      await fleet.close();
      await runDir?.close();
      await db.destroy();
    },
  };
}
