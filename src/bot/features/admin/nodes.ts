import { Composer, InlineKeyboard } from 'grammy';
import { listNodes, activePeersPerNode } from '../../../db/nodes.js';
import type { Node } from '../../../db/schema.js';
import { findUser } from '../../../db/users.js';
import { parseKeyValues, parseNodeSpec } from '../../../vpn/nodes.js';
import { cb } from '../../callback-data.js';
import type { BotContext } from '../../context.js';
import { formatTime } from '../../format.js';
import { editCurrent, HTML, userParams } from '../../ui.js';

// VPN nodes. Admins: /nodes lists them (location, host, health, load) with Drain / Resume / Remove;
// `/nodes add name=… ssh=user@host:port hostkey=SHA256:… endpoint=… subnet=…` adds one (it must
// answer and come up, or nothing is kept); a user card's Move re-creates the user's peers on another
// node and sends the new configs.


export const nodesScreen = new Composer<BotContext>();

function hostOf(n: Node): string {
  return n.ssh_host === null ? 'local' : `${n.ssh_user}@${n.ssh_host}:${n.ssh_port}`;
}

async function nodesView(ctx: BotContext): Promise<{ text: string; keyboard: InlineKeyboard }> {
  const nodes = await listNodes(ctx.deps.db);
  const load = await activePeersPerNode(ctx.deps.db);
  const keyboard = new InlineKeyboard();
  const lines = nodes.map((n) => {
    const node = n.name;
    keyboard
      .text(ctx.tr(n.state === 'active' ? 'btn-node-drain' : 'btn-node-resume', { node }), (n.state === 'active' ? cb.nodeDrain : cb.nodeResume).pack({ node }))
      .text(ctx.tr('btn-node-remove', { node }), cb.nodeRemove.pack({ node }))
      .row();
    return ctx.tr('node-row', {
      node,
      location: n.location,
      host: hostOf(n),
      iface: n.iface,
      subnet: n.subnet,
      peers: load.get(node) ?? 0,
      state: ctx.tr(`node-state-${n.state}`),
      health: n.down_since === null ? ctx.tr('node-health-up') : ctx.tr('node-health-down', { since: formatTime(n.down_since, ctx.locale) }),
    });
  });
  keyboard.text(ctx.tr('btn-refresh'), cb.nodes.pack({}));
  return { text: [ctx.tr('nodes-title'), ...lines, ctx.tr('nodes-add-hint')].join('\n\n'), keyboard };
}

async function showNodes(ctx: BotContext, notice?: string): Promise<void> {
  const { text, keyboard } = await nodesView(ctx);
  await editCurrent(ctx, notice ? `${text}\n\n${notice}` : text, keyboard);
}

nodesScreen.command('nodes', async (ctx) => {
  const args = ctx.match.trim();
  if (!args) return showNodes(ctx);
  const [verb, ...rest] = args.split(/\s+/);
  if (verb !== 'add') return ctx.reply(ctx.tr('nodes-usage'), HTML);
  const words = parseKeyValues(rest.join(' '));
  const defaults = ctx.deps.nodeDefaults;
  const parsed = typeof words === 'string' ? { ok: false as const, problems: [words] } : defaults ? parseNodeSpec(words, defaults, ctx.deps.now()) : { ok: false as const, problems: ['no defaults'] };
  if (!parsed.ok) return ctx.reply(ctx.tr('node-add-invalid', { problems: parsed.problems.join('\n') }), HTML);
  const progress = await ctx.reply(ctx.tr('node-adding', { node: parsed.node.name }), HTML);
  try {
    const r = await ctx.deps.fleet.add(parsed.node);
    ctx.deps.log.info({ node: parsed.node.name, by: ctx.from!.id, ...r }, 'node added');
    await ctx.api.editMessageText(progress.chat.id, progress.message_id, ctx.tr('node-added', { node: parsed.node.name }), HTML);
  } catch (err) {
    ctx.deps.log.warn({ err, node: parsed.node.name }, 'node not added');
    await ctx.api.editMessageText(progress.chat.id, progress.message_id, ctx.tr('node-add-failed', { node: parsed.node.name, error: String(err instanceof Error ? err.message : err).slice(0, 500) }), HTML);
  }
});

nodesScreen.callbackQuery(cb.nodes.filter, async (ctx) => {
  await ctx.answerCallbackQuery();
  await showNodes(ctx);
});

for (const [codec, state, done] of [
  [cb.nodeDrain, 'draining', 'node-drained'],
  [cb.nodeResume, 'active', 'node-resumed'],
] as const) {
  nodesScreen.callbackQuery(codec.filter, async (ctx) => {
    const data = codec.unpack(ctx.callbackQuery.data);
    if (!data || !(await ctx.deps.fleet.setState(data.node, state))) return ctx.answerCallbackQuery({ text: ctx.tr('node-unknown') });
    await ctx.answerCallbackQuery({ text: ctx.tr(done, { node: data.node }) });
    await showNodes(ctx);
  });
}

nodesScreen.callbackQuery(cb.nodeRemove.filter, async (ctx) => {
  const data = cb.nodeRemove.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  if (!(await ctx.deps.fleet.remove(data.node))) return ctx.answerCallbackQuery({ text: ctx.tr('node-not-empty', { node: data.node }), show_alert: true });
  await ctx.answerCallbackQuery({ text: ctx.tr('node-removed', { node: data.node }) });
  await showNodes(ctx);
});

nodesScreen.callbackQuery(cb.moveMenu.filter, async (ctx) => {
  const data = cb.moveMenu.unpack(ctx.callbackQuery.data);
  await ctx.answerCallbackQuery();
  if (!data) return;
  const user = await findUser(ctx.deps.db, data.userId);
  if (!user) return editCurrent(ctx, ctx.tr('user-not-found'));
  const keyboard = new InlineKeyboard();
  for (const n of await ctx.deps.fleet.candidates()) keyboard.text(`${n.location} (${n.name})`, cb.moveTo.pack({ userId: user.id, node: n.name })).row();
  keyboard.text(ctx.tr('btn-cancel'), cb.card.pack({ userId: user.id }));
  await editCurrent(ctx, ctx.tr('move-choose', userParams(user)), keyboard);
});

nodesScreen.callbackQuery(cb.moveTo.filter, async (ctx) => {
  const data = cb.moveTo.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  if (!(await ctx.deps.fleet.candidates()).some((n) => n.name === data.node)) return ctx.answerCallbackQuery({ text: ctx.tr('node-unavailable', { node: data.node }), show_alert: true });
  const r = await ctx.deps.access.move(data.userId, data.node, ctx.from.id);
  const back = new InlineKeyboard().text(ctx.tr('btn-back'), cb.card.pack({ userId: data.userId }));
  if (r.kind !== 'ok') {
    await ctx.answerCallbackQuery();
    return editCurrent(ctx, r.kind === 'failed' ? ctx.tr('move-failed', { error: String(r.error instanceof Error ? r.error.message : r.error).slice(0, 300) }) : ctx.tr('user-not-found'), back);
  }
  await ctx.answerCallbackQuery({ text: ctx.tr('moved-short') });
  // The user's notice and new configs are on their way through the outbox.
  await editCurrent(ctx, ctx.tr('moved', { ...userParams(r.user), node: data.node }), back);
});
