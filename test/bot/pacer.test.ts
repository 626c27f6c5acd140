import type { ApiCallFn } from 'grammy';
import type { ApiResponse } from 'grammy/types';
import type { Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../src/bot/pacer.js';
import { pacing } from '../../src/bot/api.js';
import { PRIORITY, Pacer, type Priority, type Slot } from '../../src/bot/pacer.js';
import { virtualClock } from '../broadcast/support.js';

const { admin, member, newcomer, bulk } = PRIORITY;

/** A pacer on a virtual clock, and `req`, which records each grant's time and, unless held, calls done() at once. */
function setup(perSecond: number, chatGapMs: number, clock: Clock = virtualClock()) {
  const pacer = new Pacer({ perSecond, chatGapMs, clock });
  const grants: { tag: string; at: number }[] = [];
  const slots = new Map<string, Slot>();
  const req = (tag: string, chatId: number, priority: Priority, opts: { hold?: boolean; signal?: AbortSignal; then?: () => void } = {}) =>
    pacer.acquire(chatId, priority, opts.signal).then((slot) => {
      grants.push({ tag, at: clock.now() });
      if (opts.hold) slots.set(tag, slot);
      else slot.done();
      opts.then?.();
    });
  return { clock, pacer, grants, slots, req };
}

/** Lets the event loop turn: anything the pacer could grant by now has been granted. */
async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

describe('Pacer', () => {
  it('spaces grants 1000/perSecond ms apart over all chats; the first after idleness goes at once, without a burst', async () => {
    const { clock, grants, req } = setup(10, 0);
    await Promise.all([0, 1, 2, 3, 4].map((i) => req(`c${i}`, i, member)));
    expect(grants.map((g) => g.at)).toEqual([0, 100, 200, 300, 400]);
    await clock.sleep(1000);
    await Promise.all([req('late1', 10, member), req('late2', 11, member)]);
    expect(grants.slice(5)).toEqual([
      { tag: 'late1', at: 1400 },
      { tag: 'late2', at: 1500 },
    ]);
  });

  it('one slot at a time per chat, the next no earlier than chatGapMs after done(); a second done() is ignored', async () => {
    const { clock, pacer, grants, slots, req } = setup(100, 1000);
    req('a1', 1, member, { hold: true });
    const a2 = req('a2', 1, member, { hold: true });
    const a3 = req('a3', 1, member);
    await settle();
    expect(grants).toEqual([{ tag: 'a1', at: 0 }]);
    expect(pacer.waiting()).toEqual({ admin: 0, member: 2, newcomer: 0, bulk: 0 });

    await clock.sleep(300);
    slots.get('a1')!.done();
    await a2;
    expect(grants[1]).toEqual({ tag: 'a2', at: 1300 });

    slots.get('a1')!.done(); // must not free the chat while a2 is out
    await settle();
    expect(grants).toHaveLength(2);
    await clock.sleep(500);
    slots.get('a2')!.done();
    await a3;
    expect(grants[2]).toEqual({ tag: 'a3', at: 2800 });
  });

  it('neither a chat with a slot out nor a chat in its gap holds up other chats, even of a lower priority', async () => {
    const { grants, slots, req } = setup(10, 1000);
    await Promise.all([
      req('A1', 1, admin, { hold: true }),
      req('B1', 2, admin),
      req('A2', 1, admin),
      req('B2', 2, admin, { then: () => slots.get('A1')!.done() }),
      req('C', 3, bulk),
      req('D', 4, bulk),
    ]);
    expect(grants).toEqual([
      { tag: 'A1', at: 0 },
      { tag: 'B1', at: 100 },
      { tag: 'C', at: 200 },
      { tag: 'D', at: 300 },
      { tag: 'B2', at: 1100 },
      { tag: 'A2', at: 2100 },
    ]);
  });

  it('serves the lowest priority number first, and first come first served within a priority', async () => {
    const { pacer, grants, req } = setup(10, 0);
    const all = [req('x', 100, bulk)];
    all.push(
      req('n1', 1, newcomer),
      req('b1', 2, bulk),
      req('m1', 3, member),
      req('a1', 4, admin),
      req('m2', 5, member),
      req('a2', 6, admin),
      req('n2', 7, newcomer),
    );
    expect(pacer.waiting()).toEqual({ admin: 2, member: 2, newcomer: 2, bulk: 1 });
    await Promise.all(all);
    expect(grants.map((g) => g.tag)).toEqual(['x', 'a1', 'a2', 'm1', 'm2', 'n1', 'n2', 'b1']);
    expect(grants.map((g) => g.at)).toEqual([0, 100, 200, 300, 400, 500, 600, 700]);
    expect(pacer.waiting()).toEqual({ admin: 0, member: 0, newcomer: 0, bulk: 0 });
  });

  it('within one chat, strictly acquire order whatever the priorities', async () => {
    const { grants, req } = setup(10, 0);
    await Promise.all([req('c1-bulk', 1, bulk), req('c1-newcomer', 1, newcomer), req('c1-admin', 1, admin), req('c2-member', 2, member)]);
    expect(grants).toEqual([
      { tag: 'c1-bulk', at: 0 },
      { tag: 'c2-member', at: 100 },
      { tag: 'c1-newcomer', at: 200 },
      { tag: 'c1-admin', at: 300 },
    ]);
  });

  it('an aborted signal, before or while waiting, rejects with its reason (or an AbortError) and the waiter never gets a slot', async () => {
    const { pacer, grants, req } = setup(10, 0);
    const early = new AbortController();
    const gone = new Error('gone');
    early.abort(gone);
    await expect(pacer.acquire(1, admin, early.signal)).rejects.toBe(gone);
    expect(pacer.waiting()).toEqual({ admin: 0, member: 0, newcomer: 0, bulk: 0 });

    const x = req('x', 1, member);
    const y = new AbortController();
    const z = new AbortController();
    const yp = req('y', 2, admin, { signal: y.signal });
    const zp = req('z', 3, admin, { signal: z.signal });
    const w = req('w', 4, bulk);
    expect(pacer.waiting()).toEqual({ admin: 2, member: 0, newcomer: 0, bulk: 1 });
    y.abort(gone);
    z.abort();
    await expect(yp).rejects.toBe(gone);
    await expect(zp).rejects.toMatchObject({ name: 'AbortError' });
    expect(pacer.waiting()).toEqual({ admin: 0, member: 0, newcomer: 0, bulk: 1 });
    await Promise.all([x, w]);
    expect(grants).toEqual([
      { tag: 'x', at: 0 },
      { tag: 'w', at: 100 },
    ]);
  });

  it("aborting a chat's first waiter ranks the chat by its next one", async () => {
    const { grants, req } = setup(10, 0);
    const first = new AbortController();
    const x = req('x', 9, member);
    const a1 = req('a1', 1, bulk, { signal: first.signal });
    const rest = [req('a2', 1, admin), req('b1', 2, member)];
    first.abort();
    await expect(a1).rejects.toMatchObject({ name: 'AbortError' });
    await Promise.all([x, ...rest]);
    expect(grants.map((g) => `${g.tag}@${g.at}`)).toEqual(['x@0', 'a2@100', 'b1@200']);
  });

  it('holdAll: nothing is granted until the hold ends (a shorter hold does not shorten it), then the pace resumes', async () => {
    const { pacer, grants, req } = setup(10, 0);
    const all = [req('x', 1, member), req('y', 2, admin), req('z', 3, bulk)];
    pacer.holdAll(5000);
    pacer.holdAll(1000);
    await Promise.all(all);
    expect(grants.map((g) => `${g.tag}@${g.at}`)).toEqual(['x@0', 'y@5000', 'z@5100']);
  });

  it('no timer per waiter: a later, earlier wake-up supersedes the pending one, and there are no more wake-ups than grants', async () => {
    // A clock whose sleepers wake only when the test moves time, so pending sleeps can be counted.
    let t = 0;
    let sleeps = 0;
    const sleepers: { at: number; wake: () => void }[] = [];
    const clock: Clock = {
      now: () => t,
      sleep: (ms) => {
        sleeps++;
        return new Promise<void>((wake) => sleepers.push({ at: t + ms, wake }));
      },
    };
    const { grants, req } = setup(10, 1050, clock);
    const all = [req('a1', 1, member), req('a2', 1, member)];
    await settle();
    expect(sleepers.map((s) => s.at)).toEqual([1050]); // a2's gap
    for (let i = 0; i < 20; i++) {
      all.push(req(`b${i}`, 10 + i, member)); // one a turn, each while a timer is pending
      await settle();
    }
    expect(sleepers.map((s) => s.at)).toEqual([1050, 100]); // the first b superseded the gap's timer; the others kept it
    while (grants.length < 22) {
      t += 50;
      for (const s of sleepers.filter((x) => x.at <= t)) sleepers.splice(sleepers.indexOf(s), 1) && s.wake();
      await settle();
    }
    await Promise.all(all);
    expect(grants.slice(9, 13).map((g) => `${g.tag}@${g.at}`)).toEqual(['b8@900', 'b9@1000', 'a2@1100', 'b10@1200']);
    expect(sleeps).toBeLessThanOrEqual(grants.length);
  });

  it('forgets an idle chat once its gap has passed, and not before', async () => {
    const { clock, pacer, grants, req } = setup(100, 1000);
    const known = () => (pacer as unknown as { chats: Map<number, unknown> }).chats.size;
    await Promise.all([1, 2, 3].map((i) => req(`c${i}`, i, member)));
    expect(grants.map((g) => g.at)).toEqual([0, 10, 20]);
    expect(known()).toBe(3);
    await clock.sleep(995); // t = 1015: the gaps of chats 1 and 2 have passed, chat 3's has not
    await req('c3 again', 3, member);
    expect(grants.at(-1)).toEqual({ tag: 'c3 again', at: 1020 });
    expect(known()).toBe(1);
  });

  it('10,000 waiters over 10,000 chats and 2,000 on one chat get their slots in order within a couple of seconds of CPU', async () => {
    const clock = virtualClock();
    const pacer = new Pacer({ perSecond: 25, chatGapMs: 1000, clock });
    const prio = (i: number) => ((i * 7) % 4) as Priority;
    const many: { i: number; at: number }[] = [];
    const one: { i: number; at: number; done: number }[] = [];
    const all: Promise<void>[] = [];
    const started = performance.now();
    for (let i = 0; i < 12_000; i++) {
      const onOneChat = i % 6 === 5; // every sixth: 2,000 of them
      const chatId = onOneChat ? 1 : 10 + i;
      all.push(
        pacer.acquire(chatId, prio(i)).then((slot) => {
          const at = clock.now();
          if (onOneChat) one.push({ i, at, done: at });
          else many.push({ i, at });
          slot.done();
        }),
      );
    }
    await Promise.all(all);
    const cpuMs = performance.now() - started;

    expect(many).toHaveLength(10_000);
    // Their chats are always free: exactly by (priority, acquire order). i = 0 is an admin, first either way.
    const expected = many.map((g) => g.i).sort((a, b) => prio(a) - prio(b) || a - b);
    expect(many.map((g) => g.i)).toEqual(expected);
    expect(one.map((g) => g.i)).toEqual([...one.map((g) => g.i)].sort((a, b) => a - b));
    for (let k = 1; k < one.length; k++) expect(one[k]!.at - one[k - 1]!.done).toBeGreaterThanOrEqual(1000);
    const times = [...many, ...one].map((g) => g.at).sort((a, b) => a - b);
    for (let k = 1; k < times.length; k++) expect(times[k]! - times[k - 1]!).toBeGreaterThanOrEqual(40);
    // The 10,000 free chats keep the global pace full: one grant every 40 ms while they last.
    expect(times[10_000]).toBeLessThanOrEqual(10_000 * 40);
    expect(cpuMs).toBeLessThan(2000);
  });

  it('on the real clock: 60 messages to 60 chats at 30/s take 1.9–2.5 s; one chat keeps 200 ms from done() to the next', async () => {
    const pacer = new Pacer({ perSecond: 30, chatGapMs: 200 });
    const start = Date.now();
    let last = 0;
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const slot = await pacer.acquire(i, bulk);
        last = Math.max(last, Date.now());
        slot.done();
      }),
    );
    expect(last - start).toBeGreaterThanOrEqual(1900);
    expect(last - start).toBeLessThan(2500);

    const granted: number[] = [];
    const done: number[] = [];
    await Promise.all(
      [0, 1, 2].map(async () => {
        const slot = await pacer.acquire(1000, member);
        granted.push(Date.now());
        await new Promise((r) => setTimeout(r, 30));
        done.push(Date.now());
        slot.done();
      }),
    );
    expect(granted[1]! - done[0]!).toBeGreaterThanOrEqual(200);
    expect(granted[2]! - done[1]!).toBeGreaterThanOrEqual(200);
  });
});

