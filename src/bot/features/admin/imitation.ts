import { Composer, InlineKeyboard } from 'grammy';
import { bulkPending } from '../../../db/outbox.js';
import { type ImitationState, loadImitation, resendAudience, resendConfigs, switchImitation } from '../../../use-cases/imitation.js';
import { IMITATION_PRESETS, type ImitationPreset } from '../../../vpn/imitation.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { formatTime } from '../../format.js';
import { editCurrent } from '../../ui.js';

// /admin → Imitation: which packets clients send before each handshake (off, a DNS query, a QUIC
// Initial), a switch to another preset, and a paced re-send of every active user's config.

export const imitationScreen = new Composer<BotContext>();

// A button left from before VPN_FLAVOR or AWG_PROTOCOL changed.
imitationScreen.callbackQuery([cb.imitation.filter, cb.imitationSwitch.filter, cb.imitationResend.filter], async (ctx, next) => {
  if (ctx.deps.imitation?.enabled) return next();
  await ctx.answerCallbackQuery({ text: ctx.tr('imitation-unavailable'), show_alert: true });
});

const lineOf = (ctx: BotContext, state: ImitationState | null) =>
  ctx.tr('imitation-line', { preset: ctx.tr(`imitation-${state?.preset ?? 'off'}`), detail: state?.detail ?? '' });

/** The overview's line: the preset and what it looks like; null when this deployment has none. */
export async function imitationLine(ctx: BotContext): Promise<string | null> {
  return ctx.deps.imitation?.enabled ? lineOf(ctx, await loadImitation(ctx.deps.db)) : null;
}

async function showImitation(ctx: BotContext, notice?: string): Promise<void> {
  const { db, imitation } = ctx.deps;
  const state = await loadImitation(db);
  const preset = state?.preset ?? 'off';
  const lines = [ctx.tr('imitation-title'), lineOf(ctx, state)];
  if (state) lines.push(ctx.tr('imitation-since', { since: formatTime(state.since, ctx.locale) }));
  lines.push(ctx.tr('imitation-about'));
  const keyboard = new InlineKeyboard();
  if (imitation?.overrides) lines.push(ctx.tr('imitation-overridden'));
  else for (const p of IMITATION_PRESETS) keyboard.text(`${p === preset ? '• ' : ''}${ctx.tr(`imitation-${p}`)}`, cb.imitationSwitch.pack({ preset: p }));
  keyboard.row();
  const pending = await bulkPending(db);
  if (pending > 0) lines.push(ctx.tr('imitation-resend-pending', { messages: pending }));
  else if (state && !state.resent) {
    const { users } = await resendAudience(db);
    if (users > 0) keyboard.text(ctx.tr('btn-imitation-resend', { users }), cb.imitationResend.pack({ since: state.since })).row();
  }
  keyboard.text(ctx.tr('btn-refresh'), cb.imitation.pack({})).text(ctx.tr('btn-back'), cb.adminMenu.pack({}));
  if (notice) lines.push('', notice);
  await editCurrent(ctx, lines.join('\n'), keyboard);
}

imitationScreen.callbackQuery(cb.imitation.filter, async (ctx) => {
  await ctx.answerCallbackQuery();
  await showImitation(ctx);
});

imitationScreen.callbackQuery(cb.imitationSwitch.filter, async (ctx) => {
  const preset = cb.imitationSwitch.unpack(ctx.callbackQuery.data)?.preset;
  if (!IMITATION_PRESETS.includes(preset as ImitationPreset)) return ctx.answerCallbackQuery();
  const switched = await switchImitation(ctx.deps.db, preset as ImitationPreset, ctx.deps.imitation!, ctx.from.id, ctx.deps.now());
  await ctx.answerCallbackQuery(switched ? undefined : { text: ctx.tr('imitation-unchanged') });
  if (switched) ctx.deps.log.info({ adminId: ctx.from.id, preset }, 'imitation preset switched');
  await showImitation(ctx, switched ? ctx.tr('imitation-switched', { preset: ctx.tr(`imitation-${preset}`) }) : undefined);
});

imitationScreen.callbackQuery(cb.imitationResend.filter, async (ctx) => {
  const since = cb.imitationResend.unpack(ctx.callbackQuery.data)?.since;
  const queued = since === undefined ? null : await resendConfigs(ctx.deps.db, since, ctx.from.id, ctx.deps.now());
  await ctx.answerCallbackQuery(queued ? undefined : { text: ctx.tr('imitation-resend-stale'), show_alert: true });
  if (queued) ctx.deps.log.info({ adminId: ctx.from.id, ...queued }, 'configs queued for re-sending');
  await showImitation(ctx, queued ? ctx.tr('imitation-resend-queued', queued) : undefined);
});
