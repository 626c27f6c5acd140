import { type Api, GrammyError } from 'grammy';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { storedOffset, storeUpdates } from '../db/inbox.js';
import type { UpdateQueue } from './updates.js';

/** Long polling stops asking while this many updates wait to be handled (memory stays bounded; Telegram keeps the rest). */
const MAX_WAITING = 1000;

export interface PollingOptions {
  api: Api;
  db: Db;
  /** This replica's id: updates are stored as its own. */
  replica: number;
  queue: UpdateQueue;
  log: Logger;
  now: () => number;
  /** Seconds a getUpdates call may wait for updates (Telegram's long poll). */
  timeoutSeconds?: number;
}

export interface Polling {
  /** Resolves when polling ended: true when it ended by itself (the token was revoked), false after stop(). */
  done: Promise<boolean>;
  isRunning(): boolean;
  stop(): Promise<void>;
}

/**
 * Long polling with a durable inbox: each batch is stored, with the offset that confirms it, in one
 * transaction before the next getUpdates confirms it to Telegram. A crash before the store loses
 * nothing (Telegram sends the batch again); after it, the stored updates are handled at start.
 * Network errors and 5xx are waited out with a growing pause; 401/404 (Telegram refuses the
 * token) end it.
 */
export function startPolling(o: PollingOptions): Polling {
  const abort = new AbortController();
  let running = true;
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const loop = async (): Promise<boolean> => {
    let offset = await storedOffset(o.db);
    let failures = 0;
    while (!abort.signal.aborted) {
      if (o.queue.pending > MAX_WAITING) {
        await sleep(50);
        continue;
      }
      let updates;
      try {
        updates = await o.api.getUpdates({ offset, limit: 100, timeout: o.timeoutSeconds ?? 30 }, abort.signal as unknown as Parameters<Api['getUpdates']>[1]);
        failures = 0;
      } catch (err) {
        if (abort.signal.aborted) break;
        if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
          o.log.fatal({ err }, 'Telegram refuses the token: polling stops');
          return true;
        }
        failures++;
        o.log.warn({ err, failures }, 'getUpdates failed; trying again');
        await sleep(Math.min(5000, 100 * 2 ** failures));
        continue;
      }
      if (updates.length === 0) continue;
      const next = updates.at(-1)!.update_id + 1;
      let fresh;
      for (;;) {
        try {
          fresh = await storeUpdates(o.db, updates, o.replica, o.now(), next);
          break;
        } catch (err) {
          // Not confirmed to Telegram until stored: the store is tried again after a pause.
          o.log.error({ err }, 'could not store updates; trying again');
          await sleep(1000);
          if (abort.signal.aborted) return false;
        }
      }
      offset = next;
      for (const u of fresh) o.queue.push(u);
    }
    return false;
  };
  const done = loop()
    .catch((err: unknown) => {
      o.log.fatal({ err }, 'polling failed');
      return true;
    })
    .finally(() => {
      running = false;
    });
  return {
    done,
    isRunning: () => running,
    async stop() {
      abort.abort();
      await done;
    },
  };
}
