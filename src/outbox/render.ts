import { InlineKeyboard, InputFile } from 'grammy';
import type { BotDeps } from '../bot/context.js';
import { cb } from '../bot/callback-data.js';
import type { Params } from '../bot/i18n.js';
import { formatBytes } from '../bot/format.js';
import { approvalKeyboard, localeOf, userParams } from '../bot/ui.js';
import { deleteDeviceRequestMessage, deviceRequestMessage, findDeviceRequest, saveDeviceRequestMessage } from '../db/device-requests.js';
import type { Db } from '../db/index.js';
import { approvalMessage, deleteApprovalMessage, saveApprovalMessage } from '../db/approval-messages.js';
import type { ConfigPart, Intent } from '../db/outbox.js';
import { deviceLabel, findPeer, markDelivered, peersOfUser } from '../db/peers.js';
import { countPending, getDigest, newestPending, updateDigest } from '../db/requests.js';
import type { DeviceRequest, User } from '../db/schema.js';
import { findUser } from '../db/users.js';
import { currentImitationValues } from '../use-cases/imitation.js';
import { neverConnectedMessage, weeklyDigestMessage } from './render-reminders.js';
import { renderQrPng } from '../vpn/qr.js';
import { clientConfigFileName } from '../vpn/render.js';

// Each queued message becomes a Telegram call here, from what the database says when it goes out.
// null: nothing to send any more (a request decided meanwhile, a device deleted).

export type Call =
  | { method: 'sendMessage'; text: string; keyboard?: InlineKeyboard; noPreview?: boolean }
  | { method: 'sendDocument'; file: InputFile; caption: string }
  | { method: 'sendPhoto'; file: InputFile; caption: string }
  | { method: 'editMessageText'; messageId: number; text: string; keyboard?: InlineKeyboard };

export interface Rendered {
  call: Call;
  /** Bookkeeping once Telegram took it (which message it became), in the transaction that removes the row. */
  afterSent?: (trx: Db, messageId: number | undefined) => Promise<void>;
  /** An edit whose message is gone (isEditGone): what makes the row, queued again, go as a new message. */
  whenGone?: (trx: Db) => Promise<void>;
}

export type RenderDeps = Pick<BotDeps, 'db' | 'translator' | 'fleet' | 'now'>;

/** Translation in the recipient's language (parameters escaped). */
type Tr = (key: string, params?: Params) => string;

/** A digest is edited at most this often (Telegram: about one message a second per chat, and the admin must be able to read it). */
export const DIGEST_EVERY_MS = 3000;
/** After this long a digest is sent anew rather than edited, so it shows at the bottom of the chat. */
const DIGEST_FRESH_MS = 10 * 60_000;
/** Names listed in a digest. */
const DIGEST_NAMES = 5;

