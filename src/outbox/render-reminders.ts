import { InlineKeyboard } from 'grammy';
import { cb } from '../bot/callback-data.js';
import { escapeHtml, formatBytes, fullName } from '../bot/format.js';
import type { Params } from '../bot/i18n.js';
import type { Db } from '../db/index.js';
import { deviceLabel, findPeer, peersOfUser } from '../db/peers.js';
import type { User } from '../db/schema.js';
import { type SomeUsers, topUsersSince, usersExpiringBetween, usersJoinedBetween, usersNeverConnected } from '../db/stats.js';
import { dayOf } from '../db/traffic-buckets.js';
import { findUser } from '../db/users.js';
import type { Fleet } from '../vpn/fleet.js';

// The reminders' messages (src/use-cases/reminders.ts), made from the database when they go out.

type Tr = (key: string, params?: Params) => string;
export interface Message {
  text: string;
  keyboard?: InlineKeyboard;
}

const WEEK = 7 * 86_400_000;
/** Names listed per line of the weekly digest. */
const NAMES = 5;
const TOP = 5;
const EXPIRING = 10;

/** Nothing when the device is gone, off, or connected meanwhile. */
export async function neverConnectedMessage(db: Db, fleet: Pick<Fleet, 'flavorOf'>, t: Tr, peerId: number): Promise<Message | null> {
  const owner = (await findPeer(db, peerId))?.user_id;
  const all = owner === undefined ? [] : await peersOfUser(db, owner);
  const peer = all.find((p) => p.id === peerId);
  if (peer?.status !== 'active' || peer.last_handshake_at !== null || (await findUser(db, peer.user_id))?.status !== 'active') return null;
  const name = deviceLabel(peer, all, (n) => t('device-default-name', { n }));
  const howto = t(fleet.flavorOf(peer) === 'amneziawg' ? 'config-howto-awg' : 'config-howto-wg');
  return {
    text: `${t('never-connected', { name })}\n\n${howto}`,
    keyboard: new InlineKeyboard().text(t('never-connected-btn-config'), cb.deviceConfig.pack({ id: peer.id })),
  };
}

/** The admins' week: who joined, who used most, who never connected, who expires in the week ahead. */
export async function weeklyDigestMessage(db: Db, t: Tr, locale: string, since: number, until: number): Promise<Message> {
  const [joined, top, never, expiring] = await Promise.all([
    usersJoinedBetween(db, since, until, NAMES),
    topUsersSince(db, dayOf(since), TOP),
    usersNeverConnected(db, NAMES),
    usersExpiringBetween(db, until, until + WEEK, EXPIRING),
  ]);
  const names = (s: SomeUsers) => (s.users.length ? `: ${s.users.map(nameOf).join(', ')}${more(t, s)}` : '');
  const lines = [
    t('weekly-digest-title', { from: dayOf(since), to: dayOf(until) }),
    '',
    `${t('weekly-digest-joined', { count: joined.count })}${names(joined)}`,
    '',
    t('weekly-digest-top'),
    ...(top.length ? top.map((u, i) => `${i + 1}. ${nameOf(u)} — ${formatBytes(u.rx + u.tx, locale)}`) : [t('weekly-digest-none')]),
    '',
    `${t('weekly-digest-never', { count: never.count })}${names(never)}`,
    '',
    t('weekly-digest-expiring', { count: expiring.count }),
    ...expiring.users.map((u) => `• ${nameOf(u)} — ${dayOf(u.expires_at!)}`),
  ];
  if (expiring.count > expiring.users.length) lines.push(more(t, expiring).trim());
  return { text: lines.join('\n') };
}

const nameOf = (u: Pick<User, 'first_name' | 'last_name'>) => escapeHtml(fullName(u));
const more = (t: Tr, s: SomeUsers) => (s.count > s.users.length ? ` ${t('digest-more', { more: s.count - s.users.length })}` : '');
