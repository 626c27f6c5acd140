import { type Api, InlineKeyboard } from 'grammy';
import type { Logger } from 'pino';
import { cb } from '../bot/callback-data.js';
import type { Translator } from '../bot/i18n.js';
import { HTML, localeOf, safeEdit } from '../bot/ui.js';
import { type Clock, type Pacer, PRIORITY } from '../bot/pacer.js';
import type { DeliveryCounts } from '../db/broadcasts.js';
import type { Db } from '../db/index.js';
import type { Broadcast } from '../db/schema-messaging.js';

/** What the broadcaster and its progress line need of the bot's dependencies. */
export interface BroadcastDeps {
  db: Db;
  log: Logger;
  translator: Translator;
  now: () => number;
}

export interface ProgressEnv {
  api: Api;
  deps: BroadcastDeps;
  clock: Clock;
  everyMs: number;
  /** Edits and reports go through the same pace, as an admin's messages. */
  pacer: Pacer;
}

/** The admin's progress line, edited in place, and the final report. Its failures never stop a broadcast. */
export class Progress {
  private lastAt = Number.NEGATIVE_INFINITY;
  private lastDone = -1;
  /** The edit on its way, if any; a new one is not started before it is done. */
  private editing: Promise<void> | null = null;

  constructor(
    private readonly env: ProgressEnv,
    private readonly b: Broadcast,
    private readonly counts: DeliveryCounts,
  ) {}

  count(status: 'sent' | 'failed' | 'blocked'): void {
    this.counts.queued--;
    this.counts[status]++;
  }

  private get done(): number {
    const c = this.counts;
    return c.sent + c.failed + c.blocked + c.unknown;
  }

  private async text(key: string, counts: DeliveryCounts): Promise<string> {
    const { deps } = this.env;
    const locale = await localeOf(deps.db, this.b.admin_id);
    return deps.translator.t(locale, key, {
      id: this.b.id,
      done: counts.sent + counts.failed + counts.blocked + counts.unknown,
      total: counts.total,
      sent: counts.sent,
      failed: counts.failed,
      blocked: counts.blocked,
      unknown: counts.unknown,
      cancelled: counts.cancelled,
    });
  }

  /**
   * Every `everyMs`, or after 5 % more is done but at most once a second: Telegram allows
   * about one message a second in a chat, and "not modified" answers are fine. While an edit is
   * still on its way, no other starts.
   */
  show(force: boolean): Promise<void> {
    if (this.editing) return this.editing;
    const { clock, everyMs } = this.env;
    const t = clock.now();
    const step = Math.max(1, Math.ceil(this.counts.total / 20));
    const due = t - this.lastAt >= everyMs || (this.done - this.lastDone >= step && t - this.lastAt >= 1000);
    if (!force && !due) return Promise.resolve();
    this.lastAt = t;
    this.lastDone = this.done;
    const editing = this.showCounts().finally(() => {
      this.editing = null;
    });
    this.editing = editing;
    return editing;
  }

  private async showCounts(): Promise<void> {
    const { deps } = this.env;
    try {
      const locale = await localeOf(deps.db, this.b.admin_id);
      const stop = new InlineKeyboard().text(deps.translator.t(locale, 'broadcast-btn-stop'), cb.broadcastStop.pack({ id: this.b.id }));
      await this.edit(await this.text('broadcast-progress', this.counts), stop);
    } catch (err) {
      deps.log.warn({ err, broadcast: this.b.id }, 'could not update the broadcast progress');
    }
  }

  /** Resolves when no edit is on its way. */
  async settled(): Promise<void> {
    await this.editing;
  }

  async finish(counts: DeliveryCounts, cancelled: boolean): Promise<void> {
    const { api, deps } = this.env;
    await this.settled();
    await this.edit(await this.text('broadcast-progress-final', counts));
    const report = await this.text(cancelled ? 'broadcast-report-cancelled' : 'broadcast-report', counts);
    const unknown = counts.unknown ? `\n${await this.text('broadcast-report-unknown', counts)}` : '';
    const slot = await this.env.pacer.acquire(this.b.admin_id, PRIORITY.admin);
    try {
      await api.sendMessage(this.b.admin_id, report + unknown, HTML);
    } catch (err) {
      deps.log.warn({ err, broadcast: this.b.id }, 'could not send the broadcast report');
    } finally {
      slot.done();
    }
    deps.log.info({ broadcast: this.b.id, ...counts, cancelled }, 'broadcast finished');
  }

  private async edit(text: string, keyboard?: InlineKeyboard): Promise<void> {
    const { api, deps } = this.env;
    const { progress_chat_id: chatId, progress_message_id: messageId } = this.b;
    if (chatId === null || messageId === null) return;
    const slot = await this.env.pacer.acquire(chatId, PRIORITY.admin);
    try {
      await safeEdit(api, chatId, messageId, text, keyboard);
    } catch (err) {
      deps.log.warn({ err, broadcast: this.b.id }, 'could not update the broadcast progress');
    } finally {
      slot.done();
    }
  }
}
