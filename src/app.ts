import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type RunnerHandle, run } from '@grammyjs/runner';
import { Api } from 'grammy';
import type { Logger } from 'pino';
import { AccessService } from './access.js';
import { installApiTransformers } from './bot/api.js';
import { Broadcaster } from './broadcast/broadcaster.js';
import type { BotDeps } from './bot/context.js';
import { createBot } from './bot/create-bot.js';
import { LOCALES, Translator } from './bot/i18n.js';
import { broadcastToAdmins, limitsStep, resumeDeliveries } from './bot/messaging.js';
import type { Config } from './config.js';
import { GroupCommit } from './db/group-commit.js';
import { backupSqlite, pruneBackups } from './db/backup.js';
import { migrate, openDatabase, openSqlite } from './db/index.js';
import { openLockSession, replicasAlive } from './db/locks.js';
import { setBlocked } from './db/users.js';
import { startHttp } from './http/server.js';
import { type LeaderJobs, startLeadership } from './leader.js';
import { createMetrics } from './metrics.js';
import { startBackups } from './monitor/backups.js';
import { startMonitor } from './monitor/index.js';
import { createCli, type VpnCli } from './vpn/cli.js';
import { SecretBox } from './vpn/secrets.js';
import { Fleet, type NodeCli } from './vpn/fleet.js';
import { createSshCli } from './vpn/ssh-cli.js';
import type { Node } from './db/schema.js';
import { localNodeRow, readNodesFile } from './vpn/nodes.js';
import type { VpnFlavor } from './vpn/types.js';
import { upsertNode } from './db/nodes.js';

/** Approvals and deliveries younger than this may still be in progress (here or on another replica): recovery leaves them alone. */
const IN_FLIGHT_GRACE_MS = 10 * 60_000;
/** How often the leader looks for broadcasts confirmed on other replicas. */
const BROADCAST_PICKUP_MS = 5_000;
/**
 * Updates handled at once in polling mode (the runner's default is 500). Replies leave at about
 * 30 a second, so a burst beyond this only waits in memory; Telegram's webhooks default to 40.
 */
const UPDATES_AT_ONCE = 50;

export interface App {
  httpPort: number;
  /** Resolves when the app stops by itself (the long-polling runner died); true = crashed. */
  done: Promise<boolean>;
  /** Stop taking updates, finish the ones in flight, flush the monitor, close the DB. */
  stop(): Promise<void>;
}

/**
 * The composition root: config → db → vpn → bot → monitor → updates (polling or webhook).
 * `cli` can be replaced so tests run the whole app against an in-memory interface; `throttle: false`
 * turns off the 30 messages/s throttle of replies (the benchmark measures the bot's own cost per update).
 */
