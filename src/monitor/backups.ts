import type { Logger } from 'pino';
import { backupSqlite, pruneBackups } from '../db/infra/backup.js';

export interface BackupSchedule {
  stop(): Promise<void>;
}

/** A backup every interval into `dir`, the newest `keep` kept. Runs never overlap. */
export function startBackups(deps: { dbFile: string; dir: string; intervalMs: number; keep: number; log: Logger; now?: () => number }): BackupSchedule {
  const now = deps.now ?? Date.now;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const once = async () => {
    try {
      const file = await backupSqlite(deps.dbFile, deps.dir, now());
      const removed = await pruneBackups(deps.dir, deps.keep);
      deps.log.info({ file, removed: removed.length }, 'database backed up');
    } catch (err) {
      deps.log.error({ err }, 'scheduled backup failed');
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = running.then(once).then(schedule);
    }, deps.intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
