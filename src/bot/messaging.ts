import { type Api, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import { approvalMessages, deleteApprovalMessages, getChatLocale, saveApprovalMessage } from '../db/misc.js';
import { deviceLabel, markDelivered, peersOfUser, undeliveredPeers } from '../db/peers.js';
import type { Peer, User } from '../db/schema.js';
import { enforceLimits } from '../monitor/quotas.js';
import { renderQrPng } from '../vpn/qr.js';
import { clientConfigFileName } from '../vpn/render.js';
import { cb } from './callback-data.js';
import type { BotContext, BotDeps } from './context.js';
import { fullName } from './format.js';
import { DEFAULT_LOCALE } from './i18n.js';

const HTML = { parse_mode: 'HTML' } as const;

export function isNotModified(e: unknown): boolean {
  return e instanceof GrammyError && /message is not modified/i.test(e.description);
}

/** The user blocked the bot or deleted their account: retrying will not help. */
export function isUnreachable(e: unknown): boolean {
  return e instanceof GrammyError && e.error_code === 403;
}

/** Editing to identical content is success, not an error. */
export async function safeEdit(api: Api, chatId: number, messageId: number, text: string, keyboard?: InlineKeyboard): Promise<void> {
  try {
    await api.editMessageText(chatId, messageId, text, { ...HTML, reply_markup: keyboard });
  } catch (e) {
    if (!isNotModified(e)) throw e;
  }
}

export async function localeOf(deps: BotDeps, chatId: number): Promise<string> {
  return (await getChatLocale(deps.db, chatId)) ?? DEFAULT_LOCALE;
}

export function userParams(user: Pick<User, 'id' | 'first_name' | 'last_name' | 'username'>) {
  return { name: fullName(user), username: user.username ? `@${user.username}` : '—', id: String(user.id) };
}

export function approvalKeyboard(deps: BotDeps, locale: string, userId: number): InlineKeyboard {
  const t = deps.translator;
  return new InlineKeyboard()
    .text(t.t(locale, 'btn-approve'), cb.approve.pack({ userId }))
    .text(t.t(locale, 'btn-reject'), cb.reject.pack({ userId }));
}

/** A notice to one user in their language; a user who cannot be reached is only logged. */
export async function notifyUser(api: Api, deps: BotDeps, userId: number, key: string, params: Record<string, string | number> = {}): Promise<void> {
  try {
    await api.sendMessage(userId, deps.translator.t(await localeOf(deps, userId), key, params), HTML);
  } catch (err) {
    deps.log.warn({ err, userId, key }, 'could not notify a user');
  }
}

/** A notice to every admin, each in their language; an unreachable admin is only logged. */
export async function broadcastToAdmins(api: Api, deps: BotDeps, key: string, params: Record<string, string | number> = {}): Promise<void> {
  for (const adminId of deps.adminIds) {
    try {
      await api.sendMessage(adminId, deps.translator.t(await localeOf(deps, adminId), key, params), HTML);
    } catch (err) {
      deps.log.warn({ err, adminId }, 'could not notify an admin');
    }
  }
}

/** Sends the approval request to every admin and remembers the messages so all can be updated later. */
export async function notifyAdmins(api: Api, deps: BotDeps, user: User): Promise<void> {
  for (const adminId of deps.adminIds) {
    try {
      await sendApprovalRequest(api, deps, adminId, user);
    } catch (err) {
      deps.log.warn({ err, adminId, userId: user.id }, 'could not notify an admin');
    }
  }
}

export async function sendApprovalRequest(api: Api, deps: BotDeps, adminId: number, user: User): Promise<void> {
  const locale = await localeOf(deps, adminId);
  const msg = await api.sendMessage(adminId, deps.translator.t(locale, 'approval-request', userParams(user)), {
    ...HTML,
    reply_markup: approvalKeyboard(deps, locale, user.id),
  });
  await saveApprovalMessage(deps.db, user.id, adminId, msg.message_id);
}

/** Replaces every admin's approval request for this user with an outcome line ("approved by …"). */
export async function closeApprovalMessages(api: Api, deps: BotDeps, user: User, key: string, params: Record<string, string>): Promise<void> {
  for (const m of await approvalMessages(deps.db, user.id)) {
    const locale = await localeOf(deps, m.chat_id);
    const text = `${deps.translator.t(locale, 'approval-request', userParams(user))}\n\n${deps.translator.t(locale, key, params)}`;
    try {
      await safeEdit(api, m.chat_id, m.message_id, text);
    } catch (err) {
      deps.log.warn({ err, chatId: m.chat_id }, 'could not update an approval message');
    }
  }
  await deleteApprovalMessages(deps.db, user.id);
}

/** The .conf as a document, the same text as a QR code, and how to import it. */
export async function sendConfig(api: Api, deps: BotDeps, chatId: number, locale: string, peer: Peer): Promise<void> {
  const t = deps.translator;
  const text = deps.vpn.clientConfig(peer);
  const amnezia = deps.vpn.flavorOf(peer) === 'amneziawg';
  const device = deviceLabel(peer, await peersOfUser(deps.db, peer.user_id), (n) => t.t(locale, 'device-default-name', { n }));
  // A named device names the file (and so the tunnel in the client app); otherwise the peer id, as before devices.
  await api.sendDocument(chatId, new InputFile(Buffer.from(text), clientConfigFileName(peer.name ?? String(peer.id))), {
    ...HTML,
    caption: `${t.t(locale, 'config-caption', { ip: peer.ip })}\n${t.t(locale, 'device-config-caption', { name: device })}`,
  });
  await api.sendPhoto(chatId, new InputFile(await renderQrPng(text), 'qr.png'), {
    ...HTML,
    caption: t.t(locale, amnezia ? 'config-qr-caption-awg' : 'config-qr-caption-wg'),
  });
  await api.sendMessage(chatId, t.t(locale, amnezia ? 'config-howto-awg' : 'config-howto-wg'), { ...HTML, link_preview_options: { is_disabled: true } });
  const key = deps.vpn.amneziaKey(peer, peer.name ? `AndreyVPN ${peer.name}` : `AndreyVPN ${peer.ip}`);
  // In <code> so a tap copies it; AmneziaVPN imports it with "+" → "Insert key".
  if (key) await api.sendMessage(chatId, `${t.t(locale, 'config-amnezia-key')}\n<code>${key}</code>`, HTML);
  if (peer.delivered_at === null) await markDelivered(deps.db, peer.id, deps.now());
}

/**
 * After an approval (by an admin, or through an invite): the welcome line and every config, in
 * the user's language. False when delivery failed (logged); the user can still use /config.
 */
export async function deliverApproval(api: Api, deps: BotDeps, user: User, peers: Peer[], key = 'you-are-approved'): Promise<boolean> {
  const locale = await localeOf(deps, user.id);
  try {
    await api.sendMessage(user.id, deps.translator.t(locale, key), HTML);
    for (const p of peers) await sendConfig(api, deps, user.id, locale, p);
    return true;
  } catch (err) {
    deps.log.warn({ err, userId: user.id }, 'config delivery failed');
    return false;
  }
}

/**
 * On the leader: approvals a crash interrupted are finished (or rolled back, and the admins asked
 * again), and every config not yet delivered is sent. Only what started before staleBefore:
 * younger approvals and deliveries may still be in progress here or on another replica.
 */
export async function resumeDeliveries(api: Api, deps: BotDeps, staleBefore = Number.POSITIVE_INFINITY): Promise<void> {
  for (const r of await deps.access.recoverInterrupted(staleBefore)) {
    if (r.kind === 'failed') await notifyAdmins(api, deps, r.user);
  }
  for (const peer of (await undeliveredPeers(deps.db)).filter((p) => p.created_at < staleBefore)) {
    try {
      await sendConfig(api, deps, peer.user_id, await localeOf(deps, peer.user_id), peer);
    } catch (err) {
      deps.log.warn({ err, userId: peer.user_id }, 'config delivery failed again; /config still works');
      if (isUnreachable(err)) await markDelivered(deps.db, peer.id, deps.now());
    }
  }
}

/** The monitor's quota and expiry step, telling users and admins through this bot. */
export function limitsStep(api: Api, deps: BotDeps): (now: number) => Promise<void> {
  return (now) =>
    enforceLimits(
      {
        db: deps.db,
        access: deps.access,
        notifyUser: (userId, key, params) => notifyUser(api, deps, userId, key, params),
        notifyAdmins: (key, params) => broadcastToAdmins(api, deps, key, params),
      },
      now,
    );
}

/** Edits the message whose button was pressed, or sends a new one when there is none (a command). */
export async function editCurrent(ctx: BotContext, text: string, keyboard?: InlineKeyboard): Promise<void> {
  const m = ctx.callbackQuery?.message;
  if (m) await safeEdit(ctx.api, m.chat.id, m.message_id, text, keyboard);
  else await ctx.api.sendMessage(ctx.from!.id, text, { ...HTML, reply_markup: keyboard });
}