export async function startApp(config: Config, log: Logger, overrides: { cli?: VpnCli; throttle?: boolean } = {}): Promise<App> {
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await fs.chmod(config.dataDir, 0o700);
  const { db } = config.database.kind === 'postgres' ? await openDatabase(config.database.url) : { db: await openSqlite(config.database.path) };
  await migrate(db);

  const now = Date.now;
  const v = config.vpn;
  // The nodes table is the source of truth; the configured nodes are written into it at every start.
  if (v.local) await upsertNode(db, localNodeRow(v, now()));
  if (config.nodes.file) {
    for (const row of await readNodesFile(config.nodes.file, { flavor: v.flavor, sshKeyFile: config.nodes.sshKeyFile }, now())) await upsertNode(db, row);
  }
  const localCli = (flavor: VpnFlavor) =>
    overrides.cli ?? createCli(flavor, { logDir: path.join(config.dataDir, 'logs'), secretsDir: path.join(config.dataDir, 'run') });
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
    cliFor: (node) => (node.ssh_host === null ? localCli(node.flavor) : sshCli(node)),
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
    await db.destroy();
    throw e;
  }

  const translator = new Translator();
  const metrics = createMetrics(db, Date.now, config.onlineWindowMs);
  const deps: BotDeps = {
    db,
    groupCommit: new GroupCommit(db),
    vpn,
    access: new AccessService(db, vpn, log.child({ module: 'access' }), Date.now, { quotaBytes: config.limits.defaultQuotaBytes, days: config.limits.defaultDays }),
    translator,
    log: log.child({ module: 'bot' }),
    adminIds: config.adminIds,
    captcha: config.captcha,
    backup: async () => {
      // PostgreSQL is backed up with its own tools (pg_dump); /backup says so instead of sending a file.
      if (config.database.kind === 'postgres') return null;
      const file = await backupSqlite(config.databasePath, config.backups.dir, Date.now());
      await pruneBackups(config.backups.dir, config.backups.keep);
      return file;
    },
    metrics,
    onlineWindowMs: config.onlineWindowMs,
    maxDevicesPerUser: config.maxDevicesPerUser,
    requireApprovalPerDevice: config.requireApprovalPerDevice,
    nodeChoice: config.nodes.choice,
    nodeDefaults: { flavor: config.vpn.flavor, sshKeyFile: config.nodes.sshKeyFile },
    now: Date.now,
    randomInt: (max) => randomInt(max),
  };
  const bot = createBot(config.botToken, deps, { client: { apiRoot: config.telegramApiRoot } });
  installApiTransformers(bot.api, { log: deps.log, throttle: overrides.throttle, onBlocked: (chatId) => setBlocked(db, chatId, Date.now()) });
  // Broadcasts get an API of their own that never repeats a request lost on the network.
  const broadcastApi = new Api(config.botToken, { apiRoot: config.telegramApiRoot });
  installApiTransformers(broadcastApi, { log: deps.log, retryNetworkErrors: false, onBlocked: (chatId) => setBlocked(db, chatId, Date.now()) });
  // Sends only while this replica leads (standby until then); confirmed anywhere, queued in the DB.
  const broadcaster = new Broadcaster(broadcastApi, deps, { standby: true });
  deps.broadcasts = broadcaster;
  await bot.init();
  log.info({ username: bot.botInfo.username }, 'bot connected');

  for (const locale of LOCALES) {
    const describe = (c: string) => ({ command: c, description: translator.t(locale, `cmd-${c}`) });
    const languageCode = locale === 'en' ? undefined : locale;
    try {
      await bot.api.setMyCommands(['start', 'status', 'config', 'devices', 'language', 'help'].map(describe), { language_code: languageCode });
      for (const id of config.adminIds) {
        const all = ['start', 'status', 'config', 'devices', 'language', 'help', 'admin', 'nodes', 'invite', 'invites', 'broadcast', 'backup'].map(describe);
        await bot.api.setMyCommands(all, { scope: { type: 'chat', chat_id: id }, language_code: languageCode });
      }
    } catch (err) {
      log.warn({ err }, 'could not set the command menu');
    }
  }

  const limits = limitsStep(bot.api, deps);
  // The singleton jobs: on exactly one replica at a time (see src/leader.ts), started each time it
  // becomes the leader and stopped when it stops being one. Updates are handled by every replica.
  let firstTerm = true;
  const leaderJobs = (): LeaderJobs => {
    // At this process's start nothing is in flight here; when no other replica is alive either
    // (SQLite, or one replica on PostgreSQL) every interrupted approval is finished at once. Otherwise
    // another replica may be in the middle of one, so only what is clearly abandoned is recovered.
    const first = firstTerm;
    firstTerm = false;
    const recovery = (async () => {
      const alone = first && (config.database.kind === 'sqlite' || (await replicasAlive(db)) <= 1);
      await resumeDeliveries(bot.api, deps, Date.now() - (alone ? 0 : IN_FLIGHT_GRACE_MS));
    })().catch((err) => log.error({ err }, 'recovering interrupted approvals failed'));
    // Broadcasts confirmed on any replica (and those a previous leader left) are picked up here.
    const pickUp = () => void broadcaster.resume().catch((err) => log.error({ err }, 'picking up broadcasts failed'));
    pickUp();
    const pickUpTimer = setInterval(pickUp, Math.min(BROADCAST_PICKUP_MS, config.monitorIntervalMs));
    const monitor = startMonitor({
      db,
      nodes: () => vpn.services(),
      onHealth: (node, up) => (up ? vpn.markUp(node) : vpn.markDown(node)),
      log: log.child({ module: 'monitor' }),
      intervalMs: config.monitorIntervalMs,
      onEvent: (e) =>
        broadcastToAdmins(bot.api, deps, `monitor-${e.kind}`, {
          iface: e.node === e.iface ? e.iface : `${e.node}/${e.iface}`,
          keys: 'keys' in e ? e.keys.join('\n') : '',
          ticks: 'ticks' in e ? e.ticks : 0,
          error: 'error' in e ? e.error : '',
        }),
      onTick: (s) => metrics.monitorTick.observe(s),
      quotaResetDay: config.limits.resetDay,
      afterTick: async (t) => {
        await limits(t);
        // An approval or delivery left behind by a replica that died (not only by this one's last run).
        await resumeDeliveries(bot.api, deps, t - IN_FLIGHT_GRACE_MS);
      },
    });
    const backups =
      config.backups.intervalMs > 0 && config.database.kind === 'sqlite' ? startBackups({ dbFile: config.databasePath, ...config.backups, log: log.child({ module: 'backup' }) }) : undefined;
    return {
      async stop(stillLeading) {
        clearInterval(pickUpTimer);
        await broadcaster.stop(); // what is not sent yet stays queued for the next leader
        await monitor.stop();
        if (stillLeading) await monitor.tick(); // final flush: traffic up to this moment is counted
        await backups?.stop();
        await recovery;
      },
    };
  };
  const { database } = config;
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

  // Webhook mode: Telegram POSTs updates to WEBHOOK_URL (proxied to our HTTP server).
  // Polling mode: any webhook left from an earlier run is removed first, or getUpdates fails.
  const { webhook } = config.http;
  let runner: RunnerHandle | undefined;
  let stopping = false;
  const httpServer = await startHttp({
    ...config.http,
    bot,
    metrics,
    log: log.child({ module: 'http' }),
    health: async () => {
      const botUp = !stopping && (webhook !== null || (runner?.isRunning() ?? false));
      const ifaceUp = (await Promise.all(vpn.services().map((n) => n.ifindex().catch(() => null)))).some((i) => i !== null);
      return { ok: botUp && ifaceUp, bot: botUp ? 'up' : 'down', interface: ifaceUp ? 'up' : 'down' };
    },
  });
  if (webhook) {
    await bot.api.setWebhook(webhook.url, { secret_token: webhook.secret });
  } else {
    await bot.api.deleteWebhook();
    runner = run(bot, { sink: { concurrency: UPDATES_AT_ONCE } });
  }
  log.info({ mode: webhook ? 'webhook' : 'polling', http: `${config.http.host}:${httpServer.port}` }, 'taking updates');

  // A runner that dies (e.g. the token was revoked) ends the app, so a supervisor restarts it.
  const done = runner?.task()?.then(() => !stopping) ?? new Promise<boolean>(() => {});

  return {
    httpPort: httpServer.port,
    done,
    async stop() {
      if (stopping) return;
      stopping = true;
      await httpServer.close();
      if (runner?.isRunning()) await runner.stop();
      clearInterval(nodesTimer);
      await leadership.stop();
      await vpn.close();
      await db.destroy();
    },
  };
}

/** A node reached over SSH: the same commands, on its host; its files under the node's own paths. */
function sshCli(node: Node): NodeCli {
  return createSshCli(node.flavor, {
    host: node.ssh_host!,
    port: node.ssh_port ?? 22,
    user: node.ssh_user ?? 'root',
    privateKeyFile: node.ssh_key_file!,
    hostKey: node.ssh_host_key!,
  }, { logDir: path.posix.join(node.state_dir ?? '/var/lib/andreyvpn', 'logs'), secretsDir: path.posix.join(node.state_dir ?? '/var/lib/andreyvpn', 'run') });
}
