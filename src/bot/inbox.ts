import type { Api } from 'grammy';
import type { Update } from 'grammy/types';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { markHandled, storeUpdates, takeOrphanedUpdates } from '../db/inbox.js';
import type { Replica } from '../db/infra/locks.js';
import type { Priority } from './pacer.js';
import { type Polling, startPolling } from './polling.js';
import { UpdateQueue } from './updates.js';

/**
 * Updates handled at once. Replies leave at about 30 a second, so a burst beyond this only waits
 * in memory; more at once only costs memory and garbage collection (BENCHMARKS.md).
 */
const UPDATES_AT_ONCE = 50;
/**
 * Updates in hand at most, counting handlers waiting for their reply's turn (each holds ~20 KB:
 * a burst of 1,000 newcomers is handled at once, so their requests are filed at once).
 */
const UPDATES_IN_HAND = 1000;
/** Updates of one user handled at once: a flood holds no more slots than this. */
const UPDATES_PER_USER = 2;
/** Slots newcomers never take: members and admins are served during a burst of /start. */
const RESERVED_FOR_MEMBERS = 10;
/** At stop, updates in hand get this long to finish (the process has 9 s in all). */
const STOP_GRACE_MS = 3000;

export interface InboxOptions {
  db: Db;
  /** Updates are stored as this replica's; a dead replica's are taken over (takeOrphaned). */
  replica: Replica;
  handle: (update: Update) => Promise<void>;
  priorityOf: (userId: number) => Priority;
  log: Logger;
  now: () => number;
}

/**
 * Updates on their way from Telegram to the handlers, through the database: each is stored before
 * Telegram hears it arrived, handled from the queue (src/bot/updates.ts), and marked handled
 * afterwards, many in one statement; those a stop or a crash left are handled again.
 */
export class Inbox {
  readonly queue: UpdateQueue;
  private handled: number[] = [];

  constructor(private readonly o: InboxOptions) {
    this.queue = new UpdateQueue({
      handle: o.handle,
      done: (u) => {
        if (this.handled.push(u.update_id) === 1) setImmediate(() => void this.flush());
      },
      priorityOf: o.priorityOf,
      concurrency: UPDATES_AT_ONCE,
      maxInHand: UPDATES_IN_HAND,
      perUser: UPDATES_PER_USER,
      reserved: RESERVED_FOR_MEMBERS,
      log: o.log,
    });
  }

  /** A webhook's update: stored, then handled; a repeat of a stored one is not handled again. Telegram gets its 200 once this resolves. */
  async receive(update: Update): Promise<void> {
    for (const u of await storeUpdates(this.o.db, [update], this.o.replica.id, this.o.now())) this.queue.push(u);
  }

  /** Stored updates no live replica is handling (one died, or this process's last run stopped) are handled here now. */
  async takeOrphaned(): Promise<void> {
    const { replica } = this.o;
    for (const u of await takeOrphanedUpdates<Update>(this.o.db, replica.id, await replica.alive())) this.queue.push(u);
  }

  poll(api: Api): Polling {
    return startPolling({ api, db: this.o.db, replica: this.o.replica.id, queue: this.queue, log: this.o.log, now: this.o.now });
  }

  /**
   * The updates in hand finish (those still waiting for Telegram after the grace are handled again
   * at the next start); those not begun stay stored for it.
   */
  async stop(): Promise<void> {
    await this.queue.stop(STOP_GRACE_MS);
    await this.flush();
  }

  private async flush(): Promise<void> {
    const ids = this.handled;
    this.handled = [];
    await markHandled(this.o.db, ids, this.o.now()).catch((err) => this.o.log.warn({ err }, 'could not mark updates handled; they are handled again after a restart'));
  }
}
