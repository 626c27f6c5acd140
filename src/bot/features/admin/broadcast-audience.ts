import { Composer, InlineKeyboard } from 'grammy';
import { type AudienceChoice, type AudienceEnv, countAudience } from '../../../db/broadcast-audiences.js';
import { findBroadcast, setDraftAudience } from '../../../db/broadcasts.js';
import type { Broadcast, BroadcastAudience } from '../../../db/schema-messaging.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { DEFAULT_LOCALE, LOCALES } from '../../i18n.js';
import { editCurrent } from '../../ui.js';

// The confirmation of /broadcast: who gets it (a kind of audience, then its argument: days, a
// node, a language) and how many they are, with Send and Cancel.

const KIND_ROWS: readonly (readonly BroadcastAudience[])[] = [['active', 'all', 'pending'], ['inactive'], ['quota', 'expiring'], ['node', 'language']];
const KINDS: readonly BroadcastAudience[] = KIND_ROWS.flat();
const DAYS = { inactive: ['7', '14', '30'], expiring: ['3', '7', '14'] } as const;
/** The argument of an audience that takes none, in callback data. */
const NO_ARG = '-';

/** What audiences are measured against now. */
export function audienceEnv(ctx: BotContext): AudienceEnv {
  return { now: ctx.deps.now(), defaultLocale: DEFAULT_LOCALE };
}

/** The arguments an audience offers now (the first is its default); empty for one that takes none. */
function argsOf(ctx: BotContext, audience: BroadcastAudience): readonly string[] {
  switch (audience) {
    case 'inactive':
    case 'expiring':
      return DAYS[audience];
    case 'node':
      return ctx.deps.fleet.names();
    case 'language':
      return LOCALES;
    default:
      return [];
  }
}

const takesArg = (a: BroadcastAudience) => a === 'inactive' || a === 'expiring' || a === 'node' || a === 'language';

type Parsed = { choice: AudienceChoice } | { unknownNode: string } | { outdated: true };

/** A pressed button's audience, checked against what the picker offers now. */
function parseChoice(ctx: BotContext, audience: string, arg: string): Parsed {
  const kind = KINDS.find((k) => k === audience);
  if (!kind) return { outdated: true };
  if (!takesArg(kind)) return arg === NO_ARG ? { choice: { audience: kind, arg: null } } : { outdated: true };
  if (argsOf(ctx, kind).includes(arg)) return { choice: { audience: kind, arg } };
  return kind === 'node' ? { unknownNode: arg } : { outdated: true };
}

/** The audience in words, as HTML. */
function describe(ctx: BotContext, { audience, arg }: AudienceChoice): string {
  switch (audience) {
    case 'inactive':
    case 'expiring':
      return ctx.tr(`broadcast-audience-${audience}`, { days: arg });
    case 'node':
      return ctx.tr('broadcast-audience-node', { node: arg });
    case 'language':
      return ctx.tr('broadcast-audience-language', { language: ctx.deps.translator.t(arg ?? DEFAULT_LOCALE, 'language-name'), unstored: arg === DEFAULT_LOCALE ? 'yes' : 'no' });
    default:
      return ctx.tr(`broadcast-audience-${audience}`);
  }
}

function argLabel(ctx: BotContext, audience: BroadcastAudience, arg: string): string {
  if (audience === 'node') return arg;
  if (audience === 'language') return ctx.deps.translator.t(arg, 'language-name');
  return ctx.tr('broadcast-btn-days', { days: arg });
}

const mark = (on: boolean, label: string) => `${on ? '● ' : ''}${label}`;

export async function confirmView(ctx: BotContext, b: Broadcast): Promise<{ text: string; keyboard: InlineKeyboard }> {
  const current: AudienceChoice = { audience: b.audience, arg: b.audience_arg };
  const count = await countAudience(ctx.deps.db, current, audienceEnv(ctx));
  const text = ctx.deps.translator.tRaw(ctx.locale, 'broadcast-confirm', { audience: describe(ctx, current), count: String(count) });
  const keyboard = new InlineKeyboard();
  for (const row of KIND_ROWS) {
    for (const a of row) {
      const args = argsOf(ctx, a);
      if (takesArg(a) && args.length === 0) continue; // no node to offer
      const arg = a === b.audience ? (b.audience_arg ?? NO_ARG) : (args[0] ?? NO_ARG);
      keyboard.text(mark(a === b.audience, ctx.tr(`broadcast-btn-${a}`)), cb.broadcastAudience.pack({ id: b.id, audience: a, arg }));
    }
    keyboard.row();
  }
  for (const [i, arg] of argsOf(ctx, b.audience).entries()) {
    if (i > 0 && i % 3 === 0) keyboard.row();
    keyboard.text(mark(arg === b.audience_arg, argLabel(ctx, b.audience, arg)), cb.broadcastAudience.pack({ id: b.id, audience: b.audience, arg }));
  }
  keyboard.row();
  if (count > 0) keyboard.text(ctx.tr('broadcast-btn-send', { count }), cb.broadcastSend.pack({ id: b.id }));
  keyboard.text(ctx.tr('broadcast-btn-cancel'), cb.broadcastDiscard.pack({ id: b.id }));
  return { text, keyboard };
}

export const broadcastAudienceScreen = new Composer<BotContext>();

broadcastAudienceScreen.callbackQuery(cb.broadcastAudience.filter, async (ctx) => {
  const data = cb.broadcastAudience.unpack(ctx.callbackQuery.data);
  // A button of an earlier version, or of a picker that offered other days: nothing changes.
  const outdated = () => ctx.answerCallbackQuery({ text: ctx.tr('button-outdated'), show_alert: true });
  if (!data) return outdated();
  const parsed = parseChoice(ctx, data.audience, data.arg);
  if ('outdated' in parsed) return outdated();
  if ('unknownNode' in parsed) return ctx.answerCallbackQuery({ text: ctx.tr('broadcast-unknown-node', { node: parsed.unknownNode }), show_alert: true });
  const { db } = ctx.deps;
  if (!(await setDraftAudience(db, data.id, parsed.choice))) {
    return ctx.answerCallbackQuery({ text: ctx.tr('broadcast-not-draft'), show_alert: true });
  }
  await ctx.answerCallbackQuery();
  const b = await findBroadcast(db, data.id);
  if (!b) return;
  const view = await confirmView(ctx, b);
  await editCurrent(ctx, view.text, view.keyboard);
});
