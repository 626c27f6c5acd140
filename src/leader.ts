import type pg from 'pg';
import type { Logger } from 'pino';
import { announceReplica, holdsLeaderLock, tryLeaderLock } from './db/infra/locks.js';

/** The singleton jobs of one term as leader. */
export interface LeaderJobs {
  /** stillLeading: false when the lock may be gone already (the job must not write as the leader any more). */
  stop(stillLeading: boolean): Promise<void>;
}

export interface LeadershipDeps {
  /**
   * PostgreSQL: opens the dedicated connection that holds the leader lock (src/db/infra/locks.ts).
   * Omitted with SQLite: one process per database, always the leader.
   */
  connect?: () => Promise<pg.Client>;
  /** This replica's id, announced on the lock session (announceReplica). */
  replica: number;
  /** How often a replica without the lock tries to take it, and the holder checks it still has it. */
  intervalMs: number;
  log: Logger;
  /** Starts the singleton jobs, each time this replica becomes the leader; must return at once. */
  lead: () => LeaderJobs;
  onChange?: (leading: boolean) => void;
}

export interface Leadership {
  isLeader(): boolean;
  /** Stops the jobs while still the leader (so they may finish cleanly), then releases the lock. */
  stop(): Promise<void>;
}

/**
 * Exactly one replica at a time runs the singleton jobs: the one whose dedicated connection holds
 * a session-level PostgreSQL advisory lock. The lock lives exactly as long as that connection, so
 * a replica that dies (even kill -9) frees it, and the next replica to try takes it. A holder
 * whose connection errors or closes stops its jobs at once, since it may no longer hold the lock,
 * and tries again later on a new connection. Resolves after the first attempt.
 */
export async function startLeadership(d: LeadershipDeps): Promise<Leadership> {
  const { log } = d;
  let session: pg.Client | undefined;
  let jobs: LeaderJobs | undefined;
  // Jobs of an earlier term still winding down; a new term starts after them.
  let winding: Promise<void> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> = Promise.resolve();

  const resign = (reason: unknown, stillLeading: boolean) => {
    const j = jobs;
    jobs = undefined;
    if (!j) return;
    if (stillLeading) log.info('stepping down as the leader');
    else log.warn({ err: reason }, 'lost the leader lock: singleton jobs stopped');
    d.onChange?.(false);
    winding = winding.then(() => j.stop(stillLeading)).catch((err) => log.error({ err }, 'stopping the singleton jobs failed'));
  };

  const closeSession = async () => {
    const s = session;
    session = undefined;
    if (!s) return;
    s.removeAllListeners();
    s.on('error', () => {});
    await s.end().catch(() => {});
  };

  // The session is gone or unusable: whatever the lock's state, this replica no longer leads.
  const drop = (reason: unknown) => {
    void closeSession();
    resign(reason, false);
  };

  const connect = async (): Promise<pg.Client> => {
    const s = await d.connect!();
    await announceReplica(s, d.replica).catch(async (err) => {
      await s.end().catch(() => {});
      throw err;
    });
    s.on('error', (err) => {
      if (session === s) drop(err);
    });
    s.on('end', () => {
      if (session === s) drop(new Error('the leader lock connection closed'));
    });
    session = s;
    return s;
  };

  const lead = async (s: pg.Client | undefined) => {
    await winding;
    if (stopped || session !== s) return; // the session died meanwhile, and the lock with it
    jobs = d.lead();
    log.info('became the leader: running the monitor, broadcasts and recovery here');
    d.onChange?.(true);
  };

  const once = async () => {
    try {
      if (!d.connect) {
        if (!jobs) await lead(undefined);
        return;
      }
      const s = session ?? (await connect());
      if (jobs) {
        if (!(await holdsLeaderLock(s))) drop(new Error('the leader lock is no longer held'));
      } else if (await tryLeaderLock(s)) {
        await lead(s);
      }
    } catch (err) {
      log.warn({ err }, 'leader lock: database unreachable, retrying');
      drop(err);
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      attempt = once().then(schedule);
    }, d.intervalMs);
  };

  attempt = once();
  await attempt;
  schedule();

  return {
    isLeader: () => jobs !== undefined,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await attempt;
      resign(null, true);
      await winding;
      // Ending the session releases the lock; another replica takes it on its next try.
      await closeSession();
    },
  };
}
