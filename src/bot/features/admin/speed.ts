import { Composer } from 'grammy';
import { changeSpeed, type SpeedChoice } from '../../../use-cases/speed.js';
import { cb, SPEED_DEFAULT, SPEED_UNLIMITED } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { cardSubmenu, showCard } from './card.js';
import { actorOf } from './decisions.js';

/** A user's speed limit, from the card's Speed button: shaped on every node the user has peers on. */
export const speedScreen = new Composer<BotContext>();

const SPEED_CHOICES_MBIT = [5, 10, 20, 50, 100];
const MAX_MBIT = 10_000;

cardSubmenu(speedScreen, cb.speedMenu, 'speed-menu', (ctx, { id: userId }, kb) => {
  for (const n of SPEED_CHOICES_MBIT) kb.text(ctx.tr('btn-speed-mbit', { n }), cb.setSpeed.pack({ userId, mbit: n }));
  kb.row().text(ctx.tr('btn-speed-default'), cb.setSpeed.pack({ userId, mbit: SPEED_DEFAULT })).text(ctx.tr('btn-speed-unlimited'), cb.setSpeed.pack({ userId, mbit: SPEED_UNLIMITED }));
});

speedScreen.callbackQuery(cb.setSpeed.filter, async (ctx) => {
  const data = cb.setSpeed.unpack(ctx.callbackQuery.data);
  if (!data || data.mbit < SPEED_DEFAULT || data.mbit > MAX_MBIT) return ctx.answerCallbackQuery();
  const choice: SpeedChoice = data.mbit === SPEED_DEFAULT ? 'default' : data.mbit === SPEED_UNLIMITED ? 'unlimited' : data.mbit;
  const r = await changeSpeed(ctx.deps, data.userId, choice, actorOf(ctx), ctx.deps.now());
  if (r.kind === 'not-found') return ctx.answerCallbackQuery({ text: ctx.tr('user-not-found') });
  await ctx.answerCallbackQuery({ text: ctx.tr('limits-saved') });
  await showCard(ctx, data.userId, r.kind === 'applied-later' ? ctx.tr('applied-later', { error: String(r.error).slice(0, 300) }) : undefined);
});
