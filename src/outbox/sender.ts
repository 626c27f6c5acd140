import { type Api, GrammyError } from 'grammy';
import type { Message } from 'grammy/types';
import type { Logger } from 'pino';
import { fullName } from '../bot/format.js';
import { neverReachedTelegram } from '../bot/api.js';
import { HTML, isEditGone, isNotModified } from '../bot/ui.js';
import { type Pacer, PRIORITY } from '../bot/pacer.js';
import type { Db } from '../db/index.js';
import { claim, dueRows, enqueue, foldRequests, hasQueuedRequest, intentOf, markInterrupted, nextDue, postpone, queuedRowsOf, removeRow, requeue, settle } from '../db/outbox.js';
import { getDigest, updateDigest } from '../db/requests.js';
import type { OutboxRow } from '../db/schema-messaging.js';
import { inTransaction } from '../db/infra/transaction.js';
import { findUser, setBlocked } from '../db/users.js';
import { tellUser, tellAdmins } from '../use-cases/notify.js';
import { type Call, DIGEST_EVERY_MS, render, type RenderDeps } from './render.js';

/** How often the sender looks for due rows (queued by this process, another replica or the monitor). */
const POLL_MS = 100;
/** Rows read per look, and per chat per look. */
const BATCH = 500;
const PER_CHAT = 20;
/** A failure Telegram may get over (5xx, no connection) is tried again this often, then given up. */
const MAX_ATTEMPTS = 8;
const backoffMs = (attempts: number) => Math.min(60_000, 1000 * 2 ** attempts);
/** A request arriving this soon after the previous one for the same admin, while a digest is live, joins it. */
const QUIET_MS = 5 * 60_000;

export interface SenderDeps extends RenderDeps {
  db: Db;
  /** Its own Api: no pacing or retries of its own (the sender paces, and retries only what Telegram surely did not perform). */
  api: Api;
  pacer: Pacer;
  adminIds: readonly number[];
  log: Logger;
}

/**
 * Sends the outbox: on the leader only, within Telegram's limits through the shared pacer (one
 * message a second per chat, the overall rate shared with replies and broadcasts). Each chat has a
 * lane that sends its rows in order; lanes of different chats run side by side.
 *
 * Exactly once: a row is claimed ('sending', committed) only when its chat and the overall pace
 * allow it to go, and removed once Telegram took it. A row still 'sending' at start was cut off by
 * a crash: it becomes 'unknown', is never sent again, and the admins are told what may be missing.
 * 429, 5xx and failures to connect put it back in the queue (Telegram did not perform it).
 */
export class OutboxSender {
  private readonly lanes = new Map<number, Promise<void>>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private wakeUp: (() => void) | null = null;
  private abort = new AbortController();

  constructor(private readonly deps: SenderDeps) {}

