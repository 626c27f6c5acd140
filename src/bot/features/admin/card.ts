import { Composer, InlineKeyboard, InputFile } from 'grammy';
import type { Decision } from '../../../use-cases/access.js';
import { peersOfUser } from '../../../db/peers.js';
import type { User } from '../../../db/schema.js';
import { findUser } from '../../../db/users.js';
import { deviceLimitOf } from '../../../use-cases/devices.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { formatBytes, formatTime } from '../../format.js';
import { usageChartPng, usageParams } from '../../usage-view.js';
import { editCurrent, HTML, userParams } from '../../ui.js';
import { actorOf, answerDecidedAlready } from './decisions.js';
import { effectiveSpeed, UNLIMITED } from '../../../vpn/shaper.js';

/** A user's card: status, limits, devices; status changes, the 30-day chart. */
export const cardScreen = new Composer<BotContext>();

export async function cardText(ctx: BotContext, user: User): Promise<string> {
  const peers = await peersOfUser(ctx.deps.db, user.id);
  const parts = [
    ctx.tr('card', {
      ...userParams(user),
      status: ctx.tr(`label-${user.status}`),
      since: formatTime(user.created_at, ctx.locale),
    }),
  ];
  if (user.blocked_at) parts.push(ctx.tr('card-blocked', { since: formatTime(user.blocked_at, ctx.locale) }));
  const usage = await usageParams(ctx, user);
  parts.push(ctx.tr('card-limits', { ...usage, devices: deviceLimitOf(user, ctx.deps.maxDevicesPerUser) }), ctx.tr('card-period', usage), speedLine(ctx, user));
  for (const p of peers) {
    parts.push(
      ctx.tr('card-peer', {
        ip: p.ip,
        state: ctx.tr(`label-${p.status}`),
        down: formatBytes(p.tx_total, ctx.locale),
        up: formatBytes(p.rx_total, ctx.locale),
        handshake: p.last_handshake_at ? formatTime(p.last_handshake_at, ctx.locale) : ctx.tr('never'),
      }),
    );
  }
  return parts.join('\n');
}

const mbit = (kbit: number | null) => (kbit === null ? '∞' : String(kbit / 1000));

/** The card's speed line: what the user gets, and whether it is their own or the default. */
function speedLine(ctx: BotContext, user: Pick<User, 'speed_down_kbit' | 'speed_up_kbit'>): string {
  const speed = effectiveSpeed(user, ctx.deps.defaultSpeed ?? UNLIMITED);
  const own = user.speed_down_kbit !== null || user.speed_up_kbit !== null;
  const value = speed.downKbit === null && speed.upKbit === null ? ctx.tr('speed-unlimited') : ctx.tr('speed-value', { down: mbit(speed.downKbit), up: mbit(speed.upKbit) });
  return ctx.tr(own ? 'card-speed' : 'card-speed-default', { speed: value });
}

function cardKeyboard(ctx: BotContext, user: User): InlineKeyboard {
  const kb = new InlineKeyboard();
  const userId = user.id;
  if (user.status === 'pending') kb.text(ctx.tr('btn-approve'), cb.approve.pack({ userId })).text(ctx.tr('btn-reject'), cb.reject.pack({ userId }));
  if (user.status === 'active') kb.text(ctx.tr('btn-disable'), cb.disable.pack({ userId }));
  if (user.status === 'disabled') kb.text(ctx.tr('btn-enable'), cb.enable.pack({ userId }));
  if (user.status === 'active' || user.status === 'disabled') kb.text(ctx.tr('btn-revoke'), cb.revokeAsk.pack({ userId }));
  if (user.status !== 'pending' && user.status !== 'provisioning' && ctx.deps.fleet.names().length > 1) kb.row().text(ctx.tr('btn-move'), cb.moveMenu.pack({ userId }));
  kb.row().text(ctx.tr('btn-chart'), cb.chart.pack({ userId })).text(ctx.tr('btn-limits'), cb.quotaMenu.pack({ userId }));
  kb.row().text(ctx.tr('btn-plan'), cb.planMenu.pack({ userId })).text(ctx.tr('btn-speed'), cb.speedMenu.pack({ userId }));
  if (user.status === 'limited' || user.status === 'expired') kb.row().text(ctx.tr('btn-lift'), cb.liftLimits.pack({ userId }));
  kb.row();
  if (user.status === 'banned') kb.text(ctx.tr('btn-unban'), cb.unban.pack({ userId }));
  else if (user.status !== 'provisioning') kb.text(ctx.tr('btn-ban'), cb.banAsk.pack({ userId }));
  return kb.row().text(ctx.tr('btn-refresh'), cb.card.pack({ userId })).text(ctx.tr('btn-back'), cb.users.pack({ page: 0, sort: 0 }));
}