describe('pacing transformer', () => {
  type Answer = ApiResponse<unknown>;
  const OK: Answer = { ok: true, result: true };
  const flood = (retry_after?: number): Answer => ({ ok: false, error_code: 429, description: 'Too Many Requests', parameters: retry_after === undefined ? {} : { retry_after } });

  /** The transformer over a fake Telegram that records each call's time and answers with `answer(n)` (n from 0). */
  function setupApi(perSecond: number, chatGapMs: number, answer: (n: number) => Answer | Promise<Answer> = () => OK, priorityOf: (chatId: number) => Priority = () => member) {
    const clock = virtualClock();
    const pacer = new Pacer({ perSecond, chatGapMs, clock });
    const warn = vi.fn();
    const calls: string[] = [];
    const prev = (async (method: string, payload: { chat_id?: unknown }) => {
      const n = calls.length;
      calls.push(`${method}:${String(payload.chat_id)}@${clock.now()}`);
      return answer(n);
    }) as unknown as ApiCallFn;
    const transformer = pacing(pacer, priorityOf, { warn } as unknown as Logger) as unknown as (prev: ApiCallFn, method: string, payload: object) => Promise<Answer>;
    const call = (method: string, payload: object) => transformer(prev, method, payload);
    return { clock, pacer, warn, calls, call };
  }

  it('paces send*, edit*, copy* and forward* to numeric chats, with the priority priorityOf gives', async () => {
    const { pacer, calls, call } = setupApi(10, 0, undefined, (id) => (id === 4 ? admin : member));
    const acquire = vi.spyOn(pacer, 'acquire');
    await Promise.all([
      call('sendMessage', { chat_id: 1, text: 'a' }),
      call('editMessageText', { chat_id: 2, message_id: 1, text: 'b' }),
      call('copyMessage', { chat_id: 3, from_chat_id: 9, message_id: 1 }),
      call('forwardMessage', { chat_id: 4, from_chat_id: 9, message_id: 1 }),
      call('sendPhoto', { chat_id: 5, photo: 'x' }),
    ]);
    expect(calls).toEqual(['sendMessage:1@0', 'forwardMessage:4@100', 'editMessageText:2@200', 'copyMessage:3@300', 'sendPhoto:5@400']);
    expect(acquire).toHaveBeenCalledWith(4, admin, undefined);
  });

  it('lets chat actions, @channel names, inline-message edits and other methods through without a slot', async () => {
    const { pacer, calls, call } = setupApi(10, 1000);
    const acquire = vi.spyOn(pacer, 'acquire');
    pacer.holdAll(60_000);
    const answers = await Promise.all([
      call('sendChatAction', { chat_id: 1, action: 'typing' }),
      call('sendMessage', { chat_id: '@news', text: 'a' }),
      call('editMessageText', { inline_message_id: 'im', text: 'b' }),
      call('answerCallbackQuery', { callback_query_id: 'q' }),
      call('getUpdates', { offset: 1 }),
      call('setMyCommands', { commands: [] }),
    ]);
    expect(answers.every((a) => a.ok)).toBe(true);
    expect(calls.every((c) => c.endsWith('@0'))).toBe(true);
    expect(calls).toHaveLength(6);
    expect(acquire).not.toHaveBeenCalled();
  });

  it('frees the slot when the call throws', async () => {
    const { calls, call } = setupApi(10, 1000, (n) => (n === 0 ? Promise.reject(new Error('network')) : OK));
    await expect(call('sendMessage', { chat_id: 1, text: 'a' })).rejects.toThrow('network');
    await call('sendMessage', { chat_id: 1, text: 'b' });
    expect(calls).toEqual(['sendMessage:1@0', 'sendMessage:1@1000']);
  });

  it('a 429 holds every chat for retry_after, then the call is retried; one warning per 429', async () => {
    const { calls, call, warn } = setupApi(10, 0, (n) => (n === 0 || n === 2 ? flood(3) : OK));
    const [first, other] = await Promise.all([call('sendMessage', { chat_id: 1, text: 'a' }), call('sendMessage', { chat_id: 2, text: 'b' })]);
    expect(first).toEqual(OK);
    expect(other).toEqual(OK);
    // Chat 2 waited out the hold too; chat 1's retry queued behind it.
    expect(calls).toEqual(['sendMessage:1@0', 'sendMessage:2@3000', 'sendMessage:1@3100', 'sendMessage:1@6100']);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[0]![0]).toMatchObject({ chatId: 1, retryAfter: 3 });
  });

  it('gives up after 3 retries with the last answer; a 429 without retry_after or another error is not retried', async () => {
    const always = setupApi(10, 0, () => flood(1));
    expect(await always.call('sendMessage', { chat_id: 1, text: 'a' })).toEqual(flood(1));
    expect(always.calls).toEqual(['sendMessage:1@0', 'sendMessage:1@1000', 'sendMessage:1@2000', 'sendMessage:1@3000']);
    expect(always.warn).toHaveBeenCalledTimes(4);

    const bare = setupApi(10, 0, () => flood());
    expect(await bare.call('sendMessage', { chat_id: 1, text: 'a' })).toEqual(flood());
    const refused: Answer = { ok: false, error_code: 400, description: 'Bad Request' };
    const bad = setupApi(10, 0, () => refused);
    expect(await bad.call('sendMessage', { chat_id: 1, text: 'a' })).toEqual(refused);
    expect([bare.calls.length, bad.calls.length]).toEqual([1, 1]);
  });

  it('holds before freeing the slot: the next message in the chat does not slip out into the flood wait', async () => {
    let answer!: (a: Answer) => void;
    const held = new Promise<Answer>((r) => (answer = r));
    const { clock, calls, call } = setupApi(10, 0, (n) => (n === 0 ? held : OK));
    const a = call('sendMessage', { chat_id: 1, text: 'a' });
    const b = call('sendMessage', { chat_id: 1, text: 'b' });
    await settle();
    await clock.sleep(500);
    answer(flood(2));
    await Promise.all([a, b]);
    expect(calls).toEqual(['sendMessage:1@0', 'sendMessage:1@2500', 'sendMessage:1@2600']);
  });
});
