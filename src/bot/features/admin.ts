import path from 'node:path';
import { Composer, InlineKeyboard, InputFile } from 'grammy';
import type { Decision } from '../../access.js';
import { peersOfUser } from '../../db/peers.js';
import type { User } from '../../db/schema.js';
import { findUser, listUsersByStatus, listUsersPage } from '../../db/users.js';
import { PoolExhaustedError } from '../../vpn/service.js';
import { ADMIN_CALLBACKS, cb } from '../callback-data.js';
import type { BotContext } from '../context.js';
import { formatBytes, formatTime, fullName } from '../format.js';
import { closeApprovalMessages, isUnreachable, localeOf, safeEdit, sendApprovalRequest, sendConfig, userParams } from '../messaging.js';

const PAGE_SIZE = 8;
const HTML = { parse_mode: 'HTML' } as const;

export const adminFeature = new Composer<BotContext>();
const admin = adminFeature.filter((ctx) => ctx.isAdmin);

// Reached only by non-admins: admin buttons are checked on every callback, never trusted.
adminFeature.callbackQuery(ADMIN_CALLBACKS, async (ctx) => {
  ctx.deps.log.warn({ from: ctx.from.id, data: ctx.callbackQuery.data }, 'admin action refused: not an admin');
  await ctx.answerCallbackQuery({ text: ctx.tr('not-admin'), show_alert: true });
});
adminFeature.chatType('private').command(['admin', 'backup'], (ctx) => ctx.reply(ctx.tr('not-admin'), HTML));

function menuKeyboard(ctx: BotContext, pending: number): InlineKeyboard {
  return new InlineKeyboard()
    .text(ctx.tr('btn-pending', { count: pending }), cb.pending.pack({}))
    .row()
    .text(ctx.tr('btn-users'), cb.users.pack({ page: 0 }));
}

export async function adminMenu(ctx: BotContext): Promise<void> {
  const pending = await listUsersByStatus(ctx.deps.db, 'pending', 1000);
  await ctx.reply(ctx.tr('admin-menu'), { ...HTML, reply_markup: menuKeyboard(ctx, pending.length) });
}

admin.command('admin', adminMenu);

admin.command('backup', async (ctx) => {
  const file = await ctx.deps.backup();
  ctx.deps.log.info({ adminId: ctx.from?.id, file }, 'backup sent to an admin');
  await ctx.replyWithDocument(new InputFile(file, path.basename(file)), { caption: ctx.tr('backup-caption'), parse_mode: 'HTML' });
});

admin.callbackQuery(cb.adminMenu.filter, async (ctx) => {
  await ctx.answerCallbackQuery();
  const pending = await listUsersByStatus(ctx.deps.db, 'pending', 1000);
  await editCurrent(ctx, ctx.tr('admin-menu'), menuKeyboard(ctx, pending.length));
});

admin.callbackQuery(cb.pending.filter, async (ctx) => {
  const pending = await listUsersByStatus(ctx.deps.db, 'pending', 20);
  await ctx.answerCallbackQuery(pending.length ? undefined : { text: ctx.tr('pending-none') });
  for (const user of pending) await sendApprovalRequest(ctx.api, ctx.deps, ctx.from.id, user);
});

async function editCurrent(ctx: BotContext, text: string, keyboard?: InlineKeyboard): Promise<void> {
  const m = ctx.callbackQuery?.message;
  if (m) await safeEdit(ctx.api, m.chat.id, m.message_id, text, keyboard);
  else await ctx.api.sendMessage(ctx.from!.id, text, { ...HTML, reply_markup: keyboard });
}

admin.callbackQuery(cb.users.filter, async (ctx) => {
  const data = cb.users.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  await ctx.answerCallbackQuery();
  const page = Math.max(0, data.page);
  const { rows, total } = await listUsersPage(ctx.deps.db, page * PAGE_SIZE, PAGE_SIZE);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const lines = rows.map((u) =>
    ctx.tr('users-line', {
      ...userParams(u),
      status: ctx.tr(`label-${u.status}`),
      traffic: formatBytes(u.rx_total + u.tx_total),
      seen: u.last_handshake_at ? formatTime(u.last_handshake_at) : ctx.tr('never'),
    }),
  );
  const kb = new InlineKeyboard();
  for (const u of rows) kb.text(`${fullName(u)}`.slice(0, 40), cb.card.pack({ userId: u.id })).row();
  if (page > 0) kb.text('‹', cb.users.pack({ page: page - 1 }));
  if (page + 1 < pages) kb.text('›', cb.users.pack({ page: page + 1 }));
  kb.row().text(ctx.tr('btn-back'), cb.adminMenu.pack({}));
  const header = ctx.tr('users-header', { page: page + 1, pages, total });
  await editCurrent(ctx, [header, ...lines].join('\n\n').slice(0, 4000), kb);
});

