import { Composer, InlineKeyboard } from 'grammy';
import { pendingDeviceRequest } from '../../db/device-requests.js';
import { deviceLabel, deviceOfUser, peersOfUser, renameDevice } from '../../db/peers.js';
import type { Peer, User } from '../../db/schema.js';
import { findUser } from '../../db/users.js';
import { requestDevice as requestDeviceUseCase } from '../../use-cases/device-requests.js';
import { deviceLimitOf, resendConfigs } from '../../use-cases/devices.js';
import { cb } from '../callback-data.js';
import type { BotContext } from '../context.js';
import { formatBytes, formatTime } from '../format.js';
import { LOCALES } from '../i18n.js';
import { editCurrent, HTML } from '../ui.js';

// /devices lists a user's devices with buttons: config again, rename, delete (confirmed), add.
// Names are asked for with a force_reply prompt matched back by its text (no conversation state);
// every handler looks the peer up together with the caller's id, so a forged button reaches nothing.

/** 1–32 letters (any script), digits, spaces, '-' and '_' after trimming: nothing that needs escaping anywhere. */
export const DEVICE_NAME_RE = /^[\p{L}\p{Nd} _-]{1,32}$/u;

export function cleanDeviceName(raw: string): string | null {
  const name = raw.trim();
  return DEVICE_NAME_RE.test(name) ? name : null;
}

export const devicesFeature = new Composer<BotContext>();
const priv = devicesFeature.chatType('private');

function maxOf(ctx: BotContext, user: User): number {
  return deviceLimitOf(user, ctx.deps.maxDevicesPerUser);
}

function label(ctx: BotContext, peer: Peer, all: Peer[]): string {
  return deviceLabel(peer, all, (n) => ctx.deps.translator.tRaw(ctx.locale, 'device-default-name', { n: String(n) }));
}

/** The caller, when active; otherwise they are told (alert for a button, message otherwise) and undefined is returned. */
async function activeCaller(ctx: BotContext): Promise<User | undefined> {
  const user = await findUser(ctx.deps.db, ctx.from!.id);
  if (user?.status === 'active') return user;
  if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: ctx.tr('device-not-active'), show_alert: true });
  else await ctx.reply(ctx.tr('device-not-active'), HTML);
  return undefined;
}

/** The caller's own device, or undefined (and the button is answered) for a missing or someone else's one. */
async function ownDevice(ctx: BotContext, peerId: number): Promise<Peer | undefined> {
  const peer = await deviceOfUser(ctx.deps.db, ctx.from!.id, peerId);
  if (!peer) {
    ctx.deps.log.warn({ userId: ctx.from!.id, peerId }, 'device button for a device that is not the caller’s (stale or forged)');
    await ctx.answerCallbackQuery({ text: ctx.tr('device-not-found'), show_alert: true });
  }
  return peer;
}

async function listView(ctx: BotContext, user: User): Promise<{ text: string; keyboard: InlineKeyboard }> {
  const peers = await peersOfUser(ctx.deps.db, user.id);
  const max = maxOf(ctx, user);
  const lines = peers.map((p) =>
    ctx.tr('device-line', {
      name: label(ctx, p, peers),
      ip: p.ip,
      // From the user's side: what the server sent (tx) is their download.
      down: formatBytes(p.tx_total, ctx.locale),
      up: formatBytes(p.rx_total, ctx.locale),
      seen: p.last_handshake_at ? formatTime(p.last_handshake_at, ctx.locale) : ctx.deps.translator.tRaw(ctx.locale, 'never', {}),
    }),
  );
  const kb = new InlineKeyboard();
  for (const p of peers) {
    kb.text(ctx.tr('device-btn-config', { name: label(ctx, p, peers) }), cb.deviceConfig.pack({ id: p.id }))
      .text(ctx.tr('device-btn-rename'), cb.deviceRename.pack({ id: p.id }))
      .text(ctx.tr('device-btn-delete'), cb.deviceDeleteAsk.pack({ id: p.id }))
      .row();
  }
  if (peers.length < max) kb.text(ctx.tr('device-btn-add'), cb.deviceAdd.pack({}));
  const header = ctx.tr('devices-header', { count: peers.length, max });
  const text = [header, ...(lines.length ? lines : [ctx.tr('devices-none')])].join('\n\n').slice(0, 4000);
  return { text, keyboard: kb };
}

// ---------------------------------------------------------------- prompts (force_reply, matched back by text)

function addPrompt(ctx: BotContext): string {
  return ctx.deps.translator.tRaw(ctx.locale, 'device-add-prompt', {});
}