export async function render(deps: RenderDeps, chatId: number, intent: Intent): Promise<Rendered | null> {
  const locale = await localeOf(deps.db, chatId);
  const t: Tr = (key, params) => deps.translator.t(locale, key, params);
  switch (intent.kind) {
    case 'notice':
      return { call: { method: 'sendMessage', text: t(intent.key, { ...intent.params, ...bytesIn(intent.bytes, locale) }) } };
    case 'config':
      return renderConfig(deps, t, intent.peerId, intent.part);
    case 'request': {
      const user = await findUser(deps.db, intent.userId);
      if (user?.status !== 'pending') return null;
      return {
        call: { method: 'sendMessage', text: t('approval-request', userParams(user)), keyboard: approvalKeyboard(deps.translator, locale, user.id) },
        afterSent: async (trx, messageId) => {
          if (messageId !== undefined) await saveApprovalMessage(trx, user.id, chatId, messageId);
        },
      };
    }
    case 'request-outcome': {
      const [m, user] = await Promise.all([approvalMessage(deps.db, intent.userId, chatId), findUser(deps.db, intent.userId)]);
      if (!m || !user) return null;
      return {
        call: { method: 'editMessageText', messageId: m.message_id, text: `${t('approval-request', userParams(user))}\n\n${t(intent.key, intent.params)}` },
        afterSent: (trx) => deleteApprovalMessage(trx, user.id, chatId),
      };
    }
    case 'device-request': {
      const req = await findDeviceRequest(deps.db, intent.requestId);
      const user = req && (await findUser(deps.db, req.user_id));
      if (req?.status !== 'pending' || !user) return null;
      const keyboard = new InlineKeyboard().text(t('btn-approve'), cb.deviceRequestApprove.pack({ id: req.id })).text(t('btn-reject'), cb.deviceRequestReject.pack({ id: req.id }));
      return {
        call: { method: 'sendMessage', text: deviceRequestText(t, user, req), keyboard },
        afterSent: async (trx, messageId) => {
          if (messageId !== undefined) await saveDeviceRequestMessage(trx, req.id, chatId, messageId);
        },
      };
    }
    case 'device-request-outcome': {
      const req = await findDeviceRequest(deps.db, intent.requestId);
      const [m, user] = req ? await Promise.all([deviceRequestMessage(deps.db, req.id, chatId), findUser(deps.db, req.user_id)]) : [];
      if (!req || !m) return null;
      const head = user ? `${deviceRequestText(t, user, req)}\n\n` : '';
      return {
        call: { method: 'editMessageText', messageId: m.message_id, text: `${head}${t(intent.key, intent.params)}` },
        afterSent: (trx) => deleteDeviceRequestMessage(trx, req.id, chatId),
      };
    }
    case 'sharing':
      return renderSharing(deps, t, intent);
    case 'digest':
      return renderDigest(deps, chatId, t);
    case 'never-connected': {
      const m = await neverConnectedMessage(deps.db, deps.fleet, t, intent.peerId);
      return m && { call: { method: 'sendMessage', text: m.text, keyboard: m.keyboard, noPreview: true } };
    }
    case 'weekly-digest': {
      const m = await weeklyDigestMessage(deps.db, t, locale, intent.since, intent.until);
      return { call: { method: 'sendMessage', text: m.text } };
    }
  }
}

/** A shared config, from the peer and its user as they are now; Disable (the user: a device has no status of its own) while the user is active. */
async function renderSharing(deps: RenderDeps, t: Tr, intent: Extract<Intent, { kind: 'sharing' }>): Promise<Rendered | null> {
  const peer = await findPeer(deps.db, intent.peerId);
  const user = peer && (await findUser(deps.db, peer.user_id));
  if (!peer || !user) return null;
  const device = deviceLabel(peer, await peersOfUser(deps.db, user.id), (n) => t('device-default-name', { n }));
  const params = { ...userParams(user), device, ip: peer.ip, addresses: intent.addresses.join(', '), minutes: intent.minutes };
  const active = user.status === 'active';
  const outcome = intent.disabled ? t('sharing-disabled') : active ? t('sharing-disable-hint') : t('sharing-user-status', { status: t(`label-${user.status}`) });
  const keyboard = !intent.disabled && active ? new InlineKeyboard().text(t('btn-disable'), cb.disable.pack({ userId: user.id })) : undefined;
  return { call: { method: 'sendMessage', text: `${t('sharing-alert', params)}\n\n${outcome}`, ...(keyboard ? { keyboard } : {}) } };
}

function deviceRequestText(t: Tr, user: User, req: DeviceRequest): string {
  return t('device-request-admin', { ...userParams(user), device: req.name });
}

