import type { Actor, Decision } from '../../../use-cases/access.js';
import type { BotContext } from '../../context.js';
import { fullName } from '../../format.js';

// What every admin screen that decides about a user shares.

/** A decision that lost the race or hit an unknown user: the alert says so (true); false for any other outcome. */
export async function answerDecidedAlready(ctx: BotContext, r: Decision): Promise<boolean> {
  if (r.kind !== 'not-found' && r.kind !== 'wrong-state') return false;
  const text = r.kind === 'not-found' ? ctx.tr('user-not-found') : ctx.tr('already-decided', { status: ctx.tr(`label-${r.user.status}`) });
  await ctx.answerCallbackQuery({ text, show_alert: true });
  return true;
}

export const actorOf = (ctx: BotContext): Actor => ({ id: ctx.from!.id, name: fullName(ctx.from!) });
