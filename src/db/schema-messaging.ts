import type { Generated, Selectable } from 'kysely';

// The tables of messages: broadcasts, the outbox, the inbox, the admins' digests (the Database interface is in schema.ts).

// Broadcast content as Telegram gave it (text or caption, entities as JSON): re-sent with entities, so formatting survives exactly.
export type BroadcastStatus = 'draft' | 'sending' | 'done' | 'cancelled';
export type BroadcastAudience = 'active' | 'all' | 'pending' | 'inactive' | 'quota' | 'expiring' | 'node' | 'language';
export type DeliveryStatus = 'queued' | 'sending' | 'sent' | 'failed' | 'blocked' | 'unknown' | 'cancelled';

export interface BroadcastPromptsTable {
  admin_id: number;
  expires_at: number;
}

export interface BroadcastsTable {
  id: Generated<number>;
  admin_id: number;
  status: BroadcastStatus;
  audience: BroadcastAudience;
  /** inactive, expiring: days; node: the node's name; language: the locale; null for the others. */
  audience_arg: string | null;
  kind: 'text' | 'photo';
  text: string | null;
  entities: string | null;
  photo: string | null;
  progress_chat_id: number | null;
  progress_message_id: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface BroadcastDeliveriesTable {
  broadcast_id: number;
  user_id: number;
  status: DeliveryStatus;
  error: string | null;
  updated_at: number;
}

export type Broadcast = Selectable<BroadcastsTable>;

export type OutboxStatus = 'queued' | 'sending' | 'failed' | 'blocked' | 'unknown' | 'folded';

export interface OutboxTable {
  id: Generated<number>;
  chat_id: number;
  /** What to send (an Intent's kind); data holds its other fields as JSON. */
  kind: string;
  data: string;
  status: Generated<OutboxStatus>;
  /** At most one queued row per chat and merge key. */
  merge_key: string | null;
  /** Not sent before this time (epoch ms). */
  not_before: Generated<number>;
  /** Tries that Telegram refused in a way worth repeating (5xx, network). */
  attempts: Generated<number>;
  /** 1: sent at broadcast priority, after every other queued row (a re-send to every user). */
  bulk: Generated<number>;
  created_at: number;
  updated_at: number;
  error: string | null;
}

export type OutboxRow = Selectable<OutboxTable>;

export interface InboxTable {
  update_id: number;
  /** The update as Telegram sent it (JSON); emptied once handled. */
  payload: string;
  received_at: number;
  handled_at: number | null;
  /** The replica handling it (null: nobody's, taken like a dead replica's). */
  replica: number | null;
}

export interface AdminDigestsTable {
  admin_id: number;
  /** The summary message; null when none is live. */
  message_id: number | null;
  sent_at: number | null;
  /** Last time it was sent or edited (edits at most every few seconds). */
  shown_at: number | null;
  /** Last time a request reached this admin (individually or folded). */
  last_request_at: number | null;
  /** 1 while requests fold into it (until none is pending). */
  live: Generated<number>;
}

export type AdminDigest = Selectable<AdminDigestsTable>;
