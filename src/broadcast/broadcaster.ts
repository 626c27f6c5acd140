import { type Api, GrammyError } from 'grammy';
import type { Message, MessageEntity } from 'grammy/types';
import { isUnreachable } from '../bot/ui.js';
import {
  type BroadcastContent,
  broadcastsInStatus,
  cancelBroadcast,
  claimDelivery,
  deliveryCounts,
  findBroadcast,
  finishBroadcast,
  markInterrupted,
  queuedRecipients,
  settleDelivery,
} from '../db/broadcasts.js';
import type { Broadcast } from '../db/schema-messaging.js';
import { setBlocked } from '../db/users.js';
import { type Clock, Pacer, PRIORITY, realClock, type Slot } from '../bot/pacer.js';
import { type BroadcastDeps, Progress, type ProgressEnv } from './progress.js';

export interface BroadcasterOptions {
  /**
   * The process's shared pace (replies, the outbox and broadcasts together stay within Telegram's
   * limits; broadcasts go last). Default: a pacer of its own with Telegram's limits, on `clock`.
   * The broadcaster takes its slots itself: its Api must not pace too (one chat's slot would wait for itself).
   */
  pacer?: Pacer;
  clock?: Clock;
  /** The progress line is edited at most this often (and after every 5 %, but not more than once a second). */
  progressEveryMs?: number;
  /** How long stop() lets the message in flight finish before aborting it. */
  stopGraceMs?: number;
  /** Sends nothing until resume(): a replica that is not the leader leaves broadcasts queued for the one that is. */
  standby?: boolean;
}

const BATCH = 100;

// grammY types its signals with the abort-controller shim; Node's own AbortSignal works at run time.
type ApiSignal = Parameters<Api['sendMessage']>[3];

/** Sends a broadcast's content: the same text and entities (or photo, caption and caption entities) the admin wrote. */
export function sendContent(api: Api, chatId: number, c: BroadcastContent, signal?: ApiSignal): Promise<Message> {
  const entities = c.entities ? (JSON.parse(c.entities) as MessageEntity[]) : undefined;
  if (c.kind === 'photo') {
    return api.sendPhoto(chatId, c.photo ?? '', { caption: c.text ?? undefined, caption_entities: entities }, signal);
  }
  return api.sendMessage(chatId, c.text ?? '', { entities }, signal);
}

/**
 * Sends broadcasts to their queued recipients at a steady pace and survives restarts.
 *
 * Exactly once: a delivery is marked 'sending' (committed) before its message goes out and
 * 'sent' / 'failed' / 'blocked' after Telegram answers. Only 'queued' deliveries are ever sent.
 * A delivery still 'sending' when the process died is ambiguous: Telegram may or may not have
 * delivered it. Before a broadcast is sent here, those still 'sending' (no run of it is alive in
 * this process) become 'unknown' and are not retried, so at worst a user misses the message;
 * nobody gets it twice. The report counts them separately. This holds across replicas too: a
 * delivery is only ever sent by whoever moved it from 'queued' to 'sending'.
 */
export class Broadcaster {
  private readonly running = new Map<number, Promise<void>>();
  private readonly cancelled = new Set<number>();
  private readonly pacer: Pacer;
  private readonly clock: Clock;
  private readonly progressEveryMs: number;
  private readonly stopGraceMs: number;
  private abort = new AbortController();
  /** From resume() until stop(); with standby, only from resume(). */
  private sending: boolean;

  constructor(
    private readonly api: Api,
    private readonly deps: BroadcastDeps,
    opts: BroadcasterOptions = {},
  ) {
    this.clock = opts.clock ?? realClock;
    this.pacer = opts.pacer ?? Pacer.forTelegram(this.clock);
    this.progressEveryMs = opts.progressEveryMs ?? 2000;
    this.stopGraceMs = opts.stopGraceMs ?? 3000;
    this.sending = !opts.standby;
  }

  /**
   * Starts sending a broadcast that is in 'sending'; does nothing if it already runs here, or while
   * stopped (standby): then the leader's next resume() picks it up from the database.
   */
  start(id: number): void {
    if (!this.sending || this.running.has(id)) return;
    const run = this.run(id)
      .catch((err) => this.deps.log.error({ err, broadcast: id }, 'broadcast halted; it resumes on the next start'))
      .finally(() => this.running.delete(id));
    this.running.set(id, run);
  }