async function cardText(ctx: BotContext, user: User): Promise<string> {
  const peers = await peersOfUser(ctx.deps.db, user.id);
  const parts = [
    ctx.tr('card', {
      ...userParams(user),
      status: ctx.tr(`label-${user.status}`),
      since: formatTime(user.created_at),
    }),
  ];
  if (user.blocked_at) parts.push(ctx.tr('card-blocked', { since: formatTime(user.blocked_at) }));
  for (const p of peers) {
    parts.push(
      ctx.tr('card-peer', {
        ip: p.ip,
        state: ctx.tr(`label-${p.status}`),
        down: formatBytes(p.tx_total),
        up: formatBytes(p.rx_total),
        handshake: p.last_handshake_at ? formatTime(p.last_handshake_at) : ctx.tr('never'),
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
  return kb.row().text(ctx.tr('btn-back'), cb.users.pack({ page: 0 }));
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

function errorText(ctx: BotContext, error: unknown): string {
  if (error instanceof PoolExhaustedError) return ctx.tr('error-pool-exhausted');
  return ctx.tr('error-vpn', { error: String(error instanceof Error ? error.message : error).slice(0, 500) });
}

/** Tells the user about a decision in their own language. The decision stands either way, so a failure is only logged. */
async function tellUser(ctx: BotContext, userId: number, key: string): Promise<void> {
  try {
    await ctx.api.sendMessage(userId, ctx.deps.translator.t(await localeOf(ctx.deps, userId), key), HTML);
  } catch (err) {
    ctx.deps.log.warn({ err, userId, unreachable: isUnreachable(err) }, 'could not message the user');
  }
}

/** A decision that lost the race or hit an unknown user: say so, and show where the user stands now. */
async function answerNotApplied(ctx: BotContext, r: Decision, userId: number): Promise<boolean> {
  if (r.kind !== 'not-found' && r.kind !== 'wrong-state') return false;
  const text = r.kind === 'not-found' ? ctx.tr('user-not-found') : ctx.tr('already-decided', { status: ctx.tr(`label-${r.user.status}`) });
  await ctx.answerCallbackQuery({ text, show_alert: true });
  if (r.kind === 'wrong-state') await showCard(ctx, userId);
  return true;
}

admin.callbackQuery(cb.approve.filter, async (ctx) => {
  const data = cb.approve.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  const stopTimer = ctx.deps.metrics?.provisioning.startTimer();
  const r = await ctx.deps.access.approve(data.userId, ctx.from.id);
  if (r.kind === 'ok') stopTimer?.();
  if (await answerNotApplied(ctx, r, data.userId)) return;
  if (r.kind !== 'ok') {
    await ctx.answerCallbackQuery({ text: ctx.tr('approve-failed-short'), show_alert: true });
    // The buttons stay on the request, so the admin can retry once the cause is fixed.
    await ctx.api.sendMessage(ctx.from.id, errorText(ctx, 'error' in r ? r.error : undefined), HTML);
    return;
  }
  await ctx.answerCallbackQuery({ text: ctx.tr('approved-short') });
  await closeApprovalMessages(ctx.api, ctx.deps, r.user, 'approval-approved-by', { admin: fullName(ctx.from) });
  const locale = await localeOf(ctx.deps, r.user.id);
  try {
    await ctx.api.sendMessage(r.user.id, ctx.deps.translator.t(locale, 'you-are-approved'), HTML);
    for (const p of r.peers) await sendConfig(ctx.api, ctx.deps, r.user.id, locale, p);
  } catch (err) {
    ctx.deps.log.warn({ err, userId: r.user.id }, 'config delivery failed');
    await ctx.api.sendMessage(ctx.from.id, ctx.tr('delivery-failed', userParams(r.user)), HTML);
  }
});

admin.callbackQuery(cb.reject.filter, async (ctx) => {
  const data = cb.reject.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  const r = await ctx.deps.access.reject(data.userId, ctx.from.id);
  if (await answerNotApplied(ctx, r, data.userId) || r.kind !== 'ok') return;
  await ctx.answerCallbackQuery({ text: ctx.tr('rejected-short') });
  await closeApprovalMessages(ctx.api, ctx.deps, r.user, 'approval-rejected-by', { admin: fullName(ctx.from) });
  await tellUser(ctx, data.userId, 'you-are-rejected');
});

const statusChanges = [
  { codec: cb.disable, run: 'disable', userKey: 'you-are-disabled', done: 'disabled-short' },
  { codec: cb.enable, run: 'enable', userKey: 'you-are-enabled', done: 'enabled-short' },
  { codec: cb.revokeYes, run: 'revoke', userKey: 'you-are-revoked', done: 'revoked-short' },
] as const;

for (const change of statusChanges) {
  admin.callbackQuery(change.codec.filter, async (ctx) => {
    const data = change.codec.unpack(ctx.callbackQuery.data);
    if (!data) return ctx.answerCallbackQuery();
    const r = await ctx.deps.access[change.run](data.userId, ctx.from.id);
    if (await answerNotApplied(ctx, r, data.userId)) return;
    await ctx.answerCallbackQuery({ text: ctx.tr(change.done) });
    const notice = r.kind === 'applied-later' ? ctx.tr('applied-later', { error: String(r.error).slice(0, 300) }) : undefined;
    await showCard(ctx, data.userId, notice);
    await tellUser(ctx, data.userId, change.userKey);
  });
}

admin.callbackQuery(cb.revokeAsk.filter, async (ctx) => {
  const data = cb.revokeAsk.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (!data) return;
  const user = await findUser(ctx.deps.db, data.userId);
  if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
  const kb = new InlineKeyboard()
    .text(ctx.tr('btn-revoke-yes'), cb.revokeYes.pack({ userId: user.id }))
    .text(ctx.tr('btn-cancel'), cb.card.pack({ userId: user.id }));
  await editCurrent(ctx, ctx.tr('revoke-confirm', userParams(user)), kb);
});
