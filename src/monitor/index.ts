import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { VpnService } from '../vpn/service.js';
import { recordTraffic } from './traffic.js';

export interface Monitor {
  /** Runs one tick now (waits for a running one first); ticks never overlap. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/** Every interval: one dump, traffic recorded in one transaction, then the interface reconciled from the DB. */
export function startMonitor(deps: { db: Db; vpn: VpnService; log: Logger; intervalMs: number }): Monitor {
  const { db, vpn, log, intervalMs } = deps;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const once = async () => {
    try {
      const ifindex = await vpn.ifindex();
      const dump = await vpn.readDump();
      const updates = await recordTraffic(db, vpn.settings.iface, dump, ifindex);
      log.debug({ updated: updates.length }, 'traffic recorded');
      await vpn.reconcile(dump);
    } catch (err) {
      log.error({ err }, 'monitor tick failed');
    }
  };

  const tick = () => {
    running = running.then(once);
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
