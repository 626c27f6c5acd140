import { Api } from 'grammy';
import type { KyselyPlugin, RootOperationNode } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { claim, dueRows, enqueue } from '../../src/db/outbox.js';
import { getDigest } from '../../src/db/requests.js';
import { findUser, requestAccess } from '../../src/db/users.js';
import { askAdmins, tellUser } from '../../src/use-cases/notify.js';
import { DIGEST_EVERY_MS } from '../../src/outbox/render.js';
import { OutboxSender } from '../../src/outbox/sender.js';
import { ADMIN_A, ADMIN_B, createHarness, type Harness } from '../support/harness.js';
import { buttons, type From } from '../support/recorder.js';

const USER: From = { id: 7101, first_name: 'Zoya', language_code: 'en' };

const rowsOf = (h: Harness, chatId: number) => h.db.selectFrom('outbox').selectAll().where('chat_id', '=', chatId).orderBy('id').execute();

describe('outbox', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
    await h.send(USER, '/start');
  });
  afterEach(() => h.close());

  it('an approval that is rolled back queues nothing for the user; a stored one queues the welcome and the config in order', async () => {
    h.wg.failing = 'Operation not permitted';
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect(await rowsOf(h, USER.id)).toEqual([]);
    expect(h.rec.find('sendMessage', USER.id).filter((c) => /approved/.test(c.payload.text))).toHaveLength(0);
    h.wg.failing = null;
    const before = h.rec.calls.length;
    await h.press(ADMIN_A, `apr:${USER.id}`);
    const toUser = h.rec.calls.slice(before).filter((c) => c.payload.chat_id === USER.id).map((c) => c.method);
    // The welcome, then the .conf, its QR code, how to import it and the AmneziaVPN key, one message each.
    expect(toUser).toEqual(['sendMessage', 'sendDocument', 'sendPhoto', 'sendMessage', 'sendMessage']);
    // Sent rows are gone; nothing is left queued.
    expect(await rowsOf(h, USER.id)).toEqual([]);
  });

  it('a message cut off by a crash while being sent is never sent again: it becomes unknown and the admins are told whom it was for', async () => {
    await enqueue(h.db, [tellUser(USER.id, 'you-are-enabled')], h.deps.now());
    const [row] = await dueRows(h.db, h.deps.now(), 10);
    // The sender claimed it and the process died before Telegram answered.
    expect(await claim(h.db, row!.id, h.deps.now())).toBe(true);
    await h.recover();
    expect(h.rec.find('sendMessage', USER.id).some((c) => /active again/.test(c.payload.text))).toBe(false);
    expect((await rowsOf(h, USER.id)).map((r) => r.status)).toEqual(['unknown']);
    for (const admin of [ADMIN_A, ADMIN_B]) expect(h.rec.textsTo(admin.id).at(-1)).toMatch(new RegExp(`Zoya \\(${USER.id}\\): notice`));
    // Nothing else is sent for it later.
    await h.drain();
    expect(h.rec.find('sendMessage', USER.id).some((c) => /active again/.test(c.payload.text))).toBe(false);
  });

  it('429: Telegram did not perform it, so it is sent again after retry_after, once, and the config keeps its order', async () => {
    h.rec.failNext('sendDocument', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    const t0 = Date.now();
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // every sender waited for the hold
    const toUser = h.rec.calls.filter((c) => c.payload.chat_id === USER.id && !c.error).map((c) => c.method);
    expect(toUser.slice(-5)).toEqual(['sendMessage', 'sendDocument', 'sendPhoto', 'sendMessage', 'sendMessage']);
    expect(h.rec.find('sendDocument', USER.id).filter((c) => !c.error)).toHaveLength(1);
  });

  it('a failure to connect is tried again (nothing reached Telegram); a connection lost after sending is not: unknown, and the admins are told', async () => {
    h.rec.failNextOnNetwork('sendMessage', 'ECONNREFUSED', false);
    await h.press(ADMIN_A, `apr:${USER.id}`);
    // The welcome is back in the queue with a pause before the next try, and holds the config back.
    expect(h.rec.find('sendDocument', USER.id)).toHaveLength(0);
    const [welcome] = await rowsOf(h, USER.id);
    expect(welcome).toMatchObject({ kind: 'notice', status: 'queued', attempts: 1 });
    h.advance(2000);
    await h.drain();
    expect(h.rec.find('sendMessage', USER.id).filter((c) => /approved/.test(c.payload.text))).toHaveLength(1);
    expect(h.rec.find('sendDocument', USER.id)).toHaveLength(1);

    const other: From = { id: 7102, first_name: 'Yan', language_code: 'en' };
    await h.send(other, '/start');
    h.rec.failNextOnNetwork('sendDocument', 'ECONNRESET', true);
    await h.press(ADMIN_A, `apr:${other.id}`);
    // Telegram had it: one copy, never a second.
    expect(h.rec.find('sendDocument', other.id)).toHaveLength(1);
    expect((await rowsOf(h, other.id)).map((r) => [r.kind, r.status])).toEqual([['config', 'unknown']]);
    expect(h.rec.textsTo(ADMIN_A.id).at(-1)).toContain('could not be delivered');
  });

  it('403: the user blocked the bot; the rest of their queue is dropped, they are marked, the admins hear the config did not arrive', async () => {
    h.rec.failNext('sendMessage', { error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    await h.press(ADMIN_A, `apr:${USER.id}`);
    expect(h.rec.find('sendDocument', USER.id)).toHaveLength(0);
    expect((await rowsOf(h, USER.id)).map((r) => r.status)).toEqual(['blocked', 'blocked', 'blocked', 'blocked', 'blocked']);
    expect((await findUser(h.db, USER.id))?.blocked_at).not.toBeNull();
    expect(h.rec.textsTo(ADMIN_A.id).at(-1)).toContain('could not be delivered');
  });
});

describe("outbox: the admins' digest", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
  });
  afterEach(() => h.close());

  /** Users asking at once: the first reaches the admins as it is, the rest fold into a digest. */
  async function burst(userIds: number[]): Promise<void> {
    for (const [i, id] of userIds.entries()) {
      h.rec.state.knowUser({ id, first_name: `Asker${id}` }); // as if they had sent /start
      await requestAccess(h.db, { id, first_name: `Asker${id}` }, h.deps.now() + i);
      await enqueue(h.db, askAdmins(h.deps.adminIds, id), h.deps.now());
    }
    await h.drain();
  }
  const digestsTo = (chatId: number, from = 0) => h.rec.find('sendMessage', chatId, from).filter((c) => buttons(c).some((b) => b.callback_data === 'rvw'));
  const notDone = () => h.db.selectFrom('outbox').select(['chat_id', 'kind', 'status', 'error']).where('status', 'not in', ['folded']).execute();

  it('an edit of a digest the admin deleted: a new digest is sent in its place and edited from then on; nothing is left failed', async () => {
    await burst([5000, 5001, 5002, 5003]);
    for (const admin of [ADMIN_A, ADMIN_B]) expect(digestsTo(admin.id)).toHaveLength(1);
    const before = h.rec.calls.length;
    await burst([5004]);
    h.advance(DIGEST_EVERY_MS);
    // One admin deleted the digest: the first edit of it is refused as Telegram refuses it.
    h.rec.failNext('editMessageText', { error_code: 400, description: 'Bad Request: message to edit not found' });
    await h.drain();
    const refused = h.rec.find('editMessageText', undefined, before).find((c) => c.error)!;
    const gone = refused.payload.chat_id as number;
    const fresh = digestsTo(gone, before);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.payload.text).toContain('5 pending requests');
    expect((await getDigest(h.db, gone))?.message_id).toBe(fresh[0]!.result.message_id);
    const other = gone === ADMIN_A.id ? ADMIN_B.id : ADMIN_A.id;
    expect(digestsTo(other, before)).toHaveLength(0);
    expect(h.rec.textsTo(other).at(-1)).toMatch(/5 pending requests|Заявок ждут решения: 5/);
    expect(await notDone()).toEqual([]);

    // The next change edits the new message.
    await h.press(ADMIN_A, 'apr:5004');
    h.advance(DIGEST_EVERY_MS);
    await h.drain();
    expect(h.rec.last('editMessageText', gone)!.payload.message_id).toBe(fresh[0]!.result.message_id);
    expect(digestsTo(gone, before)).toHaveLength(1);
    expect(await notDone()).toEqual([]);
  });

  it('the last request decided between the count and the names: the digest closes, it does not fail', async () => {
    await burst([5000, 5001, 5002]);
    const digest = digestsTo(ADMIN_A.id).at(-1)!;
    // Decided behind the sender's back, and a refresh of the digest queued (as a decision queues it).
    await h.db.updateTable('users').set({ status: 'rejected' }).where('id', 'in', [5000, 5001, 5002]).execute();
    await enqueue(h.db, [{ chatId: ADMIN_A.id, intent: { kind: 'digest' } }], h.deps.now());
    h.advance(DIGEST_EVERY_MS);
    const api = new Api('123:TEST');
    h.rec.install(api);
    const { translator, now, log, adminIds } = h.deps;
    const sender = new OutboxSender({ db: countedBeforeTheDecision(h.db), api, pacer: h.pacer, adminIds, translator, fleet: h.fleet, now, log });
    await sender.drain();
    expect(await notDone()).toEqual([]);
    const closed = h.rec.last('editMessageText', ADMIN_A.id)!;
    expect(closed.payload.message_id).toBe(digest.result.message_id);
    expect(closed.payload.text).toMatch(/No pending requests/);
    expect((await getDigest(h.db, ADMIN_A.id))?.live).toBe(0);
  });
});

/** The database as seen by a reader whose count of pending users was taken just before the last of them was decided. */
function countedBeforeTheDecision(db: Db): Db {
  const counts = new WeakSet<object>();
  const isPendingCount = (node: RootOperationNode) => node.kind === 'SelectQueryNode' && /"name":"users"/.test(JSON.stringify(node.from)) && /"func":"count"/.test(JSON.stringify(node.selections));
  const plugin: KyselyPlugin = {
    transformQuery: ({ node, queryId }) => {
      if (isPendingCount(node)) counts.add(queryId);
      return node;
    },
    transformResult: async ({ result, queryId }) => (counts.has(queryId) ? { ...result, rows: [{ n: 1 }] } : result),
  };
  return db.withPlugin(plugin);
}
