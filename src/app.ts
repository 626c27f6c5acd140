import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Api } from 'grammy';
import type { Logger } from 'pino';
import { AccessService } from './use-cases/access.js';
import { DeviceService } from './use-cases/devices.js';
import { ensureImitation, type ImitationSettings } from './use-cases/imitation.js';
import { installApiTransformers, plainTextFallback } from './bot/api.js';
import { Audience } from './bot/audience.js';
import { Broadcaster } from './broadcast/broadcaster.js';
import type { BotDeps } from './bot/context.js';
import { createBot } from './bot/create-bot.js';
import { setCommandMenus } from './bot/commands.js';
import { DEFAULT_LOCALE, Translator } from './bot/i18n.js';
import { Pacer } from './bot/pacer.js';
import { Inbox } from './bot/inbox.js';
import type { Polling } from './bot/polling.js';
import type { Config } from './config.js';
import { pruneInbox } from './db/inbox.js';
import { enqueue, pruneOutbox } from './db/outbox.js';
import { monitorAlert } from './monitor/alerts.js';
import { enforceLimits } from './use-cases/limits.js';
import { OutboxSender } from './outbox/sender.js';
import { GroupCommit } from './db/infra/group-commit.js';
import { backupSqlite, pruneBackups } from './db/infra/backup.js';
import { openMigrated } from './db/index.js';
import { openLockSession, replicasAlive } from './db/infra/locks.js';
import { setBlocked } from './db/users.js';
import { HealthWatch } from './health.js';
import { startHttp } from './http/server.js';
import { type LeaderJobs, startLeadership } from './leader.js';
import { createMetrics } from './metrics.js';
import { startBackups } from './monitor/backups.js';
import { startMonitor } from './monitor/index.js';
import { createRunner, type VpnRunner } from './vpn/runner.js';
import { openRunDir } from './vpn/run-dir.js';
import { SecretBox } from './vpn/secrets.js';
import { Fleet, type NodeRunner } from './vpn/fleet.js';
import { createSshRunner } from './vpn/ssh-runner.js';
import type { Node } from './db/schema.js';
import { localNodeRow, readNodesFile } from './vpn/nodes.js';
import type { VpnFlavor } from './vpn/types.js';
import { upsertNode } from './db/nodes.js';

