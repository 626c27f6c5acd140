import type { Generated, Insertable, Selectable } from 'kysely';
import type { AdminDigestsTable, BroadcastDeliveriesTable, BroadcastPromptsTable, BroadcastsTable, InboxTable, OutboxTable } from './schema-messaging.js';

// pending → provisioning → active: the middle state is persisted so that a crash during
// peer creation is finished (or rolled back) on the next start.
// banned: blocked by an admin: no peer, and /start cannot ask again.
// limited / expired: over the monthly quota / past the expiry date: peers off the interface, keys kept.
export type UserStatus = 'pending' | 'provisioning' | 'active' | 'disabled' | 'limited' | 'expired' | 'rejected' | 'revoked' | 'banned';
export type PeerStatus = 'active' | 'disabled';
/** When a user's usage restarts: never, daily, weekly (Monday), monthly (QUOTA_RESET_DAY), every 30 days from the user's start. */
export type ResetPlan = 'none' | 'day' | 'week' | 'month' | 'rolling';

// Timestamps are epoch milliseconds.
export interface UsersTable {
  id: number; // Telegram user id
  first_name: string;
  last_name: string | null;
  username: string | null;
  status: UserStatus;
  created_at: number;
  updated_at: number;
  decided_by: number | null;
  decided_at: number | null;
  /** When Telegram last answered 403 for this user (blocked the bot); null when reachable. */
  blocked_at: number | null;
  /** Devices this user may have; null: MAX_DEVICES_PER_USER. */
  max_devices: number | null;
  /** Traffic quota per period (up + down, all devices); null = unlimited. */
  quota_bytes: number | null;
  expires_at: number | null;
  /** Traffic in the current quota period (usage_period: the period's key, usage-periods.ts). */
  usage_bytes: Generated<number>;
  usage_period: string | null;
  /** When the usage restarts; null: DEFAULT_RESET_PLAN. */
  reset_plan: ResetPlan | null;
  /** Rolling 30-day periods count from here (approval, or the switch to rolling); null: created_at. */
  period_anchor: number | null;
  /** Added to the quota for this period only (an admin's top-up); zeroed when the period rolls. */
  topup_bytes: Generated<number>;
  /** Days of validity that start at the first handshake; expires_at is null until then. */
  expiry_days_pending: number | null;
  /** Highest quota warning sent this period (0, 50, 80, 95, 100) and expiry warning sent (0, 3, 1 days). */
  warned_quota: Generated<number>;
  warned_expiry: Generated<number>;
  /** NODE_CHOICE=user: the node (location) the user picked. */
  node: string | null;
  /** When the user last asked for access; requests are reviewed in this order. */
  requested_at: number | null;
  /**
   * Speed limit per direction in kbit/s, shaped on every node the user has peers on:
   * null = DEFAULT_SPEED_MBIT (unlimited when unset), 0 = unlimited whatever the default, n > 0 = n kbit/s.
   */
  speed_down_kbit: number | null;
  speed_up_kbit: number | null;
  /** The replica provisioning this user (status 'provisioning'); see src/db/infra/locks.ts. */
  claimed_by: number | null;
}

export interface CaptchasTable {
  user_id: number;
  nonce: string;
  answer: number;
  attempts: number;
  expires_at: number;
  cooldown_until: number | null;
}

export interface PeersTable {
  id: Generated<number>;
  user_id: number;
  /** The VPN node's name. */
  node: string;
  public_key: string;
  private_key: string;
  preshared_key: string;
  ip: string;
  status: PeerStatus;
  created_at: number;
  /** When the .conf document reached Telegram (set by the outbox). */
  delivered_at: number | null;
  /** When the config was handed to the outbox; null: recovery queues it. */
  config_queued_at: number | null;
  /** The device's name, chosen by the user; null: shown as "Device <n>". */
  name: string | null;
  /** When the user was reminded that this device never connected; null: not (yet). */
  nudged_at: number | null;
}

/** A peer's traffic state, the row the monitor writes every tick; one per peer, made with it. */
export interface PeerTrafficTable {
  peer_id: number;
  rx_total: Generated<number>;
  tx_total: Generated<number>;
  /** Raw interface counters at the last monitor tick; deltas are taken against these. */
  rx_last: Generated<number>;
  tx_last: Generated<number>;
  last_handshake_at: number | null;
  /** Traffic of pending_hour not yet in the buckets and the usage; null: none. */
  pending_hour: number | null;
  pending_rx: Generated<number>;
  pending_tx: Generated<number>;
  /** The endpoint's address (no port) at the last monitor tick; null: none seen yet. */
  endpoint: string | null;
  /** Last time the peer went back to an address it had left within the sharing window. */
  sharing_seen_at: number | null;
}

/** Addresses a peer's endpoint was at: first seen, and last seen (when it arrived there or left), pruned beyond the sharing window. */
export interface PeerEndpointsTable {
  peer_id: number;
  address: string;
  first_seen: number;
  last_seen: number;
}

