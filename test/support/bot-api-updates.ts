// Where the bot's updates come from: a queue that getUpdates long polls read (with offset
// confirmation, as Telegram), or that is POSTed to the webhook the bot set (with its secret token
// header, retried until a 2xx).
import type { Update, WebhookInfo } from 'grammy/types';
import { ApiError, bad } from './bot-api-state.js';

export const UPDATE_METHODS = new Set(['getUpdates', 'setWebhook', 'deleteWebhook', 'getWebhookInfo']);

export interface WebhookDelivery {
  update_id: number;
  status: number | null;
  error?: string;
  /** Unix time of the attempt. */
  at: number;
}

export class UpdateSource {
  /** Webhook POSTs made so far. */
  readonly webhookDeliveries: WebhookDelivery[] = [];
  private queue: Update[] = [];
  private nextUpdateId = 100_000 + Math.floor(Math.random() * 1000);
  /** The pending long poll; it settles once: with what is queued, or (superseded, closed) with nothing. */
  private poll: ((empty: boolean) => void) | null = null;
  private webhook: { url: string; secretToken?: string; pumping: boolean } | null = null;
  private closed = false;

  /** `webhookDelivery` false: a webhook the bot sets is never called; the test delivers updates itself. */
  constructor(private readonly webhookDelivery: boolean) {}

  /** Queues an update (update_id assigned here) and wakes a pending long poll or the webhook. */
  push(update: object): Update {
    const u = { ...update, update_id: this.nextUpdateId++ } as Update;
    this.queue.push(u);
    this.poll?.(false);
    void this.pumpWebhook();
    return u;
  }

  handle(method: string, p: Record<string, unknown>, aborted: Promise<void>): unknown {
    if (method === 'getUpdates') return this.getUpdates(p, aborted);
    if (method === 'getWebhookInfo') return this.webhookInfo();
    if (method === 'deleteWebhook' || !p.url) {
      this.webhook = null;
      return true;
    }
    const url = String(p.url);
    if (!/^https?:\/\//.test(url)) throw bad('bad webhook: An HTTPS URL must be provided for webhook');
    this.webhook = { url, ...(typeof p.secret_token === 'string' ? { secretToken: p.secret_token } : {}), pumping: false };
    this.poll?.(true);
    void this.pumpWebhook();
    return true;
  }

  /** Telegram's WebhookInfo: the updates not delivered (or confirmed) yet and the last failed delivery, which Telegram keeps after later successes. */
  webhookInfo(): WebhookInfo {
    const failed = this.webhookDeliveries.filter((d) => d.status === null || d.status < 200 || d.status >= 300).at(-1);
    return {
      url: this.webhook?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: this.queue.length,
      ...(failed ? { last_error_date: failed.at, last_error_message: failed.error ?? `Wrong response from the webhook: ${failed.status}` } : {}),
      ...(this.webhook ? { max_connections: 40 } : {}),
    };
  }

  close(): void {
    this.closed = true;
    this.webhook = null;
    this.poll?.(true);
  }

  private getUpdates(p: Record<string, unknown>, aborted: Promise<void>): Update[] | Promise<Update[]> {
    if (this.webhook) {
      throw new ApiError({ error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" });
    }
    const offset = Number(p.offset ?? 0);
    const limit = Math.min(100, Math.max(1, Number(p.limit ?? 100)));
    const timeout = Number(p.timeout ?? 0);
    // Asking from `offset` confirms every update before it.
    this.queue = this.queue.filter((u) => u.update_id >= offset);
    // A newer poll ends the older one, which answers nothing.
    this.poll?.(true);
    if (this.queue.length > 0 || timeout <= 0 || this.closed) return structuredClone(this.queue.slice(0, limit));
    return new Promise((resolve) => {
      const finish = (empty: boolean): void => {
        clearTimeout(timer);
        if (this.poll === finish) this.poll = null;
        resolve(empty ? [] : structuredClone(this.queue.slice(0, limit)));
      };
      const timer = setTimeout(() => finish(false), timeout * 1000);
      this.poll = finish;
      void aborted.then(() => this.poll === finish && finish(true));
    });
  }

  private async pumpWebhook(): Promise<void> {
    const hook = this.webhook;
    if (!hook || hook.pumping || !this.webhookDelivery) return;
    hook.pumping = true;
    let failures = 0;
    while (this.webhook === hook && !this.closed && this.queue.length > 0) {
      const update = this.queue[0]!;
      const delivery: WebhookDelivery = { update_id: update.update_id, status: null, at: Math.floor(Date.now() / 1000) };
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(hook.secretToken ? { 'x-telegram-bot-api-secret-token': hook.secretToken } : {}) },
          body: JSON.stringify(update),
          signal: AbortSignal.timeout(60_000),
        });
        delivery.status = res.status;
        await res.arrayBuffer();
      } catch (err) {
        delivery.error = err instanceof Error ? err.message : String(err);
      }
      this.webhookDeliveries.push(delivery);
      if (delivery.status !== null && delivery.status >= 200 && delivery.status < 300) {
        failures = 0;
        this.queue = this.queue.filter((u) => u !== update);
      } else {
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** ++failures)));
      }
    }
    hook.pumping = false;
  }
}