/**
 * A screen under the card (its Limits, Plan, Speed buttons): the card's text with a prompt, the
 * screen's buttons for the user, and Back to the card.
 */
export function cardSubmenu(screen: Composer<BotContext>, menu: typeof cb.quotaMenu, prompt: string, buttons: (ctx: BotContext, user: User, kb: InlineKeyboard) => void): void {
  screen.callbackQuery(menu.filter, async (ctx) => {
    const data = menu.unpack(ctx.callbackQuery.data);
    await ctx.answerCallbackQuery();
    if (!data) return;
    const user = await findUser(ctx.deps.db, data.userId);
    if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
    const kb = new InlineKeyboard();
    buttons(ctx, user, kb);
    kb.row().text(ctx.tr('btn-back'), cb.card.pack({ userId: user.id }));
    await editCurrent(ctx, `${await cardText(ctx, user)}\n\n${ctx.tr(prompt)}`, kb);
  });
}

export async function showCard(ctx: BotContext, userId: number, notice?: string): Promise<void> {
  const user = await findUser(ctx.deps.db, userId);
  if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
  const text = await cardText(ctx, user);
  await editCurrent(ctx, notice ? `${text}\n\n${notice}` : text, cardKeyboard(ctx, user));
}

cardScreen.callbackQuery(cb.card.filter, async (ctx) => {
  const data = cb.card.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (data) await showCard(ctx, data.userId);
});

/** The user's last 30 days as a PNG (usageChartPng), to the admin. */
cardScreen.callbackQuery(cb.chart.filter, async (ctx) => {
  const data = cb.chart.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (!data) return;
  const user = await findUser(ctx.deps.db, data.userId);
  if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
  const png = await usageChartPng(ctx, user);
  await ctx.api.sendPhoto(ctx.from.id, new InputFile(png, `traffic-${user.id}.png`), {
    caption: ctx.tr('chart-caption', { ...userParams(user) }),
    ...HTML,
  });
});

/** A decision that lost the race or hit an unknown user: say so, and show where the user stands now. */
async function answerNotApplied(ctx: BotContext, r: Decision, userId: number): Promise<boolean> {
  if (!(await answerDecidedAlready(ctx, r))) return false;
  if (r.kind === 'wrong-state') await showCard(ctx, userId);
  return true;
}

// The user is told by the access service (through the outbox); the admin sees the card again.
const statusChanges = [
  { codec: cb.disable, run: 'disable', done: 'disabled-short' },
  { codec: cb.enable, run: 'enable', done: 'enabled-short' },
  { codec: cb.revokeYes, run: 'revoke', done: 'revoked-short' },
  { codec: cb.banYes, run: 'ban', done: 'banned-short' },
  { codec: cb.unban, run: 'unban', done: 'unbanned-short' },
] as const;

for (const change of statusChanges) {
  cardScreen.callbackQuery(change.codec.filter, async (ctx) => {
    const data = change.codec.unpack(ctx.callbackQuery.data);
    if (!data) return ctx.answerCallbackQuery();
    const r = await ctx.deps.access[change.run](data.userId, actorOf(ctx));
    if (await answerNotApplied(ctx, r, data.userId)) return;
    await ctx.answerCallbackQuery({ text: ctx.tr(change.done) });
    const notice = r.kind === 'applied-later' ? ctx.tr('applied-later', { error: String(r.error).slice(0, 300) }) : undefined;
    await showCard(ctx, data.userId, notice);
  });
}

const confirmations = [
  { ask: cb.revokeAsk, yes: cb.revokeYes, question: 'revoke-confirm', button: 'btn-revoke-yes' },
  { ask: cb.banAsk, yes: cb.banYes, question: 'ban-confirm', button: 'btn-ban-yes' },
] as const;

for (const c of confirmations) {
  cardScreen.callbackQuery(c.ask.filter, async (ctx) => {
    const data = c.ask.unpack(ctx.callbackQuery.data);
    await ctx.answerCallbackQuery();
    if (!data) return;
    const user = await findUser(ctx.deps.db, data.userId);
    if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
    const kb = new InlineKeyboard().text(ctx.tr(c.button), c.yes.pack({ userId: user.id })).text(ctx.tr('btn-cancel'), cb.card.pack({ userId: user.id }));
    await editCurrent(ctx, ctx.tr(c.question, userParams(user)), kb);
  });
}
