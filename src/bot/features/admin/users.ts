import { Composer, InlineKeyboard } from 'grammy';
import { dayOf } from '../../../db/traffic-buckets.js';
import { topUsersSince } from '../../../db/stats.js';
import { listUsersPage, searchUsers, USER_SORTS, type UserRow } from '../../../db/users.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { formatBytes, formatTime, fullName } from '../../format.js';
import { LOCALES } from '../../i18n.js';
import { editCurrent, HTML, userParams } from '../../ui.js';

const PAGE_SIZE = 8;

/** The user list (paged, sorted), this month's top traffic, and search. */
export const usersScreen = new Composer<BotContext>();

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

usersScreen.callbackQuery(cb.users.filter, async (ctx) => {
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

usersScreen.callbackQuery(cb.top.filter, async (ctx) => {
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
usersScreen.callbackQuery(cb.search.filter, async (ctx) => {
  await ctx.answerCallbackQuery();
  await ctx.api.sendMessage(ctx.from.id, ctx.tr('search-prompt'), { reply_markup: { force_reply: true, input_field_placeholder: '@username' } });
});

usersScreen.on('message:text').filter(
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

