import path from 'node:path';
import { Composer, InlineKeyboard, InputFile } from 'grammy';
import type { Decision } from '../../access.js';
import { activePeersPerNode } from '../../db/nodes.js';
import { peersOfUser } from '../../db/peers.js';
import type { User } from '../../db/schema.js';
import { countByStatus, dailyTrafficOfUser, topUsersSince, trafficSince, trafficSummary } from '../../db/stats.js';
import { dayOf } from '../../db/traffic-buckets.js';
import { renderTrafficChart } from '../traffic-chart.js';
import { countUnreachable, findUser, setLimits, listUsersPage, searchUsers, setMaxDevices, USER_SORTS, type UserRow, usageNow } from '../../db/users.js';
import type { VpnService } from '../../vpn/service.js';
import { audit } from '../../db/audit-log.js';
import { clearBackupWarned, noteClearBackupWarned } from '../../db/meta.js';
import { withinLimits } from '../../monitor/quotas.js';
import { ADMIN_CALLBACKS, cb } from '../callback-data.js';
import type { BotContext } from '../context.js';
import { formatBytes, formatTime, fullName } from '../format.js';
import { LOCALES } from '../i18n.js';
import { editCurrent, HTML, userParams } from '../ui.js';
import { imitationLine } from './imitation.js';
import { actorOf, answerDecidedAlready } from './requests.js';

const PAGE_SIZE = 8;

export const adminFeature = new Composer<BotContext>();
const admin = adminFeature.filter((ctx) => ctx.isAdmin);

// Reached only by non-admins: admin buttons are checked on every callback, never trusted.
adminFeature.callbackQuery(ADMIN_CALLBACKS, async (ctx) => {
  ctx.deps.log.warn({ from: ctx.from.id, data: ctx.callbackQuery.data }, 'admin action refused: not an admin');
  await ctx.answerCallbackQuery({ text: ctx.tr('not-admin'), show_alert: true });
});
adminFeature.chatType('private').command(['admin', 'backup'], (ctx) => ctx.reply(ctx.tr('not-admin'), HTML));

const DEFAULT_ONLINE_WINDOW_MS = 3 * 60_000;

