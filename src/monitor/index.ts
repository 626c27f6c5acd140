import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { VpnService } from '../vpn/service.js';
import { recordTraffic } from './traffic.js';

export type MonitorEvent =
  | { kind: 'interface-down'; iface: string }
  | { kind: 'interface-restored'; iface: string }
  | { kind: 'unknown-peers'; iface: string; keys: string[] }
  | { kind: 'failing'; iface: string; ticks: number; error: string }
  | { kind: 'recovered'; iface: string };

/** Failed ticks in a row before the admins hear of it: one bad dump is not an incident. */
export const FAILING_TICKS = 3;

export interface Monitor {
  /** Runs one tick now (waits for a running one first); ticks never overlap. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export interface MonitorDeps {
  db: Db;
  vpn: VpnService;
  log: Logger;
  intervalMs: number;
  /** Told once when the interface disappears and once when it is back (e.g. to message the admins). */
  onEvent?: (e: MonitorEvent) => Promise<void>;
  /** Duration of each tick, in seconds. */
  onTick?: (seconds: number) => void;
  /** Runs at the end of every successful tick, with the tick's clock (quotas and expiry). */
  afterTick?: (now: number) => Promise<void>;
  /** First day of the monthly quota period. */
  quotaResetDay?: number;
  now?: () => number;
}

/**
 * Every interval: one dump, traffic recorded in one transaction, then the interface reconciled
 * from the DB. An interface that vanished (its daemon killed, the module reloaded) is brought
 * back with all its peers; the changed ifindex then zeroes the traffic baselines.
 */
export function startMonitor(deps: MonitorDeps): Monitor {
  const { db, vpn, log, intervalMs } = deps;
  const now = deps.now ?? Date.now;
  const iface = vpn.settings.iface;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let down = false;
  let failures = 0;
  const reported = new Set<string>();

  const emit = async (e: MonitorEvent) => {
    try {
      await deps.onEvent?.(e);
    } catch (err) {
      log.warn({ err, event: e.kind }, 'could not report a monitor event');
    }
  };

  const restore = async () => {
    if (!down) {
      down = true;
      log.error({ iface }, 'the VPN interface is gone; bringing it back');
      await emit({ kind: 'interface-down', iface });
    }
    try {
      const r = await vpn.start();
      down = false;
      log.info({ iface, ...r }, 'VPN interface restored');
      await emit({ kind: 'interface-restored', iface });
    } catch (err) {
      log.error({ err, iface }, 'could not bring the VPN interface back; retrying next tick');
    }
  };

  const once = async () => {
    try {
      await work();
      if (failures >= FAILING_TICKS) await emit({ kind: 'recovered', iface });
      failures = 0;
    } catch (err) {
      failures++;
      log.error({ err, failures }, 'monitor tick failed');
      // One message per incident: on the Nth failure in a row, and once on recovery.
      if (failures === FAILING_TICKS) await emit({ kind: 'failing', iface, ticks: failures, error: String(err).slice(0, 300) });
    }
  };

  const work = async () => {
    const ifindex = await vpn.ifindex();
    if (ifindex === null) return restore();
    const dump = await vpn.readDump();
    const t = now();
    const updates = await recordTraffic(db, iface, dump, ifindex, t, deps.quotaResetDay);
    log.debug({ updated: updates.length }, 'traffic recorded');
    const { unknown } = await vpn.reconcile(dump);
    const fresh = unknown.filter((k) => !reported.has(k));
    if (fresh.length) {
      fresh.forEach((k) => reported.add(k));
      log.warn({ keys: fresh }, 'peers on the interface that the database does not know');
      await emit({ kind: 'unknown-peers', iface, keys: fresh });
    }
    await deps.afterTick?.(t);
  };

  const tick = () => {
    running = running.then(async () => {
      const started = performance.now();
      await once();
      deps.onTick?.((performance.now() - started) / 1000);
    });
    return running;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void tick().then(schedule);
    }, intervalMs);
  };
  schedule();

  return {
    tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
