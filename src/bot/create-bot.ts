import { autoRetry } from '@grammyjs/auto-retry';
import { apiThrottler } from '@grammyjs/transformer-throttler';
import { Bot, type BotConfig, GrammyError, HttpError } from 'grammy';
import { setChatLocale } from '../db/misc.js';
import type { BotContext, BotDeps } from './context.js';
import { adminFeature } from './features/admin.js';
import { onboarding } from './features/onboarding.js';
import { unhandled } from './features/unhandled.js';
import { userFeature } from './features/user.js';
import { negotiateLocale } from './i18n.js';

export interface CreateBotOptions {
  botConfig?: BotConfig<BotContext>;
  /** Telegram's rate limits (30 msg/s, ~1/s per chat); off in fast in-process tests. */
  throttle?: boolean;
}

export function createBot(token: string, deps: BotDeps, opts: CreateBotOptions = {}): Bot<BotContext> {
  const bot = new Bot<BotContext>(token, opts.botConfig);
  if (opts.throttle !== false) bot.api.config.use(apiThrottler());
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60 }));

  bot.use(async (ctx, next) => {
    ctx.deps = deps;
    ctx.isAdmin = ctx.from !== undefined && deps.adminIds.includes(ctx.from.id);
    ctx.locale = negotiateLocale(ctx.from?.language_code);
    ctx.tr = (key, params) => deps.translator.t(ctx.locale, key, params);
    // Remembered for messages sent outside this chat's updates (admin notices, decisions).
    if (ctx.chat?.type === 'private') await setChatLocale(deps.db, ctx.chat.id, ctx.locale);
    await next();
  });

  const features = bot.errorBoundary(async (err) => {
    const ctx = err.ctx;
    deps.log.error({ err: err.error, update: ctx.update.update_id }, 'update handling failed');
    try {
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: ctx.tr('error-generic') });
      else if (ctx.chat?.type === 'private') await ctx.reply(ctx.tr('error-generic'));
    } catch {
      // Already failing; the log line above is what matters.
    }
  });
  features.use(onboarding, userFeature, adminFeature, unhandled);

  bot.catch((err) => {
    const e = err.error;
    const kind = e instanceof GrammyError ? 'telegram' : e instanceof HttpError ? 'network' : 'unknown';
    deps.log.error({ err: e, kind }, 'unhandled bot error');
  });
  return bot;
}

