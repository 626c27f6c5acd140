import { Composer } from 'grammy';
import { ADMIN_CALLBACKS } from '../../callback-data.js';
import { ADMIN_ONLY_COMMANDS } from '../../commands.js';
import type { BotContext } from '../../context.js';
import { HTML } from '../../ui.js';
import { approvalsScreen } from './approvals.js';
import { broadcastScreen } from './broadcast.js';
import { cardScreen } from './card.js';
import { deviceRequestsScreen } from './device-requests.js';
import { imitationScreen } from './imitation.js';
import { limitsScreen } from './limits.js';
import { nodesScreen } from './nodes.js';
import { overviewScreen } from './overview.js';
import { plansScreen } from './plans.js';
import { speedScreen } from './speed.js';
import { usersScreen } from './users.js';

/** Every admin screen, reached only by an admin (createBot drops every update from outside private chats). */
export const adminFeature = new Composer<BotContext>();
adminFeature
  .filter((ctx) => ctx.isAdmin)
  .use(overviewScreen, usersScreen, cardScreen, limitsScreen, plansScreen, speedScreen, approvalsScreen, deviceRequestsScreen, nodesScreen, imitationScreen, broadcastScreen);

/** Registered before every feature: a non-admin's admin button or command is refused, whatever the order of features. */
export const refuseNonAdmins = new Composer<BotContext>();
const others = refuseNonAdmins.drop((ctx) => ctx.isAdmin);
others.callbackQuery(ADMIN_CALLBACKS, async (ctx) => {
  ctx.deps.log.warn({ from: ctx.from.id, data: ctx.callbackQuery.data }, 'admin action refused: not an admin');
  await ctx.answerCallbackQuery({ text: ctx.tr('not-admin'), show_alert: true });
});
others.chatType('private').command(ADMIN_ONLY_COMMANDS, (ctx) => ctx.reply(ctx.tr('not-admin'), HTML));
