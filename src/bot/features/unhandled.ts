import { Composer } from 'grammy';
import type { BotContext } from '../context.js';
import { HTML } from '../ui.js';

/** Registered last: stray buttons get their spinner stopped, stray messages a hint. */
export const unhandled = new Composer<BotContext>();

unhandled.on('callback_query', (ctx) => ctx.answerCallbackQuery({ text: ctx.tr('button-outdated') }));
unhandled.chatType('private').on('message', (ctx) => ctx.reply(ctx.tr('unknown-message'), HTML));
