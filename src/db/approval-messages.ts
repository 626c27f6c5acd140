import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

type Q = Kysely<Database>;

export async function saveApprovalMessage(db: Q, userId: number, chatId: number, messageId: number): Promise<void> {
  await db
    .insertInto('approval_messages')
    .values({ user_id: userId, chat_id: chatId, message_id: messageId })
    .onConflict((oc) => oc.columns(['user_id', 'chat_id']).doUpdateSet({ message_id: messageId }))
    .execute();
}

/** The request about this user in this admin's chat, once it was sent. */
export function approvalMessage(db: Q, userId: number, chatId: number) {
  return db.selectFrom('approval_messages').selectAll().where('user_id', '=', userId).where('chat_id', '=', chatId).executeTakeFirst();
}

export async function deleteApprovalMessage(db: Q, userId: number, chatId: number): Promise<void> {
  await db.deleteFrom('approval_messages').where('user_id', '=', userId).where('chat_id', '=', chatId).execute();
}