/** One part of a device's config; the file and the QR code carry the same text, made from the peer now. */
async function renderConfig(deps: RenderDeps, t: Tr, peerId: number, part: ConfigPart): Promise<Rendered | null> {
  const peer = await findPeer(deps.db, peerId);
  if (!peer) return null;
  const amnezia = deps.fleet.flavorOf(peer) === 'amneziawg';
  // Read when the part goes out, so a config queued before an admin switched the preset carries the new one.
  const imitation = part !== 'howto' && amnezia ? await currentImitationValues(deps.db) : {};
  switch (part) {
    case 'file': {
      const device = deviceLabel(peer, await peersOfUser(deps.db, peer.user_id), (n) => t('device-default-name', { n }));
      // A named device names the file (and so the tunnel in the client app); otherwise the peer id.
      const file = new InputFile(Buffer.from(deps.fleet.clientConfig(peer, imitation)), clientConfigFileName(peer.name ?? String(peer.id)));
      return {
        call: { method: 'sendDocument', file, caption: `${t('config-caption', { ip: peer.ip })}\n${t('device-config-caption', { name: device })}` },
        afterSent: (trx) => markDelivered(trx, peer.id, deps.now()),
      };
    }
    case 'qr':
      return { call: { method: 'sendPhoto', file: new InputFile(await renderQrPng(deps.fleet.clientConfig(peer, imitation)), 'qr.png'), caption: t(amnezia ? 'config-qr-caption-awg' : 'config-qr-caption-wg') } };
    case 'howto':
      return { call: { method: 'sendMessage', text: t(amnezia ? 'config-howto-awg' : 'config-howto-wg'), noPreview: true } };
    case 'key': {
      const key = deps.fleet.amneziaKey(peer, peer.name ? `AndreyVPN ${peer.name}` : `AndreyVPN ${peer.ip}`, imitation);
      // In <code> so a tap copies it; AmneziaVPN imports it with "+" → "Insert key".
      return key ? { call: { method: 'sendMessage', text: `${t('config-amnezia-key')}\n<code>${key}</code>` } } : null;
    }
  }
}

/**
 * The admin's live summary: how many requests wait, the newest names, Review and Approve all.
 * Edited in place; sent anew when the last one is old; closed when none is pending.
 */
async function renderDigest(deps: RenderDeps, chatId: number, t: Tr): Promise<Rendered | null> {
  const d = await getDigest(deps.db, chatId);
  if (!d?.live) return null;
  const now = deps.now();
  const count = await countPending(deps.db);
  // Not one snapshot: a request decided after the count leaves fewer names, or none.
  const newest = count === 0 ? [] : await newestPending(deps.db, DIGEST_NAMES);
  const edit = d.message_id !== null && d.sent_at !== null && now - d.sent_at < DIGEST_FRESH_MS ? d.message_id : null;
  const whenGone = (trx: Db) => updateDigest(trx, chatId, { message_id: null });
  if (newest.length === 0) {
    const close = (trx: Db) => updateDigest(trx, chatId, { live: 0, message_id: null, shown_at: now });
    if (edit === null) {
      await close(deps.db);
      return null;
    }
    return { call: { method: 'editMessageText', messageId: edit, text: t('digest-done') }, afterSent: close, whenGone };
  }
  const names = newest.map((u) => userParams(u).name).join(', ');
  const more = count - newest.length;
  const text = `${t('digest', { count, names })}${more > 0 ? ` ${t('digest-more', { more })}` : ''}`;
  const cutoff = newest[0]!.requested_at ?? newest[0]!.created_at;
  const keyboard = new InlineKeyboard().text(t('btn-review'), cb.review.pack({})).text(t('btn-approve-all', { count }), cb.approveAllAsk.pack({ upTo: cutoff }));
  if (edit !== null) return { call: { method: 'editMessageText', messageId: edit, text, keyboard }, afterSent: (trx) => updateDigest(trx, chatId, { shown_at: now }), whenGone };
  return {
    call: { method: 'sendMessage', text, keyboard },
    afterSent: (trx, messageId) => updateDigest(trx, chatId, { message_id: messageId ?? null, sent_at: now, shown_at: now }),
  };
}

function bytesIn(bytes: Record<string, number> | undefined, locale: string): Params {
  return Object.fromEntries(Object.entries(bytes ?? {}).map(([k, n]) => [k, formatBytes(n, locale)]));
}
