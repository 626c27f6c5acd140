import type { Logger } from 'pino';
import type { Inbox } from './bot/inbox.js';
import type { Broadcaster } from './broadcast/broadcaster.js';
import type { Config } from './config.js';
import type { Db } from './db/index.js';
import { pruneInbox } from './db/inbox.js';
import { enqueue, pruneOutbox } from './db/outbox.js';
import type { HealthWatch } from './health.js';
import type { LeaderJobs } from './leader.js';
import type { Metrics } from './metrics.js';
import { monitorAlert } from './monitor/alerts.js';
import { startBackups } from './monitor/backups.js';
import { startMonitor } from './monitor/index.js';
import type { OutboxSender } from './outbox/sender.js';
import type { AccessService } from './use-cases/access.js';
import type { DeviceService } from './use-cases/devices.js';
import { enforceLimits } from './use-cases/limits.js';
import { sendReminders } from './use-cases/reminders.js';
import { recoverInterrupted } from './use-cases/recovery.js';
import { watchSharing } from './use-cases/sharing.js';
import type { Fleet } from './vpn/fleet.js';

/** Deliveries younger than this may still be in progress (here or on another replica): recovery leaves them alone. Approvals and updates name their replica instead. */
export const IN_FLIGHT_GRACE_MS = 10 * 60_000;
/** How often the leader looks for broadcasts confirmed on other replicas. */
const BROADCAST_PICKUP_MS = 5_000;
/** Handled updates and finished outbox rows are kept this long (a webhook retry is recognised; a failure can be looked at). */
const KEEP_HANDLED_MS = 86_400_000;
const KEEP_FINISHED_MS = 7 * 86_400_000;

export interface LeaderJobDeps {
  config: Config;
  db: Db;
  fleet: Fleet;
  access: AccessService;
  devices: DeviceService;
  inbox: Inbox;
  outbox: OutboxSender;
  broadcaster: Broadcaster;
  health: HealthWatch;
  metrics: Metrics;
  log: Logger;
  /** No other replica was alive when this one started. */
  alone: () => Promise<boolean>;
}

/**
 * The singleton jobs (see src/leader.ts): recovery, the outbox, broadcasts, the monitor with the
 * limits and reminders steps, backups; started each time this replica becomes the leader,
 * stopped when it stops.
 */
export function leaderJobs(deps: LeaderJobDeps): () => LeaderJobs {
  const { config, db, fleet, inbox, outbox, broadcaster, health, metrics, log } = deps;
  let firstTerm = true;
  return () => {
    // At this process's start nothing is in flight here; when no other replica is alive either
    // (SQLite, or one replica on PostgreSQL) every interrupted approval and send is settled at once.
    // Otherwise another replica may be in the middle of one, so only what is clearly abandoned is.
    const first = firstTerm;
    firstTerm = false;
    const started = (async () => {
      const staleBefore = Date.now() - (first && (await deps.alone()) ? 0 : IN_FLIGHT_GRACE_MS);
      await outbox.recover(staleBefore);
      outbox.start();
      await recoverInterrupted(deps, staleBefore);
    })().catch((err) => log.error({ err }, 'recovering interrupted approvals and messages failed'));
    // Broadcasts confirmed on any replica (and those a previous leader left) are picked up here.
    const pickUp = () => void broadcaster.resume().catch((err) => log.error({ err }, 'picking up broadcasts failed'));
    pickUp();
    const pickUpTimer = setInterval(pickUp, Math.min(BROADCAST_PICKUP_MS, config.monitorIntervalMs));
    health.monitorStarted();
    const monitor = startMonitor({
      db,
      nodes: () => fleet.services(),
      onHealth: (node, up) => (up ? fleet.markUp(node) : fleet.markDown(node)),
      log: log.child({ module: 'monitor' }),
      intervalMs: config.monitorIntervalMs,
      onEvent: (e) => enqueue(db, monitorAlert(config.adminIds, e), Date.now()),
      onEndpointMoves: async (moves, t) => {
        await watchSharing({ db, access: deps.access, adminIds: config.adminIds, sharing: config.sharing }, moves, t);
      },
      onTick: (s) => {
        metrics.monitorTick.observe(s);
        health.ticked();
      },
      databaseUp: () => health.databaseUp(),
      periods: { resetDay: config.limits.resetDay, defaultPlan: config.limits.defaultPlan, usageSummary: config.limits.usageSummary },
      afterTick: async (t) => {
        await enforceLimits(deps, t);
        await sendReminders({ db, adminIds: config.adminIds, enabled: config.reminders }, t);
        // What a replica that died left behind (not only this one's last run).
        await recoverInterrupted(deps, t - IN_FLIGHT_GRACE_MS);
        await inbox.takeOrphaned();
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
}
