import { Composer } from 'grammy';
import { setBlocked } from '../../db/users.js';
import type { BotContext } from '../context.js';

/** Telegram tells us when a user blocks or unblocks the bot; remembered so nobody retries into a wall. */
export const membership = new Composer<BotContext>();

membership.on('my_chat_member', async (ctx) => {
  const status = ctx.myChatMember.new_chat_member.status;
  const { db, now } = ctx.deps;
  if (status === 'kicked') await setBlocked(db, ctx.myChatMember.from.id, now());
  else if (status === 'member') await setBlocked(db, ctx.myChatMember.from.id, null);
});
