import type { Transformer } from 'grammy';
import type { MessageEntity } from 'grammy/types';
import { Broadcaster, type BroadcasterOptions } from '../../src/broadcast/broadcaster.js';
import type { Clock } from '../../src/bot/pacer.js';
import type { UserStatus } from '../../src/db/schema.js';
import { requestAccess, transitionUser } from '../../src/db/users.js';
import type { Harness } from '../support/harness.js';
import { buttons, type Call, type From, messageUpdate } from '../support/recorder.js';

/** Virtual time: sleeping advances it at once (yielding to I/O first), so pacing costs no real time. */
export function virtualClock(): Clock & { elapsed: () => number } {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms) => {
      t += ms;
      await new Promise((r) => setImmediate(r));
    },
    elapsed: () => t,
  };
}

/** A broadcaster on the harness's bot, on a virtual clock, as app.ts wires it. */
export function attachBroadcaster(h: Harness, opts: BroadcasterOptions = {}) {
  const clock = virtualClock();
  const broadcaster = new Broadcaster(h.bot.api, h.deps, { clock, ...opts });
  h.deps.broadcasts = broadcaster;
  return { broadcaster, clock };
}

/** Users straight into the database (who wrote to the bot before the test), ids from `firstId` on. */
export async function addUsers(h: Harness, n: number, status: UserStatus, firstId: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = firstId + i;
    h.rec.state.knowUser({ id, first_name: `U${id}` });
    await requestAccess(h.db, { id, first_name: `U${id}` }, 1);
    if (status !== 'pending') await transitionUser(h.db, id, 'pending', status, null, 1);
    ids.push(id);
  }
  return ids;
}

export { messageUpdate };

// Characters that would break HTML, and entities: sent back with `entities`, nothing needs escaping.
const TEXT = 'News: <b>not a tag</b> & a link';
export const FORMATTED: { text: string; entities: MessageEntity[] } = {
  text: TEXT,
  entities: [
    { type: 'bold', offset: 0, length: 4 },
    { type: 'text_link', offset: TEXT.indexOf('link'), length: 4, url: 'https://example.com/?a=1&b=2' },
  ],
};

/** The latest message to this chat carrying a button whose callback data starts with `prefix`. */
export function callWithButton(h: Harness, chatId: number, prefix: string): Call {
  const c = h.rec.calls.filter(
    (x) =>
      (x.method === 'sendMessage' || x.method === 'editMessageText') &&
      x.payload.chat_id === chatId &&
      buttons(x).some((b) => b.callback_data.startsWith(prefix)),
  );
  if (!c.length) throw new Error(`no message with a ${prefix} button`);
  return c.at(-1)!;
}

export function buttonData(call: Call, prefix: string): string {
  const b = buttons(call).find((x) => x.callback_data.startsWith(prefix));
  if (!b) throw new Error(`no ${prefix} button`);
  return b.callback_data;
}

/** Successful copies of the broadcast each chat got (sendMessage and sendPhoto), by chat id. */
export function copiesPerChat(calls: Call[], chatIds: number[]): Map<number, number> {
  const out = new Map(chatIds.map((id) => [id, 0]));
  for (const c of calls) {
    if ((c.method === 'sendMessage' || c.method === 'sendPhoto') && !c.error && out.has(c.payload.chat_id)) {
      out.set(c.payload.chat_id, out.get(c.payload.chat_id)! + 1);
    }
  }
  return out;
}

/**
 * Runs `fn` right after the n-th delivery to a user (not an admin) got its answer, before the
 * broadcaster records it: the moment a crash is most ambiguous.
 */
export function afterDelivery(h: Harness, n: number, fn: () => Promise<void> | void): void {
  let seen = 0;
  const hook: Transformer = async (prev, method, payload, signal) => {
    const res = await prev(method, payload, signal);
    const chatId = (payload as { chat_id?: number }).chat_id;
    if ((method === 'sendMessage' || method === 'sendPhoto') && res.ok && chatId !== undefined && !h.deps.adminIds.includes(chatId)) {
      if (++seen === n) await fn();
    }
    return res;
  };
  h.bot.api.config.use(hook);
}

/** /broadcast, then the message, then (optionally) an audience; returns the confirmation call and the broadcast id. */
export async function draft(h: Harness, admin: From, content: Record<string, unknown>, audience?: 'active' | 'all' | 'pending') {
  await h.send(admin, '/broadcast');
  await h.bot.handleUpdate(messageUpdate(admin, content));
  let confirm = callWithButton(h, admin.id, 'bcs:');
  const id = Number(buttonData(confirm, 'bcs:').split(':')[1]);
  if (audience) {
    await h.press(admin, `bca:${id}:${audience}:-`, confirm);
    confirm = callWithButton(h, admin.id, 'bcs:');
  }
  return { confirm, id };
}
