import { AsyncLocalStorage } from 'node:async_hooks';
import type { Update } from 'grammy/types';
import type { Logger } from 'pino';
import { PRIORITY, type Priority } from './pacer.js';

/** Who an update is from (the key of its lane); 0 when it names nobody. */
function senderOf(u: Update): number {
  const from =
    u.message?.from ?? u.edited_message?.from ?? u.callback_query?.from ?? u.my_chat_member?.from ?? u.chat_member?.from ?? u.inline_query?.from ?? u.chat_join_request?.from;
  return from?.id ?? u.message?.chat.id ?? 0;
}

export interface UpdateQueueOptions {
  handle: (update: Update) => Promise<void>;
  /** Handled or failed for good: the inbox marks it. */
  done: (update: Update) => void;
  priorityOf: (userId: number) => Priority;
  /** Updates handled at once. */
  concurrency: number;
  /** Updates in hand at most, counting those waiting for Telegram's pace: what a burst may hold in memory. */
  maxInHand: number;
  /** At most this many of them from one user: a flood cannot take the others' slots. */
  perUser: number;
  /** Slots newcomers never take, so members and admins are served during a burst of /start. */
  reserved: number;
  log: Logger;
}

interface Lane {
  id: number;
  queue: Update[];
  running: number;
  priority: Priority;
}

/** An update in hand, while it holds one of the `concurrency` slots. */
interface Hand {
  lane: Lane;
  holding: boolean;
}

/**
 * Updates wait in one lane per user, handled in order of arrival within a lane. A free slot
 * goes to the best lane that can take one: admins first, then members, then newcomers, each in
 * turn (a lane that just got a slot goes to the back). A lane holds at most `perUser` slots, and
 * newcomers leave `reserved` slots free, so neither one user's flood nor a thousand newcomers'
 * /start make anybody else wait for a slot. A handler that waits for Telegram's pace (its reply)
 * gives its slot back meanwhile (yieldSlot): slots bound the bot's own work, not Telegram's, and
 * `maxInHand` the memory that waiting takes.
 */
export class UpdateQueue {
  private readonly lanes = new Map<number, Lane>();
  /** Lanes with waiting updates and a free per-user slot, by priority, in turn. */
  private readonly ready: Lane[][] = [[], [], [], []];
  /** Slots held (updates in hand that are not waiting for Telegram). */
  private running = 0;
  private runningNewcomers = 0;
  /** Updates in hand, waiting for Telegram or not. */
  private inHand = 0;
  private waiting = 0;
  /** Update ids waiting or in hand, so one pushed twice (recovery, a webhook retry) runs once. */
  private readonly known = new Set<number>();
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly hands = new AsyncLocalStorage<Hand>();

  constructor(private readonly o: UpdateQueueOptions) {}

  /** Waiting, not yet handled. */
  get pending(): number {
    return this.waiting;
  }

  push(update: Update): void {
    if (this.stopped || this.known.has(update.update_id)) return;
    this.known.add(update.update_id);
    const id = senderOf(update);
    let lane = this.lanes.get(id);
    if (!lane) {
      lane = { id, queue: [], running: 0, priority: this.o.priorityOf(id) };
      this.lanes.set(id, lane);
    }
    lane.queue.push(update);
    this.waiting++;
    if (lane.queue.length === 1 && lane.running < this.o.perUser) this.ready[lane.priority]!.push(lane);
    this.pump();
  }

  /**
   * Takes no more: what waits stays in the inbox for the next start. Resolves when the updates in
   * hand are done, or after graceMs (those still waiting for Telegram are handled again next time).
   */
  async stop(graceMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.stopped = true;
    for (const lane of this.lanes.values()) {
      for (const u of lane.queue) this.known.delete(u.update_id);
      this.waiting -= lane.queue.length;
      lane.queue = [];
    }
    for (const lanes of this.ready) lanes.length = 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(graceMs, 2 ** 31 - 1))))]);
    clearTimeout(timer);
  }

  /** Resolves when nothing waits and nothing is in hand. */
  idle(): Promise<void> {
    if (this.inHand === 0 && this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The update being handled (in this async context) waits for Telegram: its slot goes to the next one. */
  yieldSlot(): void {
    const hand = this.hands.getStore();
    if (!hand?.holding) return;
    hand.holding = false;
    this.free(hand.lane);
    this.pump();
  }

  private free(lane: Lane): void {
    this.running--;
    if (lane.priority === PRIORITY.newcomer) this.runningNewcomers--;
  }

  private pump(): void {
    while (this.running < this.o.concurrency && this.inHand < this.o.maxInHand) {
      const lane = this.nextLane();
      if (!lane) return;
      const update = lane.queue.shift()!;
      this.waiting--;
      lane.running++;
      this.running++;
      this.inHand++;
      if (lane.priority === PRIORITY.newcomer) this.runningNewcomers++;
      // Back of its priority's line if it may take another slot.
      if (lane.queue.length > 0 && lane.running < this.o.perUser) this.ready[lane.priority]!.push(lane);
      void this.run(lane, update);
    }
  }

  private nextLane(): Lane | undefined {
    for (const [p, lanes] of this.ready.entries()) {
      if (lanes.length === 0) continue;
      if (p >= PRIORITY.newcomer && this.runningNewcomers >= this.o.concurrency - this.o.reserved) return undefined;
      return lanes.shift();
    }
    return undefined;
  }

  private async run(lane: Lane, update: Update): Promise<void> {
    const hand: Hand = { lane, holding: true };
    try {
      await this.hands.run(hand, () => this.o.handle(update));
    } catch (err) {
      // The bot's error boundary has answered the user; a failure here is the bot's own and is not retried.
      this.o.log.error({ err, update: update.update_id }, 'an update failed outside the error boundary');
    }
    this.o.done(update);
    this.known.delete(update.update_id);
    lane.running--;
    this.inHand--;
    if (hand.holding) this.free(lane);
    if (lane.queue.length > 0 && lane.running === this.o.perUser - 1) this.ready[lane.priority]!.push(lane);
    // An idle lane goes: the user's priority is looked up afresh next time (approved meanwhile).
    if (lane.queue.length === 0 && lane.running === 0) this.lanes.delete(lane.id);
    this.pump();
    if (this.inHand === 0 && this.waiting === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }
}
