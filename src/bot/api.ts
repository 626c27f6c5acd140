import { autoRetry } from '@grammyjs/auto-retry';
import { apiThrottler } from '@grammyjs/transformer-throttler';
import type { Api, Transformer } from 'grammy';
import type { Logger } from 'pino';

const TEXT_LIMIT = 4096;

/**
 * One message a second per chat, as the throttler's default, but its per-chat limiter goes after
 * 10 s idle instead of 5 minutes: each weighs tens of KB, and a community's busy hour has thousands
 * of chats (1,000 /start in a burst held ~90 MB of them).
 */
const PER_CHAT = { maxConcurrent: 1, minTime: 1000, timeout: 10_000 };

export interface ApiOptions {
  log: Logger;
  /** Telegram's rate limits (30 msg/s, ~1/s per chat); off in fast in-process tests. */
  throttle?: boolean;
  /** A chat answered 403: the user blocked the bot or is gone. Retrying will not help. */
  onBlocked?: (chatId: number) => Promise<void>;
  /**
   * Retry requests that failed on the network (default true). Such a request may have reached
   * Telegram: broadcasts turn this off so nobody gets a message twice.
   */
  retryNetworkErrors?: boolean;
}

/**
 * Outgoing-call policy, innermost first: throttling, retries (429 with retry_after, 5xx and
 * network errors, a bounded number of times), a fallback so no information is lost when
 * Telegram refuses a message's HTML or length, and a watcher for users who blocked the bot.
 */
export function installApiTransformers(api: Api, opts: ApiOptions): void {
  if (opts.throttle !== false) api.config.use(apiThrottler({ out: PER_CHAT }));
  api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: opts.retryNetworkErrors === false }));
  api.config.use(plainTextFallback(opts.log));
  if (opts.onBlocked) api.config.use(blockedWatcher(opts.onBlocked, opts.log));
}

export function htmlToPlain(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, '&');
}

/** Chunks of at most `max` characters, cut at line breaks where possible. */
export function splitText(text: string, max = TEXT_LIMIT): string[] {
  const chunks: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const cut = rest.lastIndexOf('\n', max);
    const at = cut > max / 2 ? cut : max;
    chunks.push(rest.slice(0, at));
    rest = rest.slice(at).replace(/^\n/, '');
  }
  if (rest.length || chunks.length === 0) chunks.push(rest);
  return chunks;
}

function plainTextFallback(log: Logger): Transformer {
  return async (prev, method, payload, signal) => {
    const res = await prev(method, payload, signal);
    if (res.ok || res.error_code !== 400 || (method !== 'sendMessage' && method !== 'editMessageText')) return res;
    const p = payload as { text?: string; parse_mode?: string; reply_markup?: unknown };
    if (typeof p.text !== 'string') return res;
    const plain = p.parse_mode === 'HTML' ? htmlToPlain(p.text) : p.text;
    if (/can't parse entities/i.test(res.description) && p.parse_mode) {
      log.warn({ method, description: res.description }, 'Telegram refused the HTML; sending plain text');
      return prev(method, { ...payload, text: plain, parse_mode: undefined } as typeof payload, signal);
    }
    if (method === 'sendMessage' && /message is too long/i.test(res.description)) {
      log.warn({ length: plain.length }, 'message too long; sending it in parts');
      const chunks = splitText(plain);
      let last: Awaited<ReturnType<typeof prev>> = res;
      for (const [i, text] of chunks.entries()) {
        const markup = i === chunks.length - 1 ? p.reply_markup : undefined;
        last = await prev(method, { ...payload, text, parse_mode: undefined, reply_markup: markup } as typeof payload, signal);
        if (!last.ok) break;
      }
      return last;
    }
    return res;
  };
}

function blockedWatcher(onBlocked: (chatId: number) => Promise<void>, log: Logger): Transformer {
  return async (prev, method, payload, signal) => {
    const res = await prev(method, payload, signal);
    const chatId = (payload as { chat_id?: unknown }).chat_id;
    if (!res.ok && res.error_code === 403 && typeof chatId === 'number') {
      await onBlocked(chatId).catch((err) => log.warn({ err, chatId }, 'could not mark a blocked chat'));
    }
    return res;
  };
}
