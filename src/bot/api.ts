import { autoRetry } from '@grammyjs/auto-retry';
import { type Api, HttpError, type Transformer } from 'grammy';
import type { Logger } from 'pino';
import type { Pacer, Priority } from './pacer.js';

const TEXT_LIMIT = 4096;

export interface ApiOptions {
  log: Logger;
  /** Telegram's rate limits (one message a second per chat, ~30 a second in all), shared by every sender of the process; off in fast in-process tests. */
  pacing?: { pacer: Pacer; priorityOf: (chatId: number) => Priority; beforeWait?: () => void };
  /** A chat answered 403: the user blocked the bot or is gone. Retrying will not help. */
  onBlocked?: (chatId: number) => Promise<void>;
  /**
   * Retry requests that failed on the network (default true). Such a request may have reached
   * Telegram: broadcasts turn this off so nobody gets a message twice.
   */
  retryNetworkErrors?: boolean;
  /** false: a 429 comes back to the caller (which holds the shared pacer and tries again) instead of being waited out here. */
  retry429?: boolean;
}

/**
 * Outgoing-call policy, innermost first: pacing (which also waits out a 429's retry_after),
 * retries (5xx and network errors, a bounded number of times), a fallback so no information is
 * lost when Telegram refuses a message's HTML or length, a late callback answer taken as done, and
 * a watcher for users who blocked the bot.
 */
export function installApiTransformers(api: Api, opts: ApiOptions): void {
  if (opts.pacing) api.config.use(pacing(opts.pacing.pacer, opts.pacing.priorityOf, opts.log, opts.pacing.beforeWait));
  api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: opts.retry429 === false ? 0 : 60, rethrowHttpErrors: opts.retryNetworkErrors === false }));
  api.config.use(plainTextFallback(opts.log));
  api.config.use(lateCallbackAnswers(opts.log));
  if (opts.onBlocked) api.config.use(blockedWatcher(opts.onBlocked, opts.log));
}

/**
 * A callback query answered too late (or twice: an update handled again after a crash) cannot be
 * answered any more; the press itself was handled, so the handler goes on.
 */
function lateCallbackAnswers(log: Logger): Transformer {
  return async (prev, method, payload, signal) => {
    const res = await prev(method, payload, signal);
    if (method !== 'answerCallbackQuery' || res.ok || res.error_code !== 400 || !/query is too old|query id is invalid/i.test(res.description)) return res;
    log.debug({ description: res.description }, 'callback query could not be answered any more');
    return { ok: true, result: true } as unknown as typeof res;
  };
}

/** Network errors that happen before the request reaches Telegram: trying again cannot deliver it twice. */
const BEFORE_SENDING = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED']);

/** The call failed before Telegram could have received it (a connection that never opened). */
export function neverReachedTelegram(err: unknown): boolean {
  if (!(err instanceof HttpError)) return false;
  const cause = err.error as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = cause?.code ?? cause?.cause?.code;
  return typeof code === 'string' && BEFORE_SENDING.has(code);
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

export function plainTextFallback(log: Logger): Transformer {
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

/** Outgoing messages: the methods that put or change something in a chat. */
const PACED = /^(send|edit|copy|forward)/;
const MAX_RETRIES = 3;

/**
 * Sends every message to a numeric chat through `pacer`, the chat's priority from `priorityOf`;
 * `beforeWait` runs first (the update queue frees the caller's slot: waiting for Telegram's pace
 * holds no slot another update could use).
 * A 429 with retry_after holds every chat for that long, then the call is retried (at most 3
 * times; then the last answer is returned). Chat actions, @channel names, inline-message edits
 * and every other method pass straight through.
 */
export function pacing(pacer: Pacer, priorityOf: (chatId: number) => Priority, log?: Logger, beforeWait?: () => void): Transformer {
  return async (prev, method, payload, signal) => {
    const chatId = (payload as { chat_id?: unknown } | undefined)?.chat_id;
    if (!PACED.test(method) || method === 'sendChatAction' || typeof chatId !== 'number') return prev(method, payload, signal);
    const priority = priorityOf(chatId);
    beforeWait?.();
    // grammY types the signal with an old polyfill's AbortSignal; on Node it is the built-in one.
    const abort = signal as AbortSignal | undefined;
    for (let retry = 0; ; retry++) {
      const slot = await pacer.acquire(chatId, priority, abort);
      try {
        const res = await prev(method, payload, signal);
        const retryAfter = res.ok || res.error_code !== 429 ? undefined : res.parameters?.retry_after;
        if (retryAfter !== undefined) {
          log?.warn({ method, chatId, retryAfter, retry }, 'Telegram answered 429: holding every message');
          // Before done(): the freed slot must not let a waiter out into the flood wait.
          pacer.holdAll(retryAfter * 1000);
        }
        if (retryAfter === undefined || retry === MAX_RETRIES) return res;
      } finally {
        slot.done();
      }
    }
  };
}