/** Traffic per peer and hour (kept 14 days) and per UTC day (kept 13 months), from the user's side of the dump: rx = upload. */
export interface TrafficHourlyTable {
  peer_id: number;
  hour: number; // epoch ms of the hour's start
  rx: number;
  tx: number;
}

export interface TrafficDailyTable {
  peer_id: number;
  day: string; // YYYY-MM-DD, UTC
  rx: number;
  tx: number;
}

export interface RemovedPeersTable {
  public_key: string;
  node: string;
  removed_at: number;
}

export interface ServersTable {
  /** The node this interface runs on: keys and obfuscation parameters are per node. */
  node: string;
  private_key: string;
  public_key: string;
  address: string;
  listen_port: number;
  awg_params: string | null; // JSON of AwgParams
  ifindex: number | null; // last seen; a change means the interface was recreated
  created_at: number;
}

export interface ApprovalMessagesTable {
  user_id: number;
  chat_id: number;
  message_id: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor_id: number | null;
  action: string;
  user_id: number | null;
  details: string | null;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface ChatLocalesTable {
  chat_id: number;
  locale: string;
  /** 1 when the user picked it with /language; otherwise it follows their Telegram language. */
  chosen: Generated<number>;
}

export interface Database {
  users: UsersTable;
  captchas: CaptchasTable;
  peers: PeersTable;
  peer_traffic: PeerTrafficTable;
  peer_endpoints: PeerEndpointsTable;
  traffic_hourly: TrafficHourlyTable;
  traffic_daily: TrafficDailyTable;
  servers: ServersTable;
  removed_peers: RemovedPeersTable;
  approval_messages: ApprovalMessagesTable;
  audit_log: AuditLogTable;
  chat_locales: ChatLocalesTable;
  meta: MetaTable;
  broadcast_prompts: BroadcastPromptsTable;
  broadcasts: BroadcastsTable;
  broadcast_deliveries: BroadcastDeliveriesTable;
  invites: InvitesTable;
  invite_uses: InviteUsesTable;
  pending_invites: PendingInvitesTable;
  invite_drafts: InviteDraftsTable;
  device_requests: DeviceRequestsTable;
  device_request_messages: DeviceRequestMessagesTable;
  nodes: NodesTable;
  outbox: OutboxTable;
  inbox: InboxTable;
  admin_digests: AdminDigestsTable;
}

export type NodeState = 'active' | 'draining';

/** A VPN node: local (ssh_host null) or reached over SSH. */
export interface NodesTable {
  name: string;
  /** Shown to users choosing a location. */
  location: string;
  ssh_host: string | null;
  ssh_port: number | null;
  ssh_user: string | null;
  ssh_key_file: string | null;
  /** Pinned host key (`SHA256:…` fingerprint). */
  ssh_host_key: string | null;
  flavor: 'amneziawg' | 'wireguard';
  iface: string;
  endpoint: string;
  listen_port: number;
  subnet: string;
  /** Where `<iface>.conf` lives on the node. */
  config_dir: string;
  /** SSH nodes: where the bot keeps its logs and short-lived key files on the node. */
  state_dir: string | null;
  state: Generated<NodeState>;
  down_since: number | null;
  created_at: number;
}

export type Node = Selectable<NodesTable>;

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type Captcha = Selectable<CaptchasTable>;
export type Peer = Selectable<PeersTable>;
export type PeerTraffic = Selectable<PeerTrafficTable>;
/** A peer as the views show it: with its totals and last handshake. */
export type PeerWithTraffic = Peer & Pick<PeerTraffic, 'rx_total' | 'tx_total' | 'last_handshake_at'>;
export type Server = Selectable<ServersTable>;

// Only a SHA-256 of each invite code is stored: the code is shown once, to its creator. id is the short public id.
export interface InvitesTable {
  id: string;
  code_hash: string;
  created_by: number;
  /** The creator's name when the invite was made, for the list and the "joined" notice. */
  creator_name: string;
  created_at: number;
  /** null: unlimited. */
  max_uses: number | null;
  uses: Generated<number>;
  expires_at: number | null;
  revoked_at: number | null;
  note: string | null;
}

export interface InviteUsesTable {
  invite_id: string;
  user_id: number;
  used_at: number;
}

export interface PendingInvitesTable {
  user_id: number;
  invite_id: string;
  created_at: number;
}

export interface InviteDraftsTable {
  admin_id: number;
  nonce: string;
  note: string | null;
  created_at: number;
}

export type Invite = Selectable<InvitesTable>;

// With REQUIRE_APPROVAL_PER_DEVICE=on a new device waits for an admin.
export type DeviceRequestStatus = 'pending' | 'approved' | 'rejected';

export interface DeviceRequestsTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  status: DeviceRequestStatus;
  created_at: number;
  decided_by: number | null;
}

export interface DeviceRequestMessagesTable {
  request_id: number;
  chat_id: number;
  message_id: number;
}

export type DeviceRequest = Selectable<DeviceRequestsTable>;
