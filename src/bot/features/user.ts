import { Composer } from 'grammy';
import { peersOfUser } from '../../db/peers.js';
import type { User } from '../../db/schema.js';
import { findUser } from '../../db/users.js';
import type { BotContext } from '../context.js';
import { formatBytes, formatTime } from '../format.js';
import { sendConfig } from '../messaging.js';

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
          down: formatBytes(p.tx_total),
          up: formatBytes(p.rx_total),
          handshake: p.last_handshake_at ? formatTime(p.last_handshake_at) : ctx.tr('never'),
        }),
      );
    }
  }
  await ctx.reply(lines.join('\n\n'), { parse_mode: 'HTML' });
}

priv.command('status', async (ctx) => {
  const user = await findUser(ctx.deps.db, ctx.from.id);
  if (!user) return ctx.reply(ctx.tr('status-unknown'), { parse_mode: 'HTML' });
  await sendStatus(ctx, user);
});

priv.command('config', async (ctx) => {
  const user = await findUser(ctx.deps.db, ctx.from.id);
  if (!user) return ctx.reply(ctx.tr('status-unknown'), { parse_mode: 'HTML' });
  if (user.status !== 'active') return sendStatus(ctx, user);
  const peers = (await peersOfUser(ctx.deps.db, user.id)).filter((p) => p.status === 'active');
  if (peers.length === 0) return ctx.reply(ctx.tr('config-none'), { parse_mode: 'HTML' });
  for (const p of peers) await sendConfig(ctx.api, ctx.deps, ctx.chat.id, ctx.locale, p);
});

priv.command('help', (ctx) => ctx.reply(ctx.tr(ctx.isAdmin ? 'help-admin' : 'help'), { parse_mode: 'HTML' }));

