import { Bot, type BotConfig, GrammyError, HttpError } from 'grammy';
import { chatState, setChatLocale } from '../db/chat-locales.js';
import type { BotContext, BotDeps } from './context.js';
import { adminFeature, refuseNonAdmins } from './features/admin/index.js';
import { devicesFeature } from './features/devices.js';
import { invitesFeature } from './features/invites.js';
import { locationFeature } from './features/location.js';
import { membership } from './features/membership.js';
import { onboarding } from './features/onboarding.js';
import { unhandled } from './features/unhandled.js';
import { usageFeature } from './features/usage.js';
import { userFeature } from './features/user.js';
import { DEFAULT_LOCALE, negotiateLocale } from './i18n.js';
import { rateLimit } from './rate-limit.js';

/** The bot's update handling; its outgoing-call policy is installed separately (installApiTransformers) so tests can put a recorder beneath it. */
export function createBot(token: string, deps: BotDeps, botConfig?: BotConfig<BotContext>): Bot<BotContext> {
  const bot = new Bot<BotContext>(token, botConfig);

  // The bot talks only in private chats; group and channel updates are ignored.
  bot.drop((ctx) => ctx.chat?.type !== 'private');
  bot.use(async (ctx, next) => {
    deps.metrics?.updates.inc();
    ctx.deps = deps;
    ctx.isAdmin = ctx.from !== undefined && deps.adminIds.includes(ctx.from.id);
    ctx.locale = negotiateLocale(ctx.from?.language_code);
    ctx.tr = (key, params) => deps.translator.t(ctx.locale, key, params);
    await next();
  });

  // Before any I/O: a flood costs the database nothing. Per process (with replicas, each counts its own share).
  bot.use(rateLimit({ max: 20, windowMs: 10_000, now: deps.now }));

  bot.use(async (ctx, next) => {
    if (ctx.chat) {
      // A language picked with /language wins; otherwise it follows Telegram's and is
      // remembered for messages sent outside this chat's updates (admin notices, decisions).
      // A chat without a row gets DEFAULT_LOCALE there (localeOf), so a new chat in the default
      // language stores nothing: one write less on a newcomer's first /start.
      const { locale: row, user } = await chatState(deps.db, ctx.chat.id);
      ctx.userAtStart = user;
      deps.audience?.note(ctx.chat.id, user?.status);
      if (row?.chosen) ctx.locale = row.locale;
      else if ((row?.locale ?? DEFAULT_LOCALE) !== ctx.locale) await setChatLocale(deps.db, ctx.chat.id, ctx.locale);
    }
    await next();
  });

  const features = bot.errorBoundary(async (err) => {
    const ctx = err.ctx;
    deps.metrics?.errors.inc();
    deps.log.error({ err: err.error, update: ctx.update.update_id }, 'update handling failed');
    try {
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: ctx.tr('error-generic') });
      else if (ctx.chat?.type === 'private') await ctx.reply(ctx.tr('error-generic'));
    } catch {
      // Already failing; the log line above is what matters.
    }
  });
  features.use(refuseNonAdmins, membership, onboarding, userFeature, usageFeature, devicesFeature, locationFeature, invitesFeature, adminFeature, unhandled);

  bot.catch((err) => {
    const e = err.error;
    const kind = e instanceof GrammyError ? 'telegram' : e instanceof HttpError ? 'network' : 'unknown';
    deps.log.error({ err: e, kind }, 'unhandled bot error');
  });
  return bot;
}

