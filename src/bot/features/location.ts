import { Composer, InlineKeyboard } from 'grammy';
import { setUserNode } from '../../db/users.js';
import { cb } from '../callback-data.js';
import type { BotContext } from '../context.js';
import { editCurrent, HTML } from '../ui.js';

/** NODE_CHOICE=user: after the request, a newcomer chooses where to connect. */
export const locationFeature = new Composer<BotContext>();

/** NODE_CHOICE=user and more than one node takes peers: asks the newcomer where to connect. */
export async function offerLocations(ctx: BotContext): Promise<void> {
  if (ctx.deps.nodeChoice !== 'user') return;
  const nodes = await ctx.deps.fleet.candidates();
  if (nodes.length < 2) return;
  const keyboard = new InlineKeyboard();
  for (const n of nodes.sort((a, b) => a.location.localeCompare(b.location))) keyboard.text(n.location, cb.location.pack({ node: n.name })).row();
  await ctx.reply(ctx.tr('choose-location'), { ...HTML, reply_markup: keyboard });
}

locationFeature.callbackQuery(cb.location.filter, async (ctx) => {
  const data = cb.location.unpack(ctx.callbackQuery.data);
  const node = data && (await ctx.deps.fleet.candidates()).find((n) => n.name === data.node);
  if (!node || ctx.deps.nodeChoice !== 'user') return ctx.answerCallbackQuery({ text: ctx.tr('node-unavailable', { node: data?.node ?? '' }), show_alert: true });
  if (!(await setUserNode(ctx.deps.db, ctx.from.id, node.name))) return ctx.answerCallbackQuery();
  await ctx.answerCallbackQuery();
  await editCurrent(ctx, ctx.tr('location-chosen', { location: node.location }));
});
