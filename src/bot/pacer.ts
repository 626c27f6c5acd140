import { IndexedHeap } from './indexed-heap.js';

/** Time as the pacer sees it; tests pass a virtual clock so pacing costs no real time. */
export interface Clock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const realClock: Clock = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Messages a second over every sender of a process: Telegram allows about 30, and a second's jitter must not reach it. */
export const MESSAGES_PER_SECOND = 28;
/** Telegram allows about one message a second in a chat. */
const CHAT_GAP_MS = 1000;

/** Who is served first when several chats could get the next message: the lowest number. */
export const PRIORITY = { admin: 0, member: 1, newcomer: 2, bulk: 3 } as const;
export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY];
export type PriorityName = keyof typeof PRIORITY;

export interface Slot {
  /** Telegram answered (or the call was abandoned): the chat's gap starts now. Call exactly once; later calls are ignored. */
  done(): void;
  /** Nothing was sent after all (there was nothing left to say): the chat is free at once, without a gap. */
  unused(): void;
}

export interface PacerOptions {
  /** Messages a second over all chats (Telegram allows about 30). */
  perSecond: number;
  /** Quiet time in one chat from a message's answer to the next message (Telegram allows about one a second). */
  chatGapMs: number;
  clock?: Clock;
}

interface Waiter {
  chat: Chat;
  priority: Priority;
  /** Acquire order: first come, first served within a priority. */
  seq: number;
  resolve: (slot: Slot) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  prev: Waiter | undefined;
  next: Waiter | undefined;
}

/** A chat with waiters, a slot out or a gap still running. */
interface Chat {
  id: number;
  /** Its waiters in acquire order: a linked list, so an abort unlinks one in O(1). */
  first: Waiter | undefined;
  last: Waiter | undefined;
  /** A slot is out: nothing more for this chat until its done(). */
  busy: boolean;
  /** No grant before this: the previous slot's done() + chatGapMs. */
  freeAt: number;
  /** Index in the heap holding it (ready or cooling; never both), -1 in none. */
  pos: number;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Paces every message the process sends to Telegram: grants at least 1000/perSecond ms apart
 * over all chats (no burst), one slot at a time per chat with chatGapMs from its done() to the
 * next grant there, and a hold for everyone after a 429.
 *
 * The next grant goes to the best waiter whose chat is free: lowest priority number, then acquire
 * order; within a chat strictly acquire order. Chats move between
 * - `ready`: free, with waiters; a heap by their first waiter's (priority, seq);
 * - `cooling`: with waiters, in their gap; a heap by freeAt;
 * - neither: a slot out (back to cooling on done()), or idle; an idle chat is remembered in
 *   `expiring` until its gap has passed, so a new message to it still keeps the gap.
 * Every acquire, grant and abort is O(log n); one timer at most waits for the next grant.
 */
export class Pacer {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly chatGapMs: number;
  private readonly chats = new Map<number, Chat>();
  private readonly ready = new IndexedHeap<Chat>((a, b) => {
    const x = a.first!;
    const y = b.first!;
    return x.priority < y.priority || (x.priority === y.priority && x.seq < y.seq);
  });
  private readonly cooling = new IndexedHeap<Chat>((a, b) => a.freeAt < b.freeAt);
  /** Idle chats in the order their gap ends (done() times only grow), each with that end. */
  private expiring: { chat: Chat; at: number }[] = [];
  private expiringHead = 0;
  private readonly counts: Record<Priority, number> = { 0: 0, 1: 0, 2: 0, 3: 0 };
  private seq = 0;
  /** The global pace: no grant before this. */
  private paceAt = -Infinity;
  private holdUntil = -Infinity;
  /** The pending sleep's target, and its generation: a superseded sleep wakes to nothing. */
  private timerAt: number | null = null;
  private timerGen = 0;
  private armed = false;

  /** Telegram's limits: MESSAGES_PER_SECOND over all chats, CHAT_GAP_MS in one. */
  static forTelegram(clock?: Clock): Pacer {
    return new Pacer({ perSecond: MESSAGES_PER_SECOND, chatGapMs: CHAT_GAP_MS, ...(clock ? { clock } : {}) });
  }

  constructor(opts: PacerOptions) {
    if (!(opts.perSecond > 0)) throw new RangeError(`perSecond must be positive, not ${opts.perSecond}`);
    this.clock = opts.clock ?? realClock;
    this.intervalMs = 1000 / opts.perSecond;
    this.chatGapMs = opts.chatGapMs;
  }