  /**
   * At start, and on the leader every few seconds: every broadcast in 'sending' that is not running
   * here starts (or continues) with its queued deliveries, wherever it was confirmed. Returns how many.
   */
  async resume(): Promise<number> {
    this.sending = true;
    const broadcasts = (await broadcastsInStatus(this.deps.db, 'sending')).filter((b) => !this.running.has(b.id));
    for (const b of broadcasts) {
      this.deps.log.info({ broadcast: b.id }, 'resuming a broadcast');
      this.start(b.id);
    }
    return broadcasts.length;
  }

  /** Admin pressed Stop: what is not sent yet is cancelled. False if it was not sending. */
  async cancel(id: number): Promise<boolean> {
    if (!(await cancelBroadcast(this.deps.db, id, this.deps.now()))) return false;
    // The queued rows are already cancelled in the DB; this only saves the loop from walking through them.
    if (this.running.has(id)) this.cancelled.add(id);
    return true;
  }

  /** Resolves when no broadcast is being sent. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()]);
  }

  /**
   * Stops taking new deliveries; what is left stays queued for resume() (here, after a restart, or
   * on another replica). The message in flight gets a grace period; after it the request is
   * aborted and that delivery ends up 'unknown'.
   */
  async stop(): Promise<void> {
    this.sending = false;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.stopGraceMs);
    });
    await Promise.race([this.idle(), grace]);
    clearTimeout(timer);
    this.abort.abort();
    await this.idle();
    this.abort = new AbortController();
  }

  private async run(id: number): Promise<void> {
    const { db, now } = this.deps;
    const b = await findBroadcast(db, id);
    if (b?.status !== 'sending') return;
    // No run of it is alive here: a delivery still 'sending' was cut off by a restart or a change of leader.
    const unknown = await markInterrupted(db, id, now());
    if (unknown) this.deps.log.info({ broadcast: id, unknown }, 'deliveries cut off earlier are recorded as unknown, not resent');
    const progress = new Progress(this.progressEnv(), b, await deliveryCounts(db, id));
    try {
      // Progress edits are not awaited: the users do not wait for the admin's chat, which takes one message a second.
      void progress.show(true);
      while (this.sending && !this.cancelled.has(id)) {
        const batch = await queuedRecipients(db, id, BATCH);
        if (batch.length === 0) break;
        for (const userId of batch) {
          const slot = await this.pacer.acquire(userId, PRIORITY.bulk, this.abort.signal).catch(() => null);
          if (!slot || !this.sending || this.cancelled.has(id)) {
            slot?.unused();
            break;
          }
          if (!(await claimDelivery(db, id, userId, now()))) {
            slot.unused();
            continue;
          }
          const outcome = await this.deliver(b, userId, slot);
          // Aborted by stop(): Telegram may have it. Left 'sending', it becomes 'unknown' on resume.
          if (this.abort.signal.aborted) return;
          await settleDelivery(db, id, userId, outcome.status, outcome.error, now());
          progress.count(outcome.status);
          void progress.show(false);
        }
      }
      if (!this.sending) return; // still 'sending': resume() continues it
      await finishBroadcast(db, id, now());
      this.cancelled.delete(id);
      await progress.finish(await deliveryCounts(db, id), (await findBroadcast(db, id))?.status === 'cancelled');
    } finally {
      await progress.settled();
    }
  }

  private progressEnv(): ProgressEnv {
    return { api: this.api, deps: this.deps, clock: this.clock, everyMs: this.progressEveryMs, pacer: this.pacer };
  }

  /**
   * One user's copy, in the slot the pacer gave (released here). A 429 holds every sender of the
   * process and the copy is tried again: Telegram did not perform it.
   */
  private async deliver(b: Broadcast, userId: number, slot: Slot): Promise<{ status: 'sent' | 'failed' | 'blocked'; error: string | null }> {
    try {
      for (;;) {
        try {
          await sendContent(this.api, userId, b, this.abort.signal as unknown as ApiSignal);
          return { status: 'sent', error: null };
        } catch (err) {
          if (!(err instanceof GrammyError && err.error_code === 429) || this.abort.signal.aborted) throw err;
          this.pacer.holdAll((err.parameters.retry_after ?? 1) * 1000);
          slot.done();
          slot = await this.pacer.acquire(userId, PRIORITY.bulk, this.abort.signal);
        }
      }
    } catch (err) {
      const error = String(err instanceof Error ? err.message : err).slice(0, 300);
      if (isUnreachable(err)) {
        // Later broadcasts skip users marked blocked; a /start or unblock clears the mark.
        await setBlocked(this.deps.db, userId, this.deps.now());
        return { status: 'blocked', error };
      }
      this.deps.log.warn({ err, broadcast: b.id, userId }, 'broadcast delivery failed');
      return { status: 'failed', error };
    } finally {
      slot.done();
    }
  }
}