  /** Starts sending (as the leader, after recover()). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops taking rows; lanes finish the message in hand. What is left stays queued for the next leader. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.wakeUp?.();
    await this.loop;
    await Promise.all([...this.lanes.values()]);
    this.abort = new AbortController();
  }

  /** Sends what is due now and what that queues in turn, until a round changes nothing; for tests (with a pacer that does not wait). */
  async drain(): Promise<void> {
    let seen = '';
    for (;;) {
      await Promise.all([...this.lanes.values()]);
      const rows = await dueRows(this.deps.db, this.deps.now(), BATCH);
      const ids = rows.map((r) => r.id).join(',');
      if (rows.length === 0 || ids === seen) return;
      seen = ids;
      this.startLanes(rows);
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        this.startLanes(await dueRows(this.deps.db, this.deps.now(), BATCH));
        const due = await nextDue(this.deps.db, this.deps.now());
        await this.sleep(due === null ? POLL_MS : Math.min(POLL_MS, Math.max(0, due - this.deps.now())));
      } catch (err) {
        this.deps.log.error({ err }, 'outbox: reading the queue failed');
        await this.sleep(1000);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private startLanes(rows: OutboxRow[]): void {
    for (const chat of new Set(rows.map((r) => Number(r.chat_id)))) {
      if (this.lanes.has(chat)) continue;
      const lane = this.lane(chat)
        .catch((err) => this.deps.log.error({ err, chatId: chat }, 'outbox: a chat lane failed'))
        .finally(() => this.lanes.delete(chat));
      this.lanes.set(chat, lane);
    }
  }

  /** One chat's rows, in order, one at a time. A row waiting for a retry holds back the rows after it (a config's parts stay in order); a postponed digest does not. */
  private async lane(chatId: number): Promise<void> {
    for (let more = true; more; ) {
      const rows = await queuedRowsOf(this.deps.db, chatId, PER_CHAT);
      // Read again after a full batch or when rows changed; otherwise the poll starts the lane when something is due.
      more = rows.length === PER_CHAT;
      for (const row of rows) {
        if (this.abort.signal.aborted) return;
        if (row.not_before > this.deps.now()) {
          if (row.kind === 'digest') continue;
          return;
        }
        const next = await this.sendRow(row);
        if (next === 'stop') return; // the chat is unreachable: its other rows were settled too
        if (next === 'reread') {
          more = true;
          break;
        }
      }
    }
  }

  /** Sends one row; what the lane does next. */
  private async sendRow(row: OutboxRow): Promise<'next' | 'reread' | 'stop'> {
    const { db, now, log } = this.deps;
    const chatId = Number(row.chat_id);
    const intent = intentOf(row);
    if (intent.kind === 'request') {
      // Decided before it went out (an invite admitted the user at once, another admin was quicker).
      if ((await findUser(db, intent.userId))?.status !== 'pending') {
        await removeRow(db, row.id);
        return 'next';
      }
      if (await this.folded(row)) return 'reread';
    }
    if (intent.kind === 'digest') {
      const d = await getDigest(db, chatId);
      if (d?.live && d.shown_at !== null && now() - d.shown_at < DIGEST_EVERY_MS) {
        await postpone(db, row.id, d.shown_at + DIGEST_EVERY_MS);
        return 'next';
      }
    }
    const priority = row.bulk ? PRIORITY.bulk : this.deps.adminIds.includes(chatId) ? PRIORITY.admin : PRIORITY.member;
    const slot = await this.deps.pacer.acquire(chatId, priority, this.abort.signal).catch(() => null);
    if (!slot) return 'stop'; // stopping: the row stays queued
    let used = false;
    try {
      // Rendered once it may go: what it says is what the database says now.
      const rendered = await render(this.deps, chatId, intent).catch(async (err: unknown) => {
        log.error({ err, row: row.id }, 'outbox: rendering a message failed');
        await settle(db, row.id, 'failed', String(err).slice(0, 300), now());
        return undefined;
      });
      if (!rendered) {
        if (rendered === null) await removeRow(db, row.id); // nothing to say any more
        return 'next';
      }
      if (!(await claim(db, row.id, now()))) return 'next';
      used = true;
      let message: Message | true;
      try {
        message = await this.call(chatId, rendered.call);
      } catch (err) {
        const { whenGone } = rendered;
        if (whenGone && isEditGone(err)) {
          // Queued again to go as a new message; a newer row of its kind already queued takes it in.
          await inTransaction(db, async (trx) => {
            await whenGone(trx);
            await removeRow(trx, row.id);
            await enqueue(trx, [{ chatId, intent }], now());
          });
          return 'reread';
        }
        if (!isNotModified(err)) return this.failed(row, intent.kind, err);
        message = true;
      }
      await inTransaction(db, async (trx) => {
        await rendered.afterSent?.(trx, message === true ? undefined : message.message_id);
        await removeRow(trx, row.id);
      });
      return 'next';
    } finally {
      // Nothing went out: the chat does not have to wait a gap for it.
      if (used) slot.done();
      else slot.unused();
    }
  }

  /** An access request joins the admin's digest unless it is the first of a quiet period: when others wait behind it, or a digest is live, and requests keep coming. */
  private async folded(row: OutboxRow): Promise<boolean> {
    const { db, now } = this.deps;
    const chatId = Number(row.chat_id);
    const d = await getDigest(db, chatId);
    const t = now();
    const recent = d?.last_request_at != null && t - d.last_request_at < QUIET_MS;
    const busy = recent && (d.live === 1 || (await hasQueuedRequest(db, chatId, row.id)));
    await inTransaction(db, async (trx) => {
      await updateDigest(trx, chatId, { last_request_at: t, ...(busy ? { live: 1 } : {}) });
      if (busy) await foldRequests(trx, chatId, t);
      // A live digest shows the new count.
      if (busy || d?.live) await enqueue(trx, [{ chatId, intent: { kind: 'digest' } }], t);
    });
    return busy;
  }

  private call(chatId: number, c: Call): Promise<Message | true> {
    const { api } = this.deps;
    const signal = this.abort.signal as unknown as Parameters<Api['sendMessage']>[3];
    switch (c.method) {
      case 'sendMessage':
        return api.sendMessage(chatId, c.text, { ...HTML, reply_markup: c.keyboard, ...(c.noPreview ? { link_preview_options: { is_disabled: true } } : {}) }, signal);
      case 'sendDocument':
        return api.sendDocument(chatId, c.file, { ...HTML, caption: c.caption }, signal);
      case 'sendPhoto':
        return api.sendPhoto(chatId, c.file, { ...HTML, caption: c.caption }, signal);
      case 'editMessageText':
        return api.editMessageText(chatId, c.messageId, c.text, { ...HTML, reply_markup: c.keyboard }, signal);
    }
  }

  /** Telegram refused or did not answer; what the lane does next (a row back in the queue is read again, in order). */
  private async failed(row: OutboxRow, kind: string, err: unknown): Promise<'next' | 'reread' | 'stop'> {
    const { db, now, log, pacer } = this.deps;
    const chatId = Number(row.chat_id);
    const error = String(err instanceof Error ? err.message : err).slice(0, 300);
    if (err instanceof GrammyError && err.error_code === 429) {
      pacer.holdAll((err.parameters.retry_after ?? 1) * 1000);
      await requeue(db, row.id, now(), now(), error, false);
      return 'reread';
    }
    const retriable = (err instanceof GrammyError && err.error_code >= 500) || neverReachedTelegram(err);
    if (retriable && row.attempts + 1 < MAX_ATTEMPTS) {
      await requeue(db, row.id, now(), now() + backoffMs(row.attempts), error, true);
      return 'reread';
    }
    if (err instanceof GrammyError && err.error_code === 403) {
      // Blocked the bot or gone: nothing more goes to this chat until they write again.
      const dropped = await inTransaction(db, async (trx) => {
        await settle(trx, row.id, 'blocked', error, now());
        await setBlocked(trx, chatId, now());
        return trx.updateTable('outbox').set({ status: 'blocked', error, updated_at: now() }).where('chat_id', '=', chatId).where('status', '=', 'queued').returning('kind').execute();
      });
      log.info({ chatId }, 'outbox: the chat blocked the bot; its messages are dropped');
      await this.tellAdminsUndelivered(chatId, [kind, ...dropped.map((r) => r.kind)]);
      return 'stop';
    }
    // A refusal (400), or a network error after which Telegram may have it: not sent again.
    const status = err instanceof GrammyError ? 'failed' : 'unknown';
    await settle(db, row.id, status, error, now());
    log.warn({ err, chatId, row: row.id, status }, 'outbox: a message was not delivered');
    await this.tellAdminsUndelivered(chatId, [kind]);
    return 'next';
  }

  /** A config that did not reach its user: the admins hear of it (the user can still use /config). */
  private async tellAdminsUndelivered(chatId: number, kinds: string[]): Promise<void> {
    if (!kinds.includes('config')) return;
    const user = await findUser(this.deps.db, chatId);
    const name = user ? fullName(user) : String(chatId);
    await enqueue(this.deps.db, tellAdmins(this.deps.adminIds, 'delivery-failed', { name, id: String(chatId) }), this.deps.now());
  }

  /**
   * Before sending: rows a crash left 'sending' (claimed before claimedBefore; younger ones may be
   * in flight on a replica that is alive) become 'unknown', and the admins hear of those to users.
   */
  async recover(claimedBefore = Number.POSITIVE_INFINITY): Promise<void> {
    const { db, now, log, adminIds } = this.deps;
    const cut = (await markInterrupted(db, now(), claimedBefore)).filter((r) => !adminIds.includes(Number(r.chat_id)));
    if (cut.length === 0) return;
    log.warn({ rows: cut.map((r) => r.id) }, 'outbox: messages cut off by a restart are recorded as unknown, not resent');
    const lines: string[] = [];
    for (const r of cut.slice(0, 30)) {
      const user = await findUser(db, Number(r.chat_id));
      lines.push(`${user ? fullName(user) : '?'} (${r.chat_id}): ${r.kind}`);
    }
    if (cut.length > 30) lines.push(`… +${cut.length - 30}`);
    await enqueue(db, adminIds.map((id) => tellUser(id, 'outbox-unknown', { count: cut.length, list: lines.join('\n') })), now());
  }
}
