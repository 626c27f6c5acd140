import path from 'node:path';
import { z } from 'zod';
import { REMINDER_KINDS, type ReminderKind } from './use-cases/reminders.js';
import { IMITATION_KEYS, IMITATION_PRESETS, type ImitationValues, imitationProblem, maxImitationBytes } from './vpn/imitation.js';
import { HOST_RE, IFACE_RE, isIpv4, isIpv4Cidr, NODE_NAME_RE } from './vpn/patterns.js';
import { RESET_PLANS } from './db/usage-periods.js';
import { parseSecretsKey } from './vpn/secrets.js';
import { parseSpeedMbit } from './vpn/shaper.js';

/** Devices per user unless an admin set the user's own limit. */
export const DEFAULT_MAX_DEVICES_PER_USER = 3;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

function isCidr(s: string): boolean {
  if (isIpv4Cidr(s)) return true;
  const [ip, prefix, ...rest] = s.split('/');
  return rest.length === 0 && !!ip && ip.includes(':') && /^[0-9a-fA-F:]+$/.test(ip) && !!prefix && /^\d{1,3}$/.test(prefix) && Number(prefix) <= 128;
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

const schema = z.object({
  BOT_TOKEN: z.string({ error: 'is required' }).trim().regex(/^\d+:[A-Za-z0-9_-]+$/, 'must look like 123456:ABC-DEF…'),
  ADMIN_IDS: z
    .string({ error: 'is required' })
    .transform(list)
    .pipe(z.array(z.string().regex(/^\d{1,20}$/, 'each id must be a numeric Telegram user id').transform(Number)).min(1, 'needs at least one id')),
  TELEGRAM_API_ROOT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('https://api.telegram.org'),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/i, 'must be sqlite:<path> or postgres://user:password@host:port/db')
    .optional(),
  PG_CONNECT_TIMEOUT_SECONDS: int(1, 600).default(10),
  PG_STATEMENT_TIMEOUT_SECONDS: int(1, 86400).default(30),
  VPN_FLAVOR: z.enum(['amneziawg', 'wireguard'], { error: 'must be amneziawg or wireguard' }).default('amneziawg'),
  VPN_INTERFACE: z.string().trim().regex(IFACE_RE, 'must be 1-15 characters of a-z A-Z 0-9 _ = + . -').optional(),
  VPN_CONFIG_DIR: z.string().trim().min(1).optional(),
  VPN_ENDPOINT: z.string().trim().regex(HOST_RE, 'must be host or host:port').optional(),
  VPN_LOCAL: z.enum(['on', 'off'], { error: 'must be on or off' }).default('on'),
  VPN_NODE_NAME: z.string().trim().regex(NODE_NAME_RE, 'must be 1-32 characters of a-z A-Z 0-9 _ = + . -').optional(),
  VPN_LOCATION: z.string().trim().min(1).max(64).optional(),
  NODES_FILE: z.string().trim().min(1).optional(),
  NODE_CHOICE: z.enum(['auto', 'user'], { error: 'must be auto or user' }).default('auto'),
  SSH_KEY_FILE: z.string().trim().min(1).optional(),
  VPN_PORT: int(1, 65535).default(51820),
  VPN_SUBNET: z
    .string()
    .trim()
    .refine((s) => isIpv4Cidr(s, 30), 'must be an IPv4 CIDR like 10.8.0.0/24 (prefix ≤ 30)')
    .default('10.8.0.0/24'),
  VPN_DNS: z
    .string()
    .transform(list)
    .pipe(z.array(z.string().refine((s) => isIpv4(s) || /^[0-9a-fA-F:]+$/.test(s), 'each DNS server must be an IP address')))
    .default(['1.1.1.1', '1.0.0.1']),
  VPN_ALLOWED_IPS: z
    .string()
    .transform(list)
    .pipe(z.array(z.string().refine(isCidr, 'each entry must be a CIDR like 0.0.0.0/0')).min(1))
    .default(['0.0.0.0/0']),
  VPN_MTU: int(576, 9000).optional(),
  VPN_NAT: z.enum(['on', 'off'], { error: 'must be on or off' }).default('on'),
  VPN_WAN_INTERFACE: z.string().trim().regex(IFACE_RE, 'must be a network interface name like eth0').optional(),
  VPN_POST_UP: z.string().regex(/^[^\r\n]+$/, 'must be one line').optional(),
  VPN_POST_DOWN: z.string().regex(/^[^\r\n]+$/, 'must be one line').optional(),
  BOT_MODE: z.enum(['polling', 'webhook'], { error: 'must be polling or webhook' }).default('polling'),
  WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  WEBHOOK_SECRET: z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, 'must be 16-256 characters of A-Z a-z 0-9 _ -').optional(),
  WEBHOOK_PORT: int(1, 65535).default(8080),
  HTTP_HOST: z.string().trim().min(1).default('127.0.0.1'),
  METRICS_TOKEN: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._~+/-]{16,256}=*$/, 'must be 16-256 characters of A-Z a-z 0-9 . _ ~ + / - (openssl rand -hex 32)')
    .optional(),
  AWG_PROTOCOL: z.enum(['1', '2'], { error: 'must be 1 or 2' }).transform(Number).pipe(z.union([z.literal(1), z.literal(2)])).default(1),
  AWG_IMITATE: z.enum(IMITATION_PRESETS, { error: `must be one of ${IMITATION_PRESETS.join(', ')}` }).optional(),
  AWG_I1: z.string().optional(),
  AWG_I2: z.string().optional(),
  AWG_I3: z.string().optional(),
  AWG_I4: z.string().optional(),
  AWG_I5: z.string().optional(),
  CAPTCHA: z.enum(['on', 'off'], { error: 'must be on or off' }).default('on'),
  RECONCILE_REMOVE_UNKNOWN: z.enum(['on', 'off'], { error: 'must be on or off' }).default('off'),
  MONITOR_INTERVAL_SECONDS: int(1, 86400).default(60),
  ONLINE_WINDOW_SECONDS: int(30, 86400).default(180),
  SHARING_ACTION: z.enum(['alert', 'disable'], { error: 'must be alert or disable' }).default('alert'),
  SHARING_WINDOW_MINUTES: int(1, 10080).default(30),
  DEFAULT_QUOTA_GB: z.string().trim().regex(/^\d+(\.\d+)?$/, 'must be a number of GB').transform(Number).pipe(z.number().positive()).optional(),
  DEFAULT_DAYS: int(1, 36500).optional(),
  QUOTA_RESET_DAY: int(1, 28).default(1),
  DEFAULT_RESET_PLAN: z.enum(RESET_PLANS, { error: `must be one of ${RESET_PLANS.join(', ')}` }).default('month'),
  DEFAULT_DAYS_FROM: z.enum(['approval', 'first_handshake'], { error: 'must be approval or first_handshake' }).default('approval'),
  USAGE_SUMMARY: z.enum(['on', 'off'], { error: 'must be on or off' }).default('off'),
  REMINDERS: z
    .string()
    .transform(list)
    .pipe(z.array(z.enum([...REMINDER_KINDS, 'none'], { error: `each entry must be one of ${[...REMINDER_KINDS, 'none'].join(', ')}` })))
    .refine((l) => !l.includes('none') || l.length === 1, 'none cannot be combined with other entries')
    .default([...REMINDER_KINDS]),
  MAX_DEVICES_PER_USER: int(1, 100).default(DEFAULT_MAX_DEVICES_PER_USER),
  DEFAULT_SPEED_MBIT: z
    .string()
    .trim()
    .refine((s) => parseSpeedMbit(s) !== null, 'must be Mbit/s for both ways (20) or down/up (20/5); 0 = unlimited')
    .transform((s) => parseSpeedMbit(s)!)
    .optional(),
  MAX_PENDING: int(1, 1_000_000).default(500),
  REQUIRE_APPROVAL_PER_DEVICE: z.enum(['on', 'off'], { error: 'must be on or off' }).default('off'),
  BACKUP_INTERVAL_HOURS: int(0, 8760).default(24),
  BACKUP_KEEP: int(1, 1000).default(7),
  SECRETS_KEY: z
    .string()
    .trim()
    .refine((s) => parseSecretsKey(s) !== null, 'must be 32 bytes as base64 (openssl rand -base64 32) or 64 hex digits')
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

