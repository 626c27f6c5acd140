import type { PeriodRules } from '../db/usage-periods.js';
import type { ImitationSettings } from '../use-cases/imitation.js';
import type { Context } from 'grammy';
import type { Logger } from 'pino';
import type { AccessService } from '../use-cases/access.js';
import type { DeviceService } from '../use-cases/devices.js';
import type { Broadcaster } from '../broadcast/broadcaster.js';
import type { GroupCommit } from '../db/infra/group-commit.js';
import type { Db } from '../db/index.js';
import type { User } from '../db/schema.js';
import type { Metrics } from '../metrics.js';
import type { Fleet } from '../vpn/fleet.js';
import type { NodeDefaults } from '../vpn/nodes.js';
import type { Speed } from '../vpn/types.js';
import type { Audience } from './audience.js';
import type { Params, Translator } from './i18n.js';

export interface BotDeps {
  db: Db;
  /** Writes of many updates at once share one commit (GroupCommit over `db`). */
  groupCommit: GroupCommit;
  fleet: Fleet;
  access: AccessService;
  devices: DeviceService;
  translator: Translator;
  log: Logger;
  adminIds: number[];
  captcha: boolean;
  now: () => number;
  /**
   * Writes a consistent snapshot of the database: its path, and whether the keys in it are
   * encrypted (SECRETS_KEY); null when the database is PostgreSQL (backed up with pg_dump).
   */
  backup: () => Promise<{ file: string; keysEncrypted: boolean } | null>;
  metrics?: Metrics;
  /** A peer counts as online when its latest handshake is this recent. */
  onlineWindowMs?: number;
  /** Uniform integer in [0, max); injectable so tests can make CAPTCHAs predictable. */
  randomInt: (max: number) => number;
  /** Devices per user unless the user has a limit of their own (MAX_DEVICES_PER_USER). */
  maxDevicesPerUser: number;
  /** DEFAULT_SPEED_MBIT (kbit/s per direction), shown on the card for users without their own; unset: unlimited. */
  defaultSpeed?: Speed | undefined;
  /** Requests that may wait at once; past it newcomers are asked to come back later. */
  maxPending: number;
  /** true: users cannot add devices themselves; they are told to ask an admin. */
  requireApprovalPerDevice?: boolean;
  /** user: newcomers choose a location (NODE_CHOICE); auto (default): the least loaded node. */
  nodeChoice?: 'auto' | 'user';
  /** Defaults for nodes added with /nodes add. */
  nodeDefaults?: NodeDefaults;
  /** Sends admin broadcasts; without it /broadcast says broadcasts are unavailable. */
  broadcasts?: Broadcaster;
  /** Who is a member, for the order of handling and sending under load; noted from each update. */
  audience?: Audience;
  /** QUOTA_RESET_DAY and DEFAULT_RESET_PLAN, for the periods shown and a plan's change. */
  periods: PeriodRules;
  /** AmneziaWG imitation packets; /admin offers them only when enabled. */
  imitation?: ImitationSettings;
}

export interface BotFlavor {
  deps: BotDeps;
  locale: string;
  /** Translate in the current user's locale; parameters are HTML-escaped. */
  tr: (key: string, params?: Params) => string;
  isAdmin: boolean;
  /** The chat's user as stored when this update arrived (read with the chat's language); undefined for a newcomer or outside private chats. Read again after changing it. */
  userAtStart?: User;
}

export type BotContext = Context & BotFlavor;