/** Approvals, deliveries and updates younger than this may still be in progress (here or on another replica): recovery leaves them alone. */
const IN_FLIGHT_GRACE_MS = 10 * 60_000;
/** How often the leader looks for broadcasts confirmed on other replicas. */
const BROADCAST_PICKUP_MS = 5_000;
/** Handled updates and finished outbox rows are kept this long (a webhook retry is recognised; a failure can be looked at). */
const KEEP_HANDLED_MS = 86_400_000;
const KEEP_FINISHED_MS = 7 * 86_400_000;
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
 * The composition root: config → db → vpn → bot → monitor → updates (polling or webhook).
 * `runner` can be replaced so tests run the whole app against an in-memory interface; `throttle: false`
 * turns off the pacing of replies (the benchmark measures the bot's own cost per update).
 */
export async function startApp(config: Config, log: Logger, overrides: { runner?: VpnRunner; throttle?: boolean } = {}): Promise<App> {
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await fs.chmod(config.dataDir, 0o700);
  const { database } = config;
  const db = await openMigrated(database, (err) => log.warn({ err }, 'an idle database connection failed; the pool replaces it'));

  const now = Date.now;
  const v = config.vpn;
  // The nodes table is the source of truth; the configured nodes are written into it at every start.
  const local = v.local ? [localNodeRow(v, now())] : [];
  for (const row of local) await upsertNode(db, row);
  if (config.nodes.file) {
    for (const row of await readNodesFile(config.nodes.file, { flavor: v.flavor, sshKeyFile: config.nodes.sshKeyFile }, now(), local)) await upsertNode(db, row);
  }
  const runDir = overrides.runner ? null : await openRunDir(config.dataDir);
  if (runDir) log.info({ dir: runDir.path, leftoversRemoved: runDir.removed }, 'directory for temporary key files');
  const localRunner = (flavor: VpnFlavor) =>
    overrides.runner ?? createRunner(flavor, { logDir: path.join(config.dataDir, 'logs'), secretsDir: runDir!.path });
  const vpn = new Fleet({
    db,
    log: log.child({ module: 'vpn' }),
    shared: {
      dns: v.dns,
      allowedIps: v.allowedIps,
      mtu: v.mtu,
      awgProtocol: v.awgProtocol,
      removeUnknown: v.removeUnknown,
      nat: v.nat,
      local: { wanInterface: v.wanInterface, postUp: v.postUp, postDown: v.postDown },
    },
    runnerFor: (node) => (node.ssh_host === null ? localRunner(node.flavor) : sshRunner(node)),
    // A local node of the table is this host's only when it runs one (VPN_LOCAL=on).
    drives: (node) => node.ssh_host !== null || v.local,
    now,
    secrets: config.secretsKey ? new SecretBox(config.secretsKey) : undefined,
  });
  try {
    for (const [node, r] of await vpn.start()) {
      if (r instanceof Error) log.error({ node, err: r }, 'VPN node is down');
      else log.info({ node, added: r.added.length, removed: r.removed.length, unknown: r.unknown }, 'VPN node ready');
    }
  } catch (e) {
    await vpn.close();
    await runDir?.close();
    await db.destroy();
    throw e;
  }

  const imitation: ImitationSettings = { enabled: v.flavor === 'amneziawg' && v.awgProtocol === 2, ...v.imitation };
  await ensureImitation(db, imitation, now());

  const translator = new Translator();
  const metrics = createMetrics(db, Date.now, config.onlineWindowMs);
  const audience = new Audience(config.adminIds);
  await audience.load(db);
  // Every message this process sends takes its turn here: replies, the outbox and broadcasts.
  const pacer = Pacer.forTelegram();
  const access = new AccessService(db, vpn, log.child({ module: 'access' }), Date.now, {
    adminIds: config.adminIds,
    quotaBytes: config.limits.defaultQuotaBytes,
    days: config.limits.defaultDays,
  });
  const devices = new DeviceService(db, vpn, log.child({ module: 'devices' }), Date.now);
  const deps: BotDeps = {
    db,
    groupCommit: new GroupCommit(db),
    vpn,
    access,
    devices,
    audience,
    translator,
    log: log.child({ module: 'bot' }),
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
    maxPending: config.maxPending,
    requireApprovalPerDevice: config.requireApprovalPerDevice,
    nodeChoice: config.nodes.choice,
    nodeDefaults: { flavor: config.vpn.flavor, sshKeyFile: config.nodes.sshKeyFile },
    now: Date.now,
    randomInt: (max) => randomInt(max),
  };
  const bot = createBot(config.botToken, deps, { client: { apiRoot: config.telegramApiRoot } });
  const inbox = new Inbox({ db, handle: (u) => bot.handleUpdate(u), priorityOf: (userId) => audience.priorityOf(userId), log: log.child({ module: 'updates' }), now: Date.now });
  const onBlocked = (chatId: number) => setBlocked(db, chatId, Date.now());
  // A handler waiting for its reply's turn gives its update slot to the next update meanwhile.
  const pacing = overrides.throttle === false ? undefined : { pacer, priorityOf: (chatId: number) => audience.priorityOf(chatId), beforeWait: () => inbox.queue.yieldSlot() };
  installApiTransformers(bot.api, { log: deps.log, pacing, onBlocked });
  // Broadcasts get an API of their own that never repeats a request lost on the network; they pace themselves.
  const broadcastApi = new Api(config.botToken, { apiRoot: config.telegramApiRoot });
  installApiTransformers(broadcastApi, { log: deps.log, retryNetworkErrors: false, retry429: false, onBlocked });
  // Sends only while this replica leads (standby until then); confirmed anywhere, queued in the DB.
  const broadcaster = new Broadcaster(broadcastApi, deps, { standby: true, pacer });
  deps.broadcasts = broadcaster;
  // The outbox's API only falls back to plain text: the sender paces and retries itself.
  const outboxApi = new Api(config.botToken, { apiRoot: config.telegramApiRoot });
  outboxApi.config.use(plainTextFallback(deps.log));
  const outbox = new OutboxSender({ db, api: outboxApi, pacer, adminIds: config.adminIds, translator, vpn, now: Date.now, log: log.child({ module: 'outbox' }) });
  await bot.init();
  log.info({ username: bot.botInfo.username }, 'bot connected');

  await setCommandMenus(bot.api, translator, config.adminIds, log);

  const { webhook } = config.http;
  let polling: Polling | undefined;
  let stopping = false;
  const health = new HealthWatch({
    db,
    nodes: () => vpn.names(),
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
          bot.api.sendMessage(id, translator.t(locales.get(id) ?? DEFAULT_LOCALE, `monitor-${e.kind}`, params), { parse_mode: 'HTML' }).catch((err) => log.warn({ err, chatId: id }, 'could not send a database alert')),
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

  // The singleton jobs: on exactly one replica at a time (see src/leader.ts), started each time it
  // becomes the leader and stopped when it stops being one. Updates are handled by every replica.
  let firstTerm = true;
  const leaderJobs = (): LeaderJobs => {
    // At this process's start nothing is in flight here; when no other replica is alive either
    // (SQLite, or one replica on PostgreSQL) every interrupted approval and send is settled at once.
    // Otherwise another replica may be in the middle of one, so only what is clearly abandoned is.
    const first = firstTerm;
    firstTerm = false;
    const started = (async () => {
      const staleBefore = Date.now() - (first && (await alone()) ? 0 : IN_FLIGHT_GRACE_MS);
      await outbox.recover(staleBefore);
      outbox.start();
      await recover(staleBefore);
    })().catch((err) => log.error({ err }, 'recovering interrupted approvals and messages failed'));
    // Broadcasts confirmed on any replica (and those a previous leader left) are picked up here.
    const pickUp = () => void broadcaster.resume().catch((err) => log.error({ err }, 'picking up broadcasts failed'));
    pickUp();
    const pickUpTimer = setInterval(pickUp, Math.min(BROADCAST_PICKUP_MS, config.monitorIntervalMs));
    health.monitorStarted();
    const monitor = startMonitor({
      db,
      nodes: () => vpn.services(),
      onHealth: (node, up) => (up ? vpn.markUp(node) : vpn.markDown(node)),
      log: log.child({ module: 'monitor' }),
      intervalMs: config.monitorIntervalMs,
      onEvent: (e) => enqueue(db, monitorAlert(config.adminIds, e), Date.now()),
      onTick: (s) => {
        metrics.monitorTick.observe(s);
        health.ticked();
      },
      databaseUp: () => health.databaseUp(),
      quotaResetDay: config.limits.resetDay,
      afterTick: async (t) => {
        await enforceLimits({ db, access }, t);
        // What a replica that died left behind (not only this one's last run).
        await recover(t - IN_FLIGHT_GRACE_MS);
        await inbox.takeStored(t - IN_FLIGHT_GRACE_MS);
        await pruneInbox(db, t - KEEP_HANDLED_MS);
        await pruneOutbox(db, t - KEEP_FINISHED_MS);
      },
    });
    const backups =
      config.backups.intervalMs > 0 && config.database.kind === 'sqlite' ? startBackups({ dbFile: config.databasePath, ...config.backups, log: log.child({ module: 'backup' }) }) : undefined;
    return {
      async stop(stillLeading) {
        clearInterval(pickUpTimer);
        health.monitorStopped();
        await started;
        await broadcaster.stop(); // what is not sent yet stays queued for the next leader
        await outbox.stop();
        await monitor.stop();
        if (stillLeading) await monitor.tick(); // final flush: traffic up to this moment is counted
        await backups?.stop();
      },
    };
  };
  /** Approvals a crash interrupted are finished (or rolled back), and configs never queued are queued. */
  const recover = async (staleBefore: number) => {
    await access.recoverInterrupted(staleBefore);
    await devices.queueUnqueuedConfigs(staleBefore);
  };
  // Nodes added or removed on another replica are followed here too (every replica adds peers).
  const nodesTimer = setInterval(() => void vpn.refresh().catch((err) => log.warn({ err }, 'could not refresh the VPN nodes')), config.monitorIntervalMs);
  const leadership = await startLeadership({
    ...(database.kind === 'postgres' ? { connect: () => openLockSession(database.url, `andreyvpn ${os.hostname()} pid ${process.pid}`) } : {}),
    intervalMs: config.monitorIntervalMs,
    log: log.child({ module: 'leader' }),
    lead: leaderJobs,
    onChange: (leading) => {
      metrics.leader.set(leading ? 1 : 0);
      metrics.leaderChanges.inc({ event: leading ? 'acquired' : 'released' });
    },
  });
  // Updates stored but not handled when this process (or, alone, any replica) stopped go first.
  await inbox.takeStored((await alone()) ? Number.POSITIVE_INFINITY : Date.now() - IN_FLIGHT_GRACE_MS);

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
      await vpn.close();
      await runDir?.close();
      await db.destroy();
    },
  };
}

/** A node reached over SSH: the same commands, on its host; its files under the node's own paths. */
function sshRunner(node: Node): NodeRunner {
  return createSshRunner(node.flavor, {
    host: node.ssh_host!,
    port: node.ssh_port ?? 22,
    user: node.ssh_user ?? 'root',
    privateKeyFile: node.ssh_key_file!,
    hostKey: node.ssh_host_key!,
  }, { logDir: path.posix.join(node.state_dir ?? '/var/lib/andreyvpn', 'logs'), secretsDir: path.posix.join(node.state_dir ?? '/var/lib/andreyvpn', 'run') });
}