  /** Resolves when a message to chatId may go out now; rejects with the signal's reason on abort. */
  acquire(chatId: number, priority: Priority, signal?: AbortSignal): Promise<Slot> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<Slot>((resolve, reject) => {
      let chat = this.chats.get(chatId);
      if (!chat) {
        chat = { id: chatId, first: undefined, last: undefined, busy: false, freeAt: -Infinity, pos: -1 };
        this.chats.set(chatId, chat);
      }
      const w: Waiter = { chat, priority, seq: this.seq++, resolve, reject, signal, onAbort: undefined, prev: chat.last, next: undefined };
      const wasIdle = !chat.first && !chat.busy;
      if (chat.last) chat.last.next = w;
      else chat.first = w;
      chat.last = w;
      this.counts[priority]++;
      if (signal) {
        w.onAbort = () => this.abandon(w);
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      // The pump moves it on to ready once its gap (if any) has passed.
      if (wasIdle) this.cooling.push(chat);
      this.pump();
    });
  }

  /** After a 429 with retry_after: no slot is granted to anyone for `ms` from now (extends, never shortens, a hold). */
  holdAll(ms: number): void {
    this.holdUntil = Math.max(this.holdUntil, this.clock.now() + ms);
  }

  /** Waiters not yet granted, by priority name (for metrics and tests). */
  waiting(): Record<PriorityName, number> {
    const c = this.counts;
    return { admin: c[PRIORITY.admin], member: c[PRIORITY.member], newcomer: c[PRIORITY.newcomer], bulk: c[PRIORITY.bulk] };
  }

  /** Grants whatever may go now, then makes sure a timer waits for the next moment something can. */
  private pump(): void {
    const now = this.clock.now();
    for (let c = this.cooling.peek(); c && c.freeAt <= now; c = this.cooling.peek()) {
      this.cooling.pop();
      this.ready.push(c);
    }
    this.forgetExpired(now);
    while (this.ready.size && now >= Math.max(this.paceAt, this.holdUntil)) this.grant(this.ready.pop()!, now);
    this.arm();
  }

  private grant(chat: Chat, now: number): void {
    const w = chat.first!;
    this.unlink(w);
    chat.busy = true;
    this.paceAt = now + this.intervalMs;
    if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
    let open = true;
    const release = (gapMs: number) => {
      if (!open) return;
      open = false;
      this.release(chat, gapMs);
    };
    w.resolve({ done: () => release(this.chatGapMs), unused: () => release(0) });
  }

  private release(chat: Chat, gapMs: number): void {
    chat.busy = false;
    chat.freeAt = this.clock.now() + gapMs;
    if (chat.first) this.cooling.push(chat);
    else this.expire(chat);
    this.pump();
  }

  private abandon(w: Waiter): void {
    const chat = w.chat;
    const wasFirst = chat.first === w;
    this.unlink(w);
    if (!chat.busy) {
      const heap = this.ready.has(chat) ? this.ready : this.cooling;
      if (!chat.first) {
        heap.remove(chat);
        this.expire(chat);
      } else if (wasFirst && heap === this.ready) {
        this.ready.update(chat); // its new first waiter may rank elsewhere
      }
    }
    w.reject(abortReason(w.signal!));
  }

  private unlink(w: Waiter): void {
    const chat = w.chat;
    if (w.prev) w.prev.next = w.next;
    else chat.first = w.next;
    if (w.next) w.next.prev = w.prev;
    else chat.last = w.prev;
    this.counts[w.priority]--;
  }

  private expire(chat: Chat): void {
    this.expiring.push({ chat, at: chat.freeAt });
  }

  /** Drops idle chats whose gap has passed; a chat busy again since is left to its later entry. */
  private forgetExpired(now: number): void {
    const list = this.expiring;
    while (this.expiringHead < list.length && list[this.expiringHead]!.at <= now) {
      const { chat } = list[this.expiringHead++]!;
      if (!chat.first && !chat.busy && chat.freeAt <= now && this.chats.get(chat.id) === chat) this.chats.delete(chat.id);
    }
    // Compacted now and then: amortised O(1), and the array does not grow forever.
    if (this.expiringHead > 1024 && this.expiringHead * 2 > list.length) {
      this.expiring = list.slice(this.expiringHead);
      this.expiringHead = 0;
    }
  }

  /**
   * Sets the timer on the next turn: grantees and same-turn acquires and done()s run first, so
   * one timer covers them all, and a virtual clock (whose sleep moves time at once) does not move
   * before a grantee has seen the time of its grant.
   */
  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    setImmediate(() => {
      this.armed = false;
      this.setTimer();
    });
  }

  private setTimer(): void {
    const next = this.cooling.peek();
    const at = this.ready.size
      ? Math.max(this.paceAt, this.holdUntil)
      : next
        ? Math.max(next.freeAt, this.paceAt, this.holdUntil)
        : null;
    // A pending timer that wakes no later will do: it pumps, and the pump re-arms.
    if (at === null || (this.timerAt !== null && this.timerAt <= at)) return;
    const gen = ++this.timerGen;
    this.timerAt = at;
    void this.clock.sleep(Math.max(0, at - this.clock.now())).then(() => {
      if (gen !== this.timerGen) return;
      this.timerAt = null;
      this.pump(); // it re-reads now(): a timer that fired early just sets another
    });
  }
}
