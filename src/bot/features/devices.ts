import { Composer, InlineKeyboard } from 'grammy';
import { createDeviceRequest, decideDeviceRequest, findDeviceRequest, pendingDeviceRequest, reopenDeviceRequest } from '../../db/device-requests.js';
import { audit } from '../../db/audit-log.js';
import { enqueue } from '../../db/outbox.js';
import { deviceLabel, deviceOfUser, peersOfUser, renameDevice } from '../../db/peers.js';
import type { Peer, User } from '../../db/schema.js';
import { inTransaction } from '../../db/infra/transaction.js';
import { findUser } from '../../db/users.js';
import { configOf, deviceRequestDecided, deviceRequestToAdmins, notice } from '../../delivery.js';
import { cb } from '../callback-data.js';
import type { BotContext } from '../context.js';
import { formatBytes, formatTime, fullName } from '../format.js';
import { LOCALES } from '../i18n.js';
import { editCurrent, HTML, userParams } from '../ui.js';

// Devices: every peer of a user is one device with its own keys and address. /devices lists them
// (traffic, last seen) with buttons: get the config again, rename, delete (confirmed), add.
// Names are asked for with a force_reply prompt and the answer is matched back by the prompt's
// text, as the admin search does: no conversation state is kept. Every button carries a peer id,
// and every handler looks the peer up together with the caller's id, so a forged or stale button
// cannot reach another user's device.
//
// With REQUIRE_APPROVAL_PER_DEVICE=on, the named device becomes a request (device_requests) sent
// to every admin with Approve / Reject. Approve goes through the same devices.add as an
// unrequested add (so the limit is checked at approval time) and sends the config; the decision is
// one conditional update, so double taps and several admins produce one device.

export const DEFAULT_MAX_DEVICES = 3;
/** 1–32 letters (any script), digits, spaces, '-' and '_' after trimming: nothing that needs escaping anywhere. */
export const DEVICE_NAME_RE = /^[\p{L}\p{Nd} _-]{1,32}$/u;

export function cleanDeviceName(raw: string): string | null {
  const name = raw.trim();
  return DEVICE_NAME_RE.test(name) ? name : null;
}

export const devicesFeature = new Composer<BotContext>();
const priv = devicesFeature.chatType('private');

function maxOf(ctx: BotContext, user: User): number {
  return user.max_devices ?? ctx.deps.maxDevicesPerUser ?? DEFAULT_MAX_DEVICES;
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

// ---------------------------------------------------------------- add with an admin's approval

async function requestDevice(ctx: BotContext, user: User, name: string): Promise<void> {
  const { db, now, adminIds } = ctx.deps;
  // A quick refusal at the limit; the limit that counts is checked again at approval time.
  const max = maxOf(ctx, user);
  if ((await peersOfUser(db, user.id)).length >= max) {
    await ctx.reply(ctx.tr('device-limit', { max }), HTML);
    return;
  }
  // The request and its copies for the admins, together.
  const req = await inTransaction(db, async (trx) => {
    const created = await createDeviceRequest(trx, user.id, name, now());
    if (!created) return undefined;
    await audit(trx, { actorId: user.id, action: 'device_request', userId: user.id, details: { id: created.id, name } }, now());
    await enqueue(trx, deviceRequestToAdmins(adminIds, created.id), now());
    return created;
  });
  if (!req) {
    await ctx.reply(ctx.tr('device-request-pending'), HTML);
    return;
  }
  ctx.deps.log.info({ userId: user.id, requestId: req.id }, 'device requested');
  await ctx.reply(ctx.tr('device-request-sent', { name }), HTML);
}

/** The loser of a race (or a stale button): says how the request stands. */
async function answerDecided(ctx: BotContext, id: number): Promise<void> {
  const req = await findDeviceRequest(ctx.deps.db, id);
  const text = req ? ctx.tr('device-request-decided', { status: ctx.tr(`device-request-status-${req.status}`) }) : ctx.tr('device-request-not-found');
  await ctx.answerCallbackQuery({ text, show_alert: true });
}

// Admins only: a non-admin's press goes on, through this filter, to the admin feature's refusal (ADMIN_CALLBACKS).
const admins = devicesFeature.filter((ctx) => ctx.isAdmin);

admins.callbackQuery(cb.deviceRequestApprove.filter, async (ctx) => {
  const data = cb.deviceRequestApprove.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  const { db, now } = ctx.deps;
  const req = await decideDeviceRequest(db, data.id, 'approved', ctx.from.id);
  if (!req) return answerDecided(ctx, data.id);
  const user = await findUser(db, req.user_id);
  // The same path as an unrequested add: active user, limit (as it is now) and insert in one statement.
  // The user's notice and every admin's copy of the request are queued with the config.
  const told = (peer: Peer) => [
    notice(req.user_id, 'device-request-approved', { name: req.name, ip: peer.ip }),
    ...deviceRequestDecided(ctx.deps.adminIds, req.id, 'approval-approved-by', fullName(ctx.from)),
  ];
  const r = user ? await ctx.deps.devices.add(user.id, req.name, maxOf(ctx, user), told) : ({ kind: 'not-active' } as const);
  if (r.kind !== 'ok') {
    // Nothing was created: the request is open again and keeps its buttons, so the admin can raise
    // the limit (user card) and approve again, or reject.
    await reopenDeviceRequest(db, req.id, ctx.from.id);
    const params = user ? userParams(user) : { name: String(req.user_id), username: '—', id: String(req.user_id) };
    const text =
      r.kind === 'limit'
        ? ctx.tr('device-request-limit', { ...params, max: r.max, device: req.name })
        : r.kind === 'not-active'
          ? ctx.tr('device-request-user-inactive', { ...params, device: req.name })
          : ctx.tr('device-request-failed', { ...params, device: req.name });
    await ctx.answerCallbackQuery({ text: ctx.tr('device-request-not-created'), show_alert: true });
    await ctx.api.sendMessage(ctx.from.id, text, HTML);
    return;
  }
  await audit(db, { actorId: ctx.from.id, action: 'device_request_approve', userId: req.user_id, details: { id: req.id, peerId: r.peer.id } }, now());
  ctx.deps.log.info({ userId: req.user_id, requestId: req.id, peerId: r.peer.id, ip: r.peer.ip, adminId: ctx.from.id }, 'device request approved');
  await ctx.answerCallbackQuery({ text: ctx.tr('approved-short') });
});

admins.callbackQuery(cb.deviceRequestReject.filter, async (ctx) => {
  const data = cb.deviceRequestReject.unpack(ctx.callbackQuery.data);
  if (!data) return ctx.answerCallbackQuery();
  const { db, now, adminIds } = ctx.deps;
  const req = await inTransaction(db, async (trx) => {
    const decided = await decideDeviceRequest(trx, data.id, 'rejected', ctx.from.id);
    if (!decided) return undefined;
    await audit(trx, { actorId: ctx.from.id, action: 'device_request_reject', userId: decided.user_id, details: { id: decided.id } }, now());
    await enqueue(trx, [notice(decided.user_id, 'device-request-rejected', { name: decided.name }), ...deviceRequestDecided(adminIds, decided.id, 'approval-rejected-by', fullName(ctx.from))], now());
    return decided;
  });
  if (!req) return answerDecided(ctx, data.id);
  ctx.deps.log.info({ userId: req.user_id, requestId: req.id, adminId: ctx.from.id }, 'device request rejected');
  await ctx.answerCallbackQuery({ text: ctx.tr('rejected-short') });
});

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
  // The config is sent like any other: through the outbox, at the chat's pace.
  await enqueue(ctx.deps.db, configOf(peer), ctx.deps.now());
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
