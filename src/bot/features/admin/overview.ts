import path from 'node:path';
import { Composer, InlineKeyboard, InputFile } from 'grammy';
import { activePeersPerNode } from '../../../db/nodes.js';
import { countByStatus, trafficSummary } from '../../../db/stats.js';
import { dayOf } from '../../../db/traffic-buckets.js';
import { trafficSince } from '../../../db/stats.js';
import { countUnreachable } from '../../../db/users.js';
import type { VpnService } from '../../../vpn/service.js';
import { clearBackupWarned, noteClearBackupWarned } from '../../../db/meta.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { formatBytes } from '../../format.js';
import { editCurrent, HTML } from '../../ui.js';
import { imitationLine } from './imitation.js';

/** /admin: users by status, online now, traffic, node health; refreshable in place. /backup. */
export const overviewScreen = new Composer<BotContext>();

const DEFAULT_ONLINE_WINDOW_MS = 3 * 60_000;

/** The admin's home: users by status, online now, traffic, interface health; refreshable in place. */
async function overview(ctx: BotContext): Promise<{ text: string; keyboard: InlineKeyboard }> {
  const { db, fleet, now } = ctx.deps;
  const byStatus = Object.fromEntries((await countByStatus(db, 'users')).map((r) => [r.status, r.n]));
  const t = now();
  const all = await trafficSummary(db, t - (ctx.deps.onlineWindowMs ?? DEFAULT_ONLINE_WINDOW_MS));
  const today = await trafficSince(db, dayOf(t));
  const month = await trafficSince(db, `${dayOf(t).slice(0, 8)}01`);
  const text = ctx.tr('overview', {
    active: byStatus.active ?? 0,
    pending: byStatus.pending ?? 0,
    disabled: byStatus.disabled ?? 0,
    banned: byStatus.banned ?? 0,
    unreachable: await countUnreachable(db),
    online: all.online,
    today: formatBytes(today.rx + today.tx, ctx.locale),
    month: formatBytes(month.rx + month.tx, ctx.locale),
    all: formatBytes(all.rx + all.tx, ctx.locale),
  });
  const wanted = await activePeersPerNode(db);
  const health = await Promise.all(fleet.services().map((node) => nodeHealth(ctx, node, wanted.get(node.settings.node) ?? 0)));
  const imitation = await imitationLine(ctx);
  const keyboard = new InlineKeyboard()
    .text(ctx.tr('btn-pending', { count: byStatus.pending ?? 0 }), cb.pending.pack({}))
    .text(ctx.tr('btn-users'), cb.users.pack({ page: 0, sort: 0 }))
    .row()
    .text(ctx.tr('btn-top'), cb.top.pack({}))
    .text(ctx.tr('btn-search'), cb.search.pack({}))
    .row();
  if (imitation) keyboard.text(ctx.tr('btn-imitation'), cb.imitation.pack({}));
  keyboard.text(ctx.tr('btn-refresh'), cb.adminMenu.pack({}));
  return { text: [text, ...health, ...(imitation ? [imitation] : [])].join('\n'), keyboard };
}

/** One line per VPN node: up with as many peers as the database wants (`wanted`), diverged, down or unreadable. */
async function nodeHealth(ctx: BotContext, vpn: VpnService, wanted: number): Promise<string> {
  const { node, iface } = vpn.settings;
  try {
    if ((await vpn.ifindex()) === null) return ctx.tr('node-down', { node, iface });
    const live = (await vpn.readDump()).peers.length;
    return ctx.tr(live === wanted ? 'node-ok' : 'node-diverged', { node, iface, live, wanted });
  } catch (err) {
    return ctx.tr('node-error', { node, iface, error: String(err).slice(0, 200) });
  }
}

export async function adminMenu(ctx: BotContext): Promise<void> {
  const { text, keyboard } = await overview(ctx);
  await ctx.reply(text, { ...HTML, reply_markup: keyboard });
}

overviewScreen.command('admin', adminMenu);

overviewScreen.command('backup', async (ctx) => {
  const backup = await ctx.deps.backup();
  if (backup === null) {
    await ctx.reply(ctx.tr('backup-postgres'), HTML);
    return;
  }
  const { file, keysEncrypted } = backup;
  // Keys in clear: the first such backup says so and points to SECRETS_KEY; noted only once it was sent.
  const warn = !keysEncrypted && !(await clearBackupWarned(ctx.deps.db));
  const caption = ctx.tr(keysEncrypted ? 'backup-caption-encrypted' : warn ? 'backup-caption-clear-warning' : 'backup-caption');
  ctx.deps.log.info({ adminId: ctx.from?.id, file, keysEncrypted }, 'backup sent to an admin');
  await ctx.replyWithDocument(new InputFile(file, path.basename(file)), { caption, ...HTML });
  if (warn) await noteClearBackupWarned(ctx.deps.db, ctx.deps.now());
});

overviewScreen.callbackQuery(cb.adminMenu.filter, async (ctx) => {
  await ctx.answerCallbackQuery();
  const { text, keyboard } = await overview(ctx);
  await editCurrent(ctx, text, keyboard);
});

