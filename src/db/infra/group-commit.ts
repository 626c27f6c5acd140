import type { Db } from '../index.js';

interface Job {
  write: (trx: Db) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: writes asked for within one turn of the event loop run in one transaction, so a
 * burst (a thousand newcomers' /start at once) pays one commit, not one each; a commit costs more
 * than a small write (SQLite's WAL frames and locks, PostgreSQL's WAL flush). Each caller gets
 * its own result only once that transaction has committed, as with a write of its own. When the
 * shared transaction fails, each write runs again alone, so one bad write fails only its caller.
 * For short single-statement writes that do not depend on each other (retried alone, a write of
 * several statements would not be atomic).
 */
export class GroupCommit {
  private queue: Job[] = [];

  constructor(private readonly db: Db) {}

  run<T>(write: (trx: Db) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.queue.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const jobs = this.queue.splice(0);
    if (jobs.length === 1) return settle(jobs[0]!, this.db);
    let results: unknown[];
    try {
      results = await this.db.transaction().execute(async (trx) => {
        const out: unknown[] = [];
        for (const job of jobs) out.push(await job.write(trx));
        return out;
      });
    } catch {
      for (const job of jobs) await settle(job, this.db);
      return;
    }
    jobs.forEach((job, i) => job.resolve(results[i]));
  }
}

async function settle(job: Job, db: Db): Promise<void> {
  try {
    job.resolve(await job.write(db));
  } catch (err) {
    job.reject(err);
  }
}
