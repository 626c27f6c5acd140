import { Composer, InputFile } from 'grammy';
import { findUser } from '../../db/users.js';
import type { BotContext } from '../context.js';
import { HTML } from '../ui.js';
import { usageChartPng, usageParams } from '../usage-view.js';

/** /usage: a member's own last 30 days as a chart, with this period's numbers. */
export const usageFeature = new Composer<BotContext>();

const MEMBERS = new Set(['active', 'limited', 'expired']);

usageFeature.chatType('private').command('usage', async (ctx) => {
  const user = await findUser(ctx.deps.db, ctx.from.id);
  if (!user) return ctx.reply(ctx.tr('status-unknown'), HTML);
  if (!MEMBERS.has(user.status)) return ctx.reply(ctx.tr('usage-members-only'), HTML);
  const png = await usageChartPng(ctx, user);
  await ctx.replyWithPhoto(new InputFile(png, 'traffic.png'), { caption: ctx.tr('usage-now', await usageParams(ctx, user)), ...HTML });
});
