// Where the bot's updates come from: a queue that getUpdates long polls read (with offset
// confirmation, as Telegram), or that is POSTed to the webhook the bot set as Telegram does: over
// HTTPS with certificate verification (trusting the CA the test gives), with the secret token header,
// at most max_connections POSTs at once in update_id order, each retried with back-off until a 2xx
// (a POST unanswered within the delivery timeout counts as failed).
import http from 'node:http';
import https from 'node:https';
import type { Update } from 'grammy/types';
import { ApiError, bad } from './bot-api-state.js';

export const UPDATE_METHODS = new Set(['getUpdates', 'setWebhook', 'deleteWebhook', 'getWebhookInfo']);

export interface WebhookDelivery {
  update_id: number;
  status: number | null;
  error?: string;
  /** When the POST was sent (ms). */
  at: number;
}

export interface WebhookOptions {
  /** false: a webhook the bot sets is never called; the test delivers updates itself. Default true. */
  delivery?: boolean;
  /** The CA an https:// webhook's certificate must chain to (PEM); without it, the system's CAs. */
  ca?: Buffer | string;
  /** Back-off after a failed POST of an update: base * 2^(failures-1), at most cap. Default 100 and 3000 ms. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** A POST unanswered this long counts as failed, as Telegram's ~60 s. Default 60000 ms. */
  timeoutMs?: number;
}

interface Webhook {
  url: string;
  secretToken?: string;
  maxConnections: number;
  /** update_ids this webhook is delivering (in flight or waiting out a back-off). */
  busy: Set<number>;
}

export class UpdateSource {
  /** Webhook POSTs made so far, in the order they were answered. */
  readonly webhookDeliveries: WebhookDelivery[] = [];
  /** The most webhook POSTs that were in flight at once. */
  peakInFlight = 0;
  private inFlight = 0;
  private lastError: { date: number; message: string } | null = null;
  private queue: Update[] = [];
  private nextUpdateId = 100_000 + Math.floor(Math.random() * 1000);
  /** The pending long poll; it settles once: with what is queued, or (superseded, closed) with nothing. */
  private poll: ((empty: boolean) => void) | null = null;
  private webhook: Webhook | null = null;
  private closed = false;

  constructor(private readonly hookOpts: WebhookOptions = {}) {}

  /** Queues an update (update_id assigned here) and wakes a pending long poll or the webhook. */
  push(update: object): Update {
    const u = { ...update, update_id: this.nextUpdateId++ } as Update;
    this.queue.push(u);
    this.poll?.(false);
    this.pumpWebhook();
    return u;
  }

  handle(method: string, p: Record<string, unknown>, aborted: Promise<void>): unknown {
    if (method === 'getUpdates') return this.getUpdates(p, aborted);
    if (method === 'getWebhookInfo') return this.webhookInfo();
    if (p.drop_pending_updates === true) this.queue = [];
    if (method === 'deleteWebhook' || !p.url) {
      this.webhook = null;
      return true;
    }
    const url = String(p.url);
    if (!/^https?:\/\//.test(url)) throw bad('bad webhook: An HTTPS URL must be provided for webhook');
    // Telegram takes max_connections 1-100 (default 40).
    const maxConnections = Math.min(100, Math.max(1, Math.trunc(Number(p.max_connections ?? 40)) || 40));
    this.webhook = { url, ...(typeof p.secret_token === 'string' ? { secretToken: p.secret_token } : {}), maxConnections, busy: new Set() };
    this.lastError = null;
    this.poll?.(true);
    this.pumpWebhook();
    return true;
  }

  /** getWebhookInfo's answer, as Telegram's WebhookInfo. */
  webhookInfo(): Record<string, unknown> {
    const hook = this.webhook;
    return {
      url: hook?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: this.queue.length,
      ...(this.lastError ? { last_error_date: this.lastError.date, last_error_message: this.lastError.message } : {}),
      ...(hook ? { max_connections: hook.maxConnections } : {}),
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

  /** Starts delivering the first max_connections queued updates not already being delivered. */
  private pumpWebhook(): void {
    const hook = this.webhook;
    if (!hook || this.closed || this.hookOpts.delivery === false) return;
    for (const update of this.queue.slice(0, hook.maxConnections)) {
      if (hook.busy.has(update.update_id)) continue;
      hook.busy.add(update.update_id);
      void this.deliver(hook, update);
    }
  }

  /** POSTs one update until it is answered 2xx (or the webhook changes, or it is dropped). */
  private async deliver(hook: Webhook, update: Update): Promise<void> {
    const { retryBaseMs = 100, retryCapMs = 3000 } = this.hookOpts;
    let failures = 0;
    while (this.webhook === hook && !this.closed && this.queue.includes(update)) {
      this.peakInFlight = Math.max(this.peakInFlight, ++this.inFlight);
      const delivery = await this.post(hook, update).finally(() => this.inFlight--);
      this.webhookDeliveries.push(delivery);
      if (delivery.status !== null && delivery.status >= 200 && delivery.status < 300) {
        this.queue = this.queue.filter((u) => u !== update);
        break;
      }
      this.lastError = { date: Math.floor(Date.now() / 1000), message: delivery.error ?? `Wrong response from the webhook: ${delivery.status} ${http.STATUS_CODES[delivery.status!] ?? ''}`.trim() };
      await new Promise((r) => setTimeout(r, Math.min(retryCapMs, retryBaseMs * 2 ** failures++)));
    }
    hook.busy.delete(update.update_id);
    this.pumpWebhook();
  }

  private post(hook: Webhook, update: Update): Promise<WebhookDelivery> {
    const delivery: WebhookDelivery = { update_id: update.update_id, status: null, at: Date.now() };
    const body = JSON.stringify(update);
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...(hook.secretToken ? { 'x-telegram-bot-api-secret-token': hook.secretToken } : {}),
    };
    const secure = hook.url.startsWith('https:');
    const { timeoutMs = 60_000, ca } = this.hookOpts;
    return new Promise((resolve) => {
      const fail = (err: Error): void => {
        clearTimeout(timer);
        delivery.status = null;
        delivery.error ??= err.message;
        resolve(delivery);
      };
      const req = (secure ? https : http).request(hook.url, { method: 'POST', headers, agent: false, ...(secure && ca ? { ca } : {}) }, (res) => {
        delivery.status = res.statusCode ?? null;
        res.on('error', fail);
        res.resume().on('end', () => {
          clearTimeout(timer);
          resolve(delivery);
        });
      });
      const timer = setTimeout(() => {
        delivery.status = null;
        delivery.error = `Read timeout expired (${timeoutMs} ms)`;
        req.destroy();
        resolve(delivery);
      }, timeoutMs);
      req.on('error', fail);
      req.end(body);
    });
  }
}