/** The admin's home: users by status, online now, traffic, interface health; refreshable in place. */
async function overview(ctx: BotContext): Promise<{ text: string; keyboard: InlineKeyboard }> {
  const { db, vpn, now } = ctx.deps;
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
  const health = await Promise.all(vpn.services().map((node) => nodeHealth(ctx, node, wanted.get(node.settings.node) ?? 0)));
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

admin.command('admin', adminMenu);

admin.command('backup', async (ctx) => {
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
  await ctx.replyWithDocument(new InputFile(file, path.basename(file)), { caption, parse_mode: 'HTML' });
  if (warn) await noteClearBackupWarned(ctx.deps.db, ctx.deps.now());
});

admin.callbackQuery(cb.adminMenu.filter, async (ctx) => {
  await ctx.answerCallbackQuery();
  const { text, keyboard } = await overview(ctx);
  await editCurrent(ctx, text, keyboard);
});


function userLines(ctx: BotContext, rows: UserRow[]): string[] {
  return rows.map((u) =>
    ctx.tr('users-line', {
      ...userParams(u),
      status: ctx.tr(`label-${u.status}`),
      traffic: formatBytes(u.rx_total + u.tx_total, ctx.locale),
      seen: u.last_handshake_at ? formatTime(u.last_handshake_at, ctx.locale) : ctx.tr('never'),
    }),
  );
}

function userButtons(kb: InlineKeyboard, rows: { id: number; first_name: string; last_name: string | null }[]): InlineKeyboard {
  for (const u of rows) kb.text(fullName(u).slice(0, 40), cb.card.pack({ userId: u.id })).row();
  return kb;
}

admin.callbackQuery(cb.users.filter, async (ctx) => {
  const data = cb.users.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  await ctx.answerCallbackQuery();
  const sortIndex = USER_SORTS[data.sort] ? data.sort : 0;
  const sort = USER_SORTS[sortIndex];
  // Clamped: a forged huge page would not even bind as an SQLite integer.
  let page = Math.min(Math.max(0, data.page), 1_000_000);
  let { rows, total } = await listUsersPage(ctx.deps.db, page * PAGE_SIZE, PAGE_SIZE, sort);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (page >= pages) {
    // A stale button past the end (users were deleted meanwhile): show the last page.
    page = pages - 1;
    ({ rows, total } = await listUsersPage(ctx.deps.db, page * PAGE_SIZE, PAGE_SIZE, sort));
  }
  const kb = userButtons(new InlineKeyboard(), rows);
  if (page > 0) kb.text('‹', cb.users.pack({ page: page - 1, sort: sortIndex }));
  if (page + 1 < pages) kb.text('›', cb.users.pack({ page: page + 1, sort: sortIndex }));
  kb.row();
  USER_SORTS.forEach((s, i) => kb.text(`${i === sortIndex ? '• ' : ''}${ctx.tr(`sort-${s}`)}`, cb.users.pack({ page: 0, sort: i })));
  kb.row().text(ctx.tr('btn-search'), cb.search.pack({})).text(ctx.tr('btn-back'), cb.adminMenu.pack({}));
  const header = ctx.tr('users-header', { page: page + 1, pages, total });
  await editCurrent(ctx, [header, ...userLines(ctx, rows)].join('\n\n').slice(0, 4000), kb);
});

admin.callbackQuery(cb.top.filter, async (ctx) => {
  await ctx.answerCallbackQuery();
  const month = `${dayOf(ctx.deps.now()).slice(0, 8)}01`;
  const top = await topUsersSince(ctx.deps.db, month, 10);
  const lines = top.map((u, i) =>
    ctx.tr('top-line', { n: i + 1, ...userParams({ ...u }), down: formatBytes(u.tx, ctx.locale), up: formatBytes(u.rx, ctx.locale), total: formatBytes(u.rx + u.tx, ctx.locale) }),
  );
  const text = [ctx.tr('top-header'), ...(lines.length ? lines : [ctx.tr('top-none')])].join('\n');
  await editCurrent(ctx, text, userButtons(new InlineKeyboard(), top).text(ctx.tr('btn-refresh'), cb.top.pack({})).text(ctx.tr('btn-back'), cb.adminMenu.pack({})));
});

// Search is a reply to the bot's prompt: stateless, so it survives restarts.
admin.callbackQuery(cb.search.filter, async (ctx) => {
  await ctx.answerCallbackQuery();
  await ctx.api.sendMessage(ctx.from.id, ctx.tr('search-prompt'), { reply_markup: { force_reply: true, input_field_placeholder: '@username' } });
});

admin.on('message:text').filter(
  (ctx) => {
    const prompt = ctx.message.reply_to_message;
    return prompt?.from?.id === ctx.me.id && LOCALES.some((l) => prompt.text === ctx.deps.translator.t(l, 'search-prompt'));
  },
  async (ctx) => {
    const rows = await searchUsers(ctx.deps.db, ctx.message.text);
    const text = rows.length ? [ctx.tr('search-results', { query: ctx.message.text.slice(0, 64) }), ...userLines(ctx, rows)].join('\n\n') : ctx.tr('search-none', { query: ctx.message.text.slice(0, 64) });
    await ctx.reply(text.slice(0, 4000), { ...HTML, reply_markup: userButtons(new InlineKeyboard(), rows).text(ctx.tr('btn-search'), cb.search.pack({})) });
  },
);

async function cardText(ctx: BotContext, user: User): Promise<string> {
  const peers = await peersOfUser(ctx.deps.db, user.id);
  const parts = [
    ctx.tr('card', {
      ...userParams(user),
      status: ctx.tr(`label-${user.status}`),
      since: formatTime(user.created_at, ctx.locale),
    }),
  ];
  if (user.blocked_at) parts.push(ctx.tr('card-blocked', { since: formatTime(user.blocked_at, ctx.locale) }));
  parts.push(
    ctx.tr('card-limits', {
      used: formatBytes(await usageNow(ctx.deps.db, user), ctx.locale),
      quota: user.quota_bytes === null ? ctx.tr('unlimited') : formatBytes(user.quota_bytes, ctx.locale),
      expires: user.expires_at === null ? ctx.tr('no-expiry') : formatTime(user.expires_at, ctx.locale),
      devices: user.max_devices ?? ctx.deps.maxDevicesPerUser ?? 3,
    }),
  );
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

function cardKeyboard(ctx: BotContext, user: User): InlineKeyboard {
  const kb = new InlineKeyboard();
  const userId = user.id;
  if (user.status === 'pending') kb.text(ctx.tr('btn-approve'), cb.approve.pack({ userId })).text(ctx.tr('btn-reject'), cb.reject.pack({ userId }));
  if (user.status === 'active') kb.text(ctx.tr('btn-disable'), cb.disable.pack({ userId }));
  if (user.status === 'disabled') kb.text(ctx.tr('btn-enable'), cb.enable.pack({ userId }));
  if (user.status === 'active' || user.status === 'disabled') kb.text(ctx.tr('btn-revoke'), cb.revokeAsk.pack({ userId }));
  if (user.status !== 'pending' && user.status !== 'provisioning' && ctx.deps.vpn.names().length > 1) kb.row().text(ctx.tr('btn-move'), cb.moveMenu.pack({ userId }));
  kb.row().text(ctx.tr('btn-chart'), cb.chart.pack({ userId })).text(ctx.tr('btn-limits'), cb.quotaMenu.pack({ userId }));
  if (user.status === 'limited' || user.status === 'expired') kb.row().text(ctx.tr('btn-lift'), cb.liftLimits.pack({ userId }));
  kb.row();
  if (user.status === 'banned') kb.text(ctx.tr('btn-unban'), cb.unban.pack({ userId }));
  else if (user.status !== 'provisioning') kb.text(ctx.tr('btn-ban'), cb.banAsk.pack({ userId }));
  return kb.row().text(ctx.tr('btn-refresh'), cb.card.pack({ userId })).text(ctx.tr('btn-back'), cb.users.pack({ page: 0, sort: 0 }));
}

async function showCard(ctx: BotContext, userId: number, notice?: string): Promise<void> {
  const user = await findUser(ctx.deps.db, userId);
  if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
  const text = await cardText(ctx, user);
  await editCurrent(ctx, notice ? `${text}\n\n${notice}` : text, cardKeyboard(ctx, user));
}

admin.callbackQuery(cb.card.filter, async (ctx) => {
  const data = cb.card.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (data) await showCard(ctx, data.userId);
});

const QUOTA_CHOICES_GB = [10, 50, 100, 500];

admin.callbackQuery(cb.quotaMenu.filter, async (ctx) => {
  const data = cb.quotaMenu.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (!data) return;
  const user = await findUser(ctx.deps.db, data.userId);
  if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
  const { userId } = data;
  const kb = new InlineKeyboard();
  for (const gb of QUOTA_CHOICES_GB) kb.text(`${gb} GiB`, cb.setQuota.pack({ userId, gb }));
  kb.text('∞', cb.setQuota.pack({ userId, gb: 0 })).row();
  for (const days of [30, 90, 365]) kb.text(ctx.tr('btn-extend', { days }), cb.extend.pack({ userId, days }));
  kb.text(ctx.tr('btn-no-expiry'), cb.extend.pack({ userId, days: 0 })).row();
  kb.text(ctx.tr('btn-reset-usage'), cb.resetUsage.pack({ userId })).row();
  for (const n of [1, 3, 5, 10]) kb.text(ctx.tr('btn-max-devices', { n }), cb.maxDevices.pack({ userId, n }));
  kb.text(ctx.tr('btn-max-devices-default'), cb.maxDevices.pack({ userId, n: 0 })).row();
  kb.text(ctx.tr('btn-back'), cb.card.pack({ userId }));
  await editCurrent(ctx, `${await cardText(ctx, user)}\n\n${ctx.tr('limits-menu')}`, kb);
});

/** After a limit changed: a user now within limits gets their peers back at once; going over is left to the next tick, which also tells the user. */
async function applyLimits(ctx: BotContext, userId: number, values: Parameters<typeof setLimits>[2], notice: string): Promise<void> {
  await setLimits(ctx.deps.db, userId, values);
  await audit(ctx.deps.db, { actorId: ctx.from!.id, action: 'limits', userId, details: values }, ctx.deps.now());
  const user = await findUser(ctx.deps.db, userId);
  if (user && (user.status === 'limited' || user.status === 'expired')) {
    const ok = withinLimits({ ...user, usage_bytes: await usageNow(ctx.deps.db, user) }, ctx.deps.now());
    if (ok.quota && ok.expiry) await ctx.deps.access.lift(userId, ctx.from!.id);
  }
  await ctx.answerCallbackQuery({ text: notice });
  await showCard(ctx, userId);
}

admin.callbackQuery(cb.setQuota.filter, async (ctx) => {
  const data = cb.setQuota.unpack(ctx.callbackQuery.data);
  if (!data || data.gb < 0 || data.gb > 100_000) return ctx.answerCallbackQuery();
  await applyLimits(ctx, data.userId, { quota_bytes: data.gb ? data.gb * 1024 ** 3 : null, warned_quota: 0 }, ctx.tr('limits-saved'));
});

admin.callbackQuery(cb.extend.filter, async (ctx) => {
  const data = cb.extend.unpack(ctx.callbackQuery.data);
  if (!data || data.days < 0 || data.days > 36_500) return ctx.answerCallbackQuery();
  const user = await findUser(ctx.deps.db, data.userId);
  if (!user) return ctx.answerCallbackQuery({ text: ctx.tr('user-not-found') });
  // Extending starts from the later of now and the current expiry.
  const base = Math.max(ctx.deps.now(), user.expires_at ?? 0);
  await applyLimits(ctx, data.userId, { expires_at: data.days ? base + data.days * 86_400_000 : null, warned_expiry: 0 }, ctx.tr('limits-saved'));
});

admin.callbackQuery(cb.resetUsage.filter, async (ctx) => {
  const data = cb.resetUsage.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  await applyLimits(ctx, data.userId, { usage_bytes: 0, warned_quota: 0 }, ctx.tr('limits-saved'));
});

admin.callbackQuery(cb.maxDevices.filter, async (ctx) => {
  const data = cb.maxDevices.unpack(ctx.callbackQuery.data);
  if (!data || data.n < 0 || data.n > 100) return ctx.answerCallbackQuery();
  // 0 = back to MAX_DEVICES_PER_USER. Lowering it keeps existing devices; it only stops new ones.
  await setMaxDevices(ctx.deps.db, data.userId, data.n || null);
  await audit(ctx.deps.db, { actorId: ctx.from.id, action: 'max_devices', userId: data.userId, details: { n: data.n || null } }, ctx.deps.now());
  await ctx.answerCallbackQuery({ text: ctx.tr('limits-saved') });
  await showCard(ctx, data.userId);
});

admin.callbackQuery(cb.liftLimits.filter, async (ctx) => {
  const data = cb.liftLimits.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  await applyLimits(ctx, data.userId, { quota_bytes: null, expires_at: null, warned_quota: 0, warned_expiry: 0 }, ctx.tr('limits-saved'));
});

const CHART_DAYS = 30;

/** The user's last 30 days as a PNG: download and upload per day, from the user's side. */
admin.callbackQuery(cb.chart.filter, async (ctx) => {
  const data = cb.chart.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (!data) return;
  const user = await findUser(ctx.deps.db, data.userId);
  if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
  const today = Date.parse(dayOf(ctx.deps.now()));
  const days = Array.from({ length: CHART_DAYS }, (_, i) => dayOf(today - (CHART_DAYS - 1 - i) * 86_400_000));
  const stored = new Map((await dailyTrafficOfUser(ctx.deps.db, user.id, days[0]!)).map((r) => [r.day, r]));
  const png = await renderTrafficChart(
    days.map((day) => ({ day, upload: stored.get(day)?.rx ?? 0, download: stored.get(day)?.tx ?? 0 })),
    { title: ctx.deps.translator.tRaw(ctx.locale, 'chart-title', { name: fullName(user), days: String(CHART_DAYS) }), upload: ctx.tr('chart-upload'), download: ctx.tr('chart-download'), noData: ctx.tr('chart-no-data') },
  );
  await ctx.api.sendPhoto(ctx.from.id, new InputFile(png, `traffic-${user.id}.png`), {
    caption: ctx.tr('chart-caption', { ...userParams(user) }),
    parse_mode: 'HTML',
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
  admin.callbackQuery(change.codec.filter, async (ctx) => {
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
  admin.callbackQuery(c.ask.filter, async (ctx) => {
    const data = c.ask.unpack(ctx.callbackQuery.data);
    await ctx.answerCallbackQuery();
    if (!data) return;
    const user = await findUser(ctx.deps.db, data.userId);
    if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
    const kb = new InlineKeyboard().text(ctx.tr(c.button), c.yes.pack({ userId: user.id })).text(ctx.tr('btn-cancel'), cb.card.pack({ userId: user.id }));
    await editCurrent(ctx, ctx.tr(c.question, userParams(user)), kb);
  });
}