/** Every variable the bot reads (README and .env.example must document each). */
export const CONFIG_VARIABLES = Object.keys(schema.shape);

export type Config = ReturnType<typeof loadConfig>;

/** Parses the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>) {
  // Empty strings in .env mean "not set", so defaults apply.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = schema.safeParse(cleaned);
  const secret = new Set(['BOT_TOKEN', 'SECRETS_KEY', 'WEBHOOK_SECRET', 'METRICS_TOKEN']);
  const problems = (parsed.success ? [] : parsed.error.issues).map((i) => {
    const key = String(i.path[0] ?? '?');
    const got = cleaned[key];
    const shown = got === undefined ? 'missing' : secret.has(key) ? 'given' : JSON.stringify(got);
    return `${key}: ${i.message} (${shown})`;
  });
  // Checked on the raw values so they are reported together with everything else.
  if (cleaned.BOT_MODE === 'webhook') {
    for (const key of ['WEBHOOK_URL', 'WEBHOOK_SECRET']) {
      if (!cleaned[key]) problems.push(`${key}: is required when BOT_MODE=webhook (missing)`);
    }
  }
  if (cleaned.VPN_LOCAL !== 'off' && !cleaned.VPN_ENDPOINT) problems.push('VPN_ENDPOINT: is required (missing)');
  if (cleaned.VPN_LOCAL === 'off' && !cleaned.NODES_FILE) problems.push('NODES_FILE: is required when VPN_LOCAL=off: the bot needs at least one VPN node (missing)');
  problems.push(...imitationProblems(cleaned));
  if (!parsed.success || problems.length) throw new ConfigError([...new Set(problems)]);
  const e = parsed.data;
  const overrides: ImitationValues = {};
  for (const k of IMITATION_KEYS) {
    const v = cleaned[`AWG_${k.toUpperCase()}`]?.trim();
    if (v) overrides[k] = v;
  }
  const wireguard = e.VPN_FLAVOR === 'wireguard';
  const dataDir = path.resolve(e.DATA_DIR);
  const iface = e.VPN_INTERFACE ?? (wireguard ? 'wg0' : 'awg0');
  const pgUrl = e.DATABASE_URL && /^postgres(ql)?:\/\//i.test(e.DATABASE_URL) ? e.DATABASE_URL : undefined;
  const sqliteUrl = pgUrl ? undefined : e.DATABASE_URL;
  const endpoint = e.VPN_ENDPOINT ?? '';
  const endpointHasPort = /:\d{1,5}$/.test(endpoint) && (!endpoint.includes('[') || endpoint.includes(']:'));
  return {
    botToken: e.BOT_TOKEN,
    adminIds: e.ADMIN_IDS,
    telegramApiRoot: e.TELEGRAM_API_ROOT.replace(/\/+$/, ''),
    dataDir,
    // SQLite file (also the default); unused when database.kind is 'postgres'.
    databasePath: sqliteUrl ? path.resolve(sqliteUrl.slice('sqlite:'.length)) : path.join(dataDir, 'bot.db'),
    database: pgUrl
      ? ({ kind: 'postgres', url: pgUrl, connectTimeoutMs: e.PG_CONNECT_TIMEOUT_SECONDS * 1000, statementTimeoutMs: e.PG_STATEMENT_TIMEOUT_SECONDS * 1000 } as const)
      : ({ kind: 'sqlite', path: sqliteUrl ? path.resolve(sqliteUrl.slice('sqlite:'.length)) : path.join(dataDir, 'bot.db') } as const),
    captcha: e.CAPTCHA === 'on',
    secretsKey: e.SECRETS_KEY ? parseSecretsKey(e.SECRETS_KEY) : null,
    monitorIntervalMs: e.MONITOR_INTERVAL_SECONDS * 1000,
    onlineWindowMs: e.ONLINE_WINDOW_SECONDS * 1000,
    sharing: { action: e.SHARING_ACTION, windowMs: e.SHARING_WINDOW_MINUTES * 60_000 },
    maxDevicesPerUser: e.MAX_DEVICES_PER_USER,
    maxPending: e.MAX_PENDING,
    requireApprovalPerDevice: e.REQUIRE_APPROVAL_PER_DEVICE === 'on',
    limits: {
      defaultQuotaBytes: e.DEFAULT_QUOTA_GB === undefined ? undefined : Math.round(e.DEFAULT_QUOTA_GB * 1024 ** 3),
      defaultDays: e.DEFAULT_DAYS,
      resetDay: e.QUOTA_RESET_DAY,
      defaultPlan: e.DEFAULT_RESET_PLAN,
      /** first_handshake: DEFAULT_DAYS count from the user's first connection, not from the approval. */
      daysFromFirstHandshake: e.DEFAULT_DAYS_FROM === 'first_handshake',
      usageSummary: e.USAGE_SUMMARY === 'on',
    },
    /** The reminders switched on (REMINDERS; none: an empty set). */
    reminders: new Set(e.REMINDERS.filter((k): k is ReminderKind => k !== 'none')) as ReadonlySet<ReminderKind>,
    backups: { dir: path.join(dataDir, 'backups'), intervalMs: e.BACKUP_INTERVAL_HOURS * 3_600_000, keep: e.BACKUP_KEEP },
    logLevel: e.LOG_LEVEL,
    http: {
      host: e.HTTP_HOST,
      port: e.WEBHOOK_PORT,
      webhook: e.BOT_MODE === 'webhook' ? { url: e.WEBHOOK_URL!, secret: e.WEBHOOK_SECRET! } : null,
      /** /healthz and /metrics ask for it as a bearer token; null: they are open. */
      metricsToken: e.METRICS_TOKEN ?? null,
    },
    nodes: {
      file: e.NODES_FILE ? path.resolve(e.NODES_FILE) : null,
      choice: e.NODE_CHOICE,
      sshKeyFile: path.resolve(e.SSH_KEY_FILE ?? path.join(dataDir, 'ssh', 'id_ed25519')),
    },
    vpn: {
      /** off: this host runs no VPN node; every node comes from NODES_FILE or /nodes. */
      local: e.VPN_LOCAL === 'on',
      node: e.VPN_NODE_NAME ?? iface,
      location: e.VPN_LOCATION ?? e.VPN_NODE_NAME ?? iface,
      flavor: e.VPN_FLAVOR,
      iface,
      configDir: path.resolve(e.VPN_CONFIG_DIR ?? (wireguard ? '/etc/wireguard' : '/etc/amnezia/amneziawg')),
      endpoint: endpointHasPort ? endpoint : `${endpoint}:${e.VPN_PORT}`,
      port: e.VPN_PORT,
      subnet: e.VPN_SUBNET,
      dns: e.VPN_DNS,
      allowedIps: e.VPN_ALLOWED_IPS,
      mtu: e.VPN_MTU,
      awgProtocol: e.AWG_PROTOCOL,
      imitation: {
        /** Chosen at first start; /admin switches it afterwards. */
        preset: e.AWG_IMITATE ?? (!wireguard && e.AWG_PROTOCOL === 2 ? 'dns' : 'off'),
        /** AWG_I1…AWG_I5: they win over the preset at every start; null when none is set. */
        overrides: Object.keys(overrides).length > 0 ? overrides : null,
        maxBytes: maxImitationBytes(e.VPN_MTU),
      },
      removeUnknown: e.RECONCILE_REMOVE_UNKNOWN === 'on',
      /** Users without their own speed get this (kbit/s per direction); unset: unlimited. */
      defaultSpeed: e.DEFAULT_SPEED_MBIT,
      nat: e.VPN_NAT === 'on',
      wanInterface: e.VPN_WAN_INTERFACE,
      postUp: e.VPN_POST_UP,
      postDown: e.VPN_POST_DOWN,
    },
  };
}

/** AWG_IMITATE and AWG_I1…AWG_I5 against the flavor, the protocol, amneziawg-go's tag grammar and the MTU. */
function imitationProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const wireguard = env.VPN_FLAVOR === 'wireguard';
  const protocol1 = (env.AWG_PROTOCOL ?? '1') === '1';
  const mtu = env.VPN_MTU && /^\d+$/.test(env.VPN_MTU.trim()) ? Number(env.VPN_MTU) : undefined;
  const needs = wireguard ? 'needs VPN_FLAVOR=amneziawg' : protocol1 ? 'needs AWG_PROTOCOL=2 (protocol 1 clients have no imitation packets)' : null;
  if (env.AWG_IMITATE && env.AWG_IMITATE !== 'off' && needs) problems.push(`AWG_IMITATE: ${needs} (${JSON.stringify(env.AWG_IMITATE)})`);
  for (const k of IMITATION_KEYS) {
    const key = `AWG_${k.toUpperCase()}`;
    const value = env[key]?.trim();
    if (!value) continue;
    const problem = needs ?? imitationProblem(value, maxImitationBytes(mtu));
    if (problem) problems.push(`${key}: ${problem} (${JSON.stringify(value.slice(0, 80))})`);
  }
  return problems;
}
