import type { Kysely } from 'kysely';
import type { Database, DeviceRequest } from './schema.js';

type Q = Kysely<Database>;

// Every decision on a device request is one conditional update on status, so
// exactly one caller wins; the partial unique index keeps one pending request per user.

/** A new pending request; undefined when the user already has one open. */
export function createDeviceRequest(db: Q, userId: number, name: string, now: number): Promise<DeviceRequest | undefined> {
  return db
    .insertInto('device_requests')
    .values({ user_id: userId, name, status: 'pending', created_at: now, decided_by: null })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function findDeviceRequest(db: Q, id: number): Promise<DeviceRequest | undefined> {
  return db.selectFrom('device_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

export function pendingDeviceRequest(db: Q, userId: number): Promise<DeviceRequest | undefined> {
  return db.selectFrom('device_requests').selectAll().where('user_id', '=', userId).where('status', '=', 'pending').executeTakeFirst();
}

/** pending → approved/rejected; the decided row for the single winner, undefined for everyone else. */
export function decideDeviceRequest(db: Q, id: number, to: 'approved' | 'rejected', adminId: number): Promise<DeviceRequest | undefined> {
  return db
    .updateTable('device_requests')
    .set({ status: to, decided_by: adminId })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
}

/** An approval that created nothing (limit, user no longer active, interface error) goes back to pending. */
export async function reopenDeviceRequest(db: Q, id: number, adminId: number): Promise<boolean> {
  const res = await db
    .updateTable('device_requests')
    .set({ status: 'pending', decided_by: null })
    .where('id', '=', id)
    .where('status', '=', 'approved')
    .where('decided_by', '=', adminId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function saveDeviceRequestMessage(db: Q, requestId: number, chatId: number, messageId: number): Promise<void> {
  await db
    .insertInto('device_request_messages')
    .values({ request_id: requestId, chat_id: chatId, message_id: messageId })
    .onConflict((oc) => oc.columns(['request_id', 'chat_id']).doUpdateSet({ message_id: messageId }))
    .execute();
}

/** The request in this admin's chat, once it was sent. */
export function deviceRequestMessage(db: Q, requestId: number, chatId: number) {
  return db.selectFrom('device_request_messages').selectAll().where('request_id', '=', requestId).where('chat_id', '=', chatId).executeTakeFirst();
}

export async function deleteDeviceRequestMessage(db: Q, requestId: number, chatId: number): Promise<void> {
  await db.deleteFrom('device_request_messages').where('request_id', '=', requestId).where('chat_id', '=', chatId).execute();
}
