import type { MiddlewareFn } from 'grammy';
import type { BotContext } from './context.js';

export interface RateLimitOptions {
  /** Updates allowed per user per window. */
  max: number;
  windowMs: number;
  now: () => number;
}

/**
 * Per-user fixed-window limit on updates; admins are exempt. Updates over the limit are
 * dropped (a button press still gets its spinner stopped). The map is pruned as it grows,
 * once a window at most, so a flood of distinct users cannot grow memory without bound.
 */
export function rateLimit(opts: RateLimitOptions): MiddlewareFn<BotContext> {
  const windows = new Map<number, { start: number; count: number }>();
  let prunedAt = -Infinity;
  return async (ctx, next) => {
    const id = ctx.from?.id;
    if (id === undefined || ctx.isAdmin) return next();
    const now = opts.now();
    // At most once a window: more than 10,000 users within one window would otherwise make every
    // update walk them all, and find none to drop.
    if (windows.size > 10_000 && now - prunedAt >= opts.windowMs) {
      prunedAt = now;
      for (const [k, w] of windows) if (now - w.start >= opts.windowMs) windows.delete(k);
    }
    let w = windows.get(id);
    if (!w || now - w.start >= opts.windowMs) {
      w = { start: now, count: 0 };
      windows.set(id, w);
    }
    if (++w.count <= opts.max) return next();
    if (w.count === opts.max + 1) ctx.deps.log.warn({ userId: id }, 'rate limit hit; dropping updates');
    if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: ctx.tr('rate-limited') });
  };
}
