import type { Update } from 'grammy/types';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PRIORITY, type Priority } from '../../src/bot/pacer.js';
import { UpdateQueue } from '../../src/bot/updates.js';

let nextId = 1;
const from = (userId: number): Update => ({ update_id: nextId++, message: { message_id: 1, date: 0, chat: { id: userId, type: 'private', first_name: 'x' }, from: { id: userId, is_bot: false, first_name: 'x' }, text: 'hi' } }) as Update;

/** A queue whose handler waits until the test lets each update go; records the order they started in. */
function harness(o: { concurrency: number; maxInHand?: number; perUser: number; reserved: number; priorities?: Record<number, Priority> }) {
  const started: Update[] = [];
  const done: number[] = [];
  const release = new Map<number, () => void>();
  const queue = new UpdateQueue({
    handle: (u) => {
      started.push(u);
      return new Promise<void>((resolve) => release.set(u.update_id, resolve));
    },
    done: (u) => done.push(u.update_id),
    priorityOf: (id) => o.priorities?.[id] ?? PRIORITY.newcomer,
    concurrency: o.concurrency,
    maxInHand: o.maxInHand ?? 1000,
    perUser: o.perUser,
    reserved: o.reserved,
    log: pino({ level: 'silent' }),
  });
  const tick = () => new Promise((r) => setImmediate(r));
  const finish = async (u: Update) => {
    release.get(u.update_id)!();
    await tick();
  };
  const senders = () => started.map((u) => u.message!.from!.id);
  return { queue, started, done, finish, senders, tick };
}

describe('update queue', () => {
  it('one user’s flood holds at most perUser slots; the others’ updates go in beside it', async () => {
    const t = harness({ concurrency: 10, perUser: 2, reserved: 0 });
    const flood = Array.from({ length: 50 }, () => from(1));
    for (const u of flood) t.queue.push(u);
    const others = [from(2), from(3), from(4)];
    for (const u of others) t.queue.push(u);
    await t.tick();
    expect(t.senders()).toEqual([1, 1, 2, 3, 4]);
    expect(t.queue.pending).toBe(48);
    // The flooder's next update starts only when one of its own is done, in order.
    await t.finish(others[0]!);
    expect(t.started).toHaveLength(5);
    await t.finish(flood[0]!);
    expect(t.started.at(-1)).toBe(flood[2]);
    expect(t.done).toEqual([others[0]!.update_id, flood[0]!.update_id]);
  });

  it('admins before members before newcomers; newcomers leave `reserved` slots free', async () => {
    const t = harness({ concurrency: 4, perUser: 1, reserved: 2, priorities: { 100: PRIORITY.admin, 101: PRIORITY.admin, 200: PRIORITY.member, 201: PRIORITY.member } });
    const newcomers = Array.from({ length: 10 }, (_, i) => from(1000 + i));
    for (const u of newcomers) t.queue.push(u);
    await t.tick();
    // A burst of newcomers takes concurrency - reserved slots, no more.
    expect(t.started).toHaveLength(2);
    t.queue.push(from(200));
    t.queue.push(from(100));
    await t.tick();
    expect(t.senders().slice(2)).toEqual([200, 100]);
    // With every slot busy, a free one goes to the admin, then the member, before the newcomers who came first.
    t.queue.push(from(201));
    t.queue.push(from(101));
    await t.finish(newcomers[0]!);
    await t.finish(newcomers[1]!);
    await t.finish(t.started[2]!);
    expect(t.senders().slice(4)).toEqual([101, 201, 1002]);
  });

  it('lanes of one priority take turns: a lane that just got a slot goes to the back', async () => {
    const t = harness({ concurrency: 1, perUser: 1, reserved: 0 });
    const a = [from(1), from(1)];
    const b = [from(2), from(2)];
    for (const u of [...a, ...b]) t.queue.push(u);
    await t.tick();
    for (let i = 0; i < 3; i++) await t.finish(t.started.at(-1)!);
    expect(t.senders()).toEqual([1, 2, 1, 2]);
  });

  /** Two slots; each handler gives its slot back, as the pacing transformer makes it do, and waits for its reply. */
  function waitingForReplies(maxInHand: number) {
    const started: number[] = [];
    const replies: (() => void)[] = [];
    let inHand = 0;
    let most = 0;
    const queue: UpdateQueue = new UpdateQueue({
      handle: async (u) => {
        started.push(u.message!.from!.id);
        most = Math.max(most, ++inHand);
        queue.yieldSlot();
        await new Promise<void>((resolve) => replies.push(resolve));
        inHand--;
      },
      done: () => {},
      priorityOf: () => PRIORITY.newcomer,
      concurrency: 2,
      maxInHand,
      perUser: 1,
      reserved: 0,
      log: pino({ level: 'silent' }),
    });
    return { queue, started, replies, most: () => most };
  }

  it('a handler waiting for Telegram (its reply paced) gives its slot to the next update; its lane still counts it', async () => {
    const { queue, started, replies } = waitingForReplies(1000);
    for (let i = 0; i < 100; i++) queue.push(from(5000 + i));
    queue.push(from(5000)); // the same user again: waits for their first
    await new Promise((r) => setImmediate(r));
    // All hundred are in hand at once, though only two slots exist: each gave its slot back.
    expect(started).toHaveLength(100);
    expect(queue.pending).toBe(1);
    replies.splice(0).forEach((r) => r());
    await new Promise((r) => setTimeout(r, 10));
    expect(started.at(-1)).toBe(5000);
    replies.splice(0).forEach((r) => r());
    await queue.idle();
  });

  it('no more than maxInHand are in hand, waiting for Telegram or not: a burst beyond it waits as updates', async () => {
    const { queue, replies, most } = waitingForReplies(30);
    for (let i = 0; i < 100; i++) queue.push(from(6000 + i));
    await new Promise((r) => setImmediate(r));
    expect(most()).toBe(30);
    expect(queue.pending).toBe(70);
    while (replies.length) {
      replies.splice(0).forEach((r) => r());
      await new Promise((r) => setTimeout(r, 5));
    }
    await queue.idle();
    expect(most()).toBe(30);
  });

  it('an update pushed twice (a replay, a webhook retry) runs once; stop() leaves what waits and finishes what runs', async () => {
    const t = harness({ concurrency: 1, perUser: 1, reserved: 0 });
    const u1 = from(1);
    const u2 = from(2);
    t.queue.push(u1);
    t.queue.push(u1);
    t.queue.push(u2);
    await t.tick();
    expect(t.started).toEqual([u1]);
    const stopped = t.queue.stop();
    let resolved = false;
    void stopped.then(() => (resolved = true));
    await t.tick();
    expect(resolved).toBe(false);
    await t.finish(u1);
    await stopped;
    expect(t.started).toEqual([u1]);
    expect(t.done).toEqual([u1.update_id]);
    t.queue.push(from(3));
    expect(t.queue.pending).toBe(0);
  });
});
