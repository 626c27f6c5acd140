import { CONFIG_PARTS, type Outgoing } from '../db/outbox.js';
import type { Peer } from '../db/schema.js';

// The use cases' only way to Telegram: what each event tells whom, as outbox rows queued in the
// transaction of the change they report; src/outbox/ renders and sends them.

/** A notice in the recipient's language (rendered when sent). */
export function tellUser(chatId: number, key: string, params?: Record<string, string | number>, bytes?: Record<string, number>): Outgoing {
  return { chatId, intent: { kind: 'notice', key, ...(params ? { params } : {}), ...(bytes ? { bytes } : {}) } };
}

export function tellAdmins(adminIds: readonly number[], key: string, params?: Record<string, string | number>): Outgoing[] {
  return adminIds.map((id) => tellUser(id, key, params));
}

/** A device's config, each part one message, rendered from the peer when it goes out. */
export function configFor(peer: Pick<Peer, 'id' | 'user_id'>): Outgoing[] {
  return CONFIG_PARTS.map((part) => ({ chatId: peer.user_id, intent: { kind: 'config', peerId: peer.id, part } }));
}

/** A new access request: each admin gets it with Approve / Reject (or in the digest, in a burst). */
export function askAdmins(adminIds: readonly number[], userId: number): Outgoing[] {
  return adminIds.map((chatId) => ({ chatId, intent: { kind: 'request', userId } }));
}

/** A request was decided: every admin's copy shows the outcome, and the digests count it out. */
export function requestDecided(adminIds: readonly number[], userId: number, key: string, admin: string): Outgoing[] {
  return adminIds.flatMap((chatId): Outgoing[] => [
    { chatId, intent: { kind: 'request-outcome', userId, key, params: { admin } } },
    { chatId, intent: { kind: 'digest' } },
  ]);
}

export function askAdminsForDevice(adminIds: readonly number[], requestId: number): Outgoing[] {
  return adminIds.map((chatId) => ({ chatId, intent: { kind: 'device-request', requestId } }));
}

export function deviceRequestDecided(adminIds: readonly number[], requestId: number, key: string, admin: string): Outgoing[] {
  return adminIds.map((chatId) => ({ chatId, intent: { kind: 'device-request-outcome', requestId, key, params: { admin } } }));
}