function renamePrompt(ctx: BotContext, peer: Peer, all: Peer[]): string {
  return ctx.deps.translator.tRaw(ctx.locale, 'device-rename-prompt', { id: String(peer.id), name: label(ctx, peer, all) });
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
let renamePatterns: RegExp[] | undefined;

/** The peer id a rename prompt (in any language) was about, or null when the text is not one. */
function renamePromptId(ctx: BotContext, text: string): number | null {
  renamePatterns ??= LOCALES.map((l) => {
    const tpl = escapeRe(ctx.deps.translator.tRaw(l, 'device-rename-prompt', { id: '\u0001', name: '\u0002' }));
    return new RegExp(`^${tpl.replace('\u0001', '(\\d{1,15})').replace('\u0002', '[^\\n]*')}$`);
  });
  for (const re of renamePatterns) {
    const m = re.exec(text);
    if (m) return Number(m[1]);
  }
  return null;
}

async function sendPrompt(ctx: BotContext, text: string): Promise<void> {
  // Plain text: the reply is recognised by comparing the prompt's text, which Telegram returns without markup.
  await ctx.api.sendMessage(ctx.from!.id, text, { reply_markup: { force_reply: true, input_field_placeholder: 'iPhone' } });
}

// ---------------------------------------------------------------- list

priv.command('devices', async (ctx) => {
  const user = await activeCaller(ctx);
  if (!user) return;
  const { text, keyboard } = await listView(ctx, user);
  await ctx.reply(text, { ...HTML, reply_markup: keyboard });
});

devicesFeature.callbackQuery(cb.devices.filter, async (ctx) => {
  const user = await activeCaller(ctx);
  if (!user) return;
  await ctx.answerCallbackQuery();
  const { text, keyboard } = await listView(ctx, user);
  await editCurrent(ctx, text, keyboard);
});

// ---------------------------------------------------------------- add

devicesFeature.callbackQuery(cb.deviceAdd.filter, async (ctx) => {
  const user = await activeCaller(ctx);
  if (!user) return;
  const max = maxOf(ctx, user);
  if ((await peersOfUser(ctx.deps.db, user.id)).length >= max) return ctx.answerCallbackQuery({ text: ctx.tr('device-limit', { max }), show_alert: true });
  if (ctx.deps.requireApprovalPerDevice && (await pendingDeviceRequest(ctx.deps.db, user.id))) {
    return ctx.answerCallbackQuery({ text: ctx.tr('device-request-pending'), show_alert: true });
  }
  await ctx.answerCallbackQuery();
  await sendPrompt(ctx, addPrompt(ctx));
});

async function addDevice(ctx: BotContext, raw: string): Promise<void> {
  const user = await activeCaller(ctx);
  if (!user) return;
  const name = cleanDeviceName(raw);
  if (!name) {
    await ctx.reply(ctx.tr('device-name-invalid'), HTML);
    await sendPrompt(ctx, addPrompt(ctx));
    return;
  }
  if (ctx.deps.requireApprovalPerDevice) return requestDevice(ctx, user, name);
  // The config follows through the outbox, queued with the device.
  const r = await ctx.deps.devices.add(user.id, name, maxOf(ctx, user));
  if (r.kind === 'ok') {
    ctx.deps.log.info({ userId: user.id, peerId: r.peer.id, ip: r.peer.ip }, 'device added');
    await ctx.reply(ctx.tr('device-added', { name, ip: r.peer.ip }), HTML);
  } else if (r.kind === 'limit') await ctx.reply(ctx.tr('device-limit', { max: r.max }), HTML);
  else if (r.kind === 'not-active') await ctx.reply(ctx.tr('device-not-active'), HTML);
  else if (r.kind === 'exists') await ctx.reply(ctx.tr('device-name-taken', { name }), HTML);
  else await ctx.reply(ctx.tr('device-add-failed'), HTML);
}

async function requestDevice(ctx: BotContext, user: User, name: string): Promise<void> {
  const r = await requestDeviceUseCase(ctx.deps, user, name);
  if (r.kind === 'limit') return void (await ctx.reply(ctx.tr('device-limit', { max: r.max }), HTML));
  if (r.kind === 'pending') return void (await ctx.reply(ctx.tr('device-request-pending'), HTML));
  ctx.deps.log.info({ userId: user.id, requestId: r.request.id }, 'device requested');
  await ctx.reply(ctx.tr('device-request-sent', { name }), HTML);
}

// ---------------------------------------------------------------- rename

devicesFeature.callbackQuery(cb.deviceRename.filter, async (ctx) => {
  const data = cb.deviceRename.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  if (!(await activeCaller(ctx))) return;
  const peer = await ownDevice(ctx, data.id);
  if (!peer) return;
  await ctx.answerCallbackQuery();
  await sendPrompt(ctx, renamePrompt(ctx, peer, await peersOfUser(ctx.deps.db, ctx.from.id)));
});

async function rename(ctx: BotContext, peerId: number, raw: string): Promise<void> {
  if (!(await activeCaller(ctx))) return;
  const userId = ctx.from!.id;
  const peer = await deviceOfUser(ctx.deps.db, userId, peerId);
  if (!peer) {
    ctx.deps.log.warn({ userId, peerId }, 'rename of a device that is not the caller’s');
    await ctx.reply(ctx.tr('device-not-found'), HTML);
    return;
  }
  const name = cleanDeviceName(raw);
  if (!name) {
    await ctx.reply(ctx.tr('device-name-invalid'), HTML);
    await sendPrompt(ctx, renamePrompt(ctx, peer, await peersOfUser(ctx.deps.db, userId)));
    return;
  }
  const renamed = await renameDevice(ctx.deps.db, userId, peerId, name);
  if (renamed === 'ok') await ctx.reply(ctx.tr('device-renamed', { name }), HTML);
  else await ctx.reply(renamed === 'taken' ? ctx.tr('device-name-taken', { name }) : ctx.tr('device-not-found'), HTML);
}

// Replies to our prompts; any other message goes on to the next feature.
priv.on('message:text').filter(
  (ctx) => ctx.message.reply_to_message?.from?.id === ctx.me.id && typeof ctx.message.reply_to_message.text === 'string',
  async (ctx, next) => {
    const prompt = ctx.message.reply_to_message!.text!;
    if (LOCALES.some((l) => prompt === ctx.deps.translator.tRaw(l, 'device-add-prompt', {}))) return addDevice(ctx, ctx.message.text);
    const id = renamePromptId(ctx, prompt);
    if (id !== null) return rename(ctx, id, ctx.message.text);
    await next();
  },
);

// ---------------------------------------------------------------- get config, delete

devicesFeature.callbackQuery(cb.deviceConfig.filter, async (ctx) => {
  const data = cb.deviceConfig.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  if (!(await activeCaller(ctx))) return;
  const peer = await ownDevice(ctx, data.id);
  if (!peer) return;
  await resendConfigs(ctx.deps.db, [peer], ctx.deps.now());
  await ctx.answerCallbackQuery({ text: ctx.tr('config-coming') });
});

devicesFeature.callbackQuery(cb.deviceDeleteAsk.filter, async (ctx) => {
  const data = cb.deviceDeleteAsk.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  if (!(await activeCaller(ctx))) return;
  const peer = await ownDevice(ctx, data.id);
  if (!peer) return;
  await ctx.answerCallbackQuery();
  const name = label(ctx, peer, await peersOfUser(ctx.deps.db, ctx.from.id));
  const kb = new InlineKeyboard().text(ctx.tr('device-btn-delete-yes'), cb.deviceDeleteYes.pack({ id: peer.id })).text(ctx.tr('device-btn-back'), cb.devices.pack({}));
  await editCurrent(ctx, ctx.tr('device-delete-ask', { name, ip: peer.ip }), kb);
});

devicesFeature.callbackQuery(cb.deviceDeleteYes.filter, async (ctx) => {
  const data = cb.deviceDeleteYes.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  if (!(await activeCaller(ctx))) return;
  const peer = await ownDevice(ctx, data.id);
  if (!peer) return;
  // The label before deleting: a fallback name is the device's position among the user's peers.
  const name = label(ctx, peer, await peersOfUser(ctx.deps.db, ctx.from.id));
  const r = await ctx.deps.devices.remove(ctx.from.id, peer.id);
  // Lost a race with a second tap: the other one reports the deletion.
  if (r.kind !== 'ok') return ctx.answerCallbackQuery({ text: ctx.tr('device-not-found'), show_alert: true });
  ctx.deps.log.info({ userId: ctx.from.id, peerId: peer.id, ip: peer.ip }, 'device deleted');
  await ctx.answerCallbackQuery();
  const user = await findUser(ctx.deps.db, ctx.from.id);
  const view = user ? await listView(ctx, user) : undefined;
  await editCurrent(ctx, [ctx.tr('device-deleted', { name }), view?.text].filter(Boolean).join('\n\n').slice(0, 4000), view?.keyboard);
});
