import { Composer, InlineKeyboard } from 'grammy';
import { chooseChatLocale } from '../../db/chat-locales.js';
import { cb } from '../callback-data.js';
import { LOCALES } from '../i18n.js';
import { peersOfUser } from '../../db/peers.js';
import type { User } from '../../db/schema.js';
import { findUser } from '../../db/users.js';
import type { BotContext } from '../context.js';
import { formatBytes, formatTime } from '../format.js';
import { resendConfigs } from '../../use-cases/devices.js';
import { editCurrent, HTML } from '../ui.js';

export const userFeature = new Composer<BotContext>();
const priv = userFeature.chatType('private');

/** The user's status; for an active user also addresses, traffic and last handshake. */
export async function sendStatus(ctx: BotContext, user: User): Promise<void> {
  const lines = [ctx.tr(`status-${user.status}`)];
  if (user.status === 'active' || user.status === 'disabled') {
    for (const p of await peersOfUser(ctx.deps.db, user.id)) {
      lines.push(
        ctx.tr('status-peer', {
          ip: p.ip,
          // rx is what the server received, i.e. what the user uploaded.
          down: formatBytes(p.tx_total, ctx.locale),
          up: formatBytes(p.rx_total, ctx.locale),
          handshake: p.last_handshake_at ? formatTime(p.last_handshake_at, ctx.locale) : ctx.tr('never'),
        }),
      );
    }
  }
  await ctx.reply(lines.join('\n\n'), HTML);
}

priv.command('status', async (ctx) => {
  const user = await findUser(ctx.deps.db, ctx.from.id);
  if (!user) return ctx.reply(ctx.tr('status-unknown'), HTML);
  await sendStatus(ctx, user);
});

priv.command('config', async (ctx) => {
  const user = await findUser(ctx.deps.db, ctx.from.id);
  if (!user) return ctx.reply(ctx.tr('status-unknown'), HTML);
  if (user.status !== 'active') return sendStatus(ctx, user);
  const peers = (await peersOfUser(ctx.deps.db, user.id)).filter((p) => p.status === 'active');
  if (peers.length === 0) return ctx.reply(ctx.tr('config-none'), HTML);
  await resendConfigs(ctx.deps.db, peers, ctx.deps.now());
});

priv.command('language', async (ctx) => {
  const kb = new InlineKeyboard();
  for (const l of LOCALES) kb.text(ctx.deps.translator.t(l, 'language-name'), cb.language.pack({ locale: l }));
  await ctx.reply(ctx.tr('language-choose'), { ...HTML, reply_markup: kb });
});

userFeature.callbackQuery(cb.language.filter, async (ctx) => {
  const data = cb.language.unpack(ctx.callbackQuery.data);
  if (!data || !(LOCALES as readonly string[]).includes(data.locale) || !ctx.chat) return ctx.answerCallbackQuery({ text: ctx.tr('button-outdated') });
  await chooseChatLocale(ctx.deps.db, ctx.chat.id, data.locale);
  ctx.locale = data.locale;
  await ctx.answerCallbackQuery();
  await editCurrent(ctx, ctx.tr('language-set'));
});

priv.command('help', (ctx) => ctx.reply(ctx.tr(ctx.isAdmin ? 'help-admin' : 'help'), HTML));

