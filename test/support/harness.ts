import { ensureImitation, type ImitationSettings } from '../../src/use-cases/imitation.js';
import { type ImitationPreset, maxImitationBytes } from '../../src/vpn/imitation.js';
import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { AccessService } from '../../src/use-cases/access.js';
import { createLogger } from '../../src/logger.js';
import { DeviceService } from '../../src/use-cases/devices.js';
import type { BotDeps } from '../../src/bot/context.js';
import { Api } from 'grammy';
import { installApiTransformers, plainTextFallback } from '../../src/bot/api.js';
import { createBot } from '../../src/bot/create-bot.js';
import { Translator } from '../../src/bot/i18n.js';
import { GroupCommit } from '../../src/db/infra/group-commit.js';
import { type Db, migrate, openSqlite } from '../../src/db/index.js';
import { setBlocked } from '../../src/db/users.js';
import { backupSqlite } from '../../src/db/infra/backup.js';
import { Pacer, PRIORITY } from '../../src/bot/pacer.js';
import { enforceLimits } from '../../src/use-cases/limits.js';
import { REMINDER_KINDS, type ReminderKind, sendReminders } from '../../src/use-cases/reminders.js';
import { recoverInterrupted } from '../../src/use-cases/recovery.js';
import { DEFAULT_MAX_DEVICES_PER_USER } from '../../src/config.js';
import { DEFAULT_PERIOD_RULES } from '../../src/db/usage-periods.js';
import { OutboxSender } from '../../src/outbox/sender.js';
import { Inbox } from '../../src/bot/inbox.js';
import { SecretBox } from '../../src/vpn/secrets.js';
import type { VpnSettings } from '../../src/vpn/types.js';
import { Fleet, type NodeRunner } from '../../src/vpn/fleet.js';
import { type NodeRow, upsertNode } from '../../src/db/nodes.js';
import { localNodeRow } from '../../src/vpn/nodes.js';
import { createPostgresSchema, defaultTestDatabase, dropPostgresSchema, openPostgresSchema, type TestDatabase } from './database.js';
import type { TelegramState } from './bot-api-state.js';
import { FakeWg } from './fake-wg.js';
import { soleReplica } from '../../src/db/infra/locks.js';
import { BOT_INFO, Recorder, callbackUpdate, replyUpdate, textUpdate, type Call, type From } from './recorder.js';

export const ADMIN_A: From = { id: 900001, first_name: 'Alice', username: 'alice_admin', language_code: 'en' };
export const ADMIN_B: From = { id: 900002, first_name: 'Boris', username: 'boris_admin', language_code: 'ru' };

export interface HarnessOptions {
  /** Reuse the state (database, config dir) and interface of an earlier harness: a restart. */
  restartOf?: { dir: string; wg: FakeWg; wgs?: Map<string, FakeWg>; telegram?: TelegramState };
  /** More VPN nodes beside awg0, each with its own in-memory interface (named after the node). */
  nodes?: { name: string; subnet?: string; state?: 'draining' }[];
  nodeChoice?: 'auto' | 'user';
  captcha?: boolean;
  removeUnknown?: boolean;
  secretsKey?: Buffer;
  /** Talk HTTP to a Bot API server at this root instead of the in-process recorder. */
  apiRoot?: string;
  subnet?: string;
  flavor?: VpnSettings['flavor'];
  /** AmneziaWG protocol (default 1); with 2 the deployment sends imitation packets (this preset, default dns). */
  awgProtocol?: 1 | 2;
  imitate?: ImitationPreset;
  /** Default: env TEST_DATABASE, else sqlite. postgres: a fresh schema in TEST_POSTGRES_URL, dropped on close. */
  database?: TestDatabase;
  /** The default node's interface: real commands (test/support/lab-runner.ts) instead of the in-memory FakeWg (h.wg then unused). */
  runner?: NodeRunner;
  /** Run on this existing PostgreSQL schema, as DATABASE_URL would make the bot do (e.g. after migrate-db); dropped on close. */
  postgresSchema?: string;
  /** The reminders switched on (REMINDERS); default all. */
  reminders?: readonly ReminderKind[];
}

/** A one-node Fleet over `runner`, its node row written from `settings` as startApp does for the VPN_* variables. */
export async function singleNodeFleet(db: Db, runner: NodeRunner, settings: VpnSettings, log: Logger): Promise<Fleet> {
  await upsertNode(db, localNodeRow(settings, 0));
  const { node: _n, flavor: _f, iface: _i, configDir: _c, endpoint: _e, port: _p, subnet: _s, wanInterface, postUp, postDown, ...shared } = settings;
  return new Fleet({ db, log, shared: { ...shared, local: { wanInterface, postUp, postDown } }, runnerFor: () => runner });
}

/** A bot wired to real parts (migrated SQLite file, real VpnService and renderers) and an in-memory interface. */
export async function createHarness(opts: HarnessOptions = {}) {
  const dir = opts.restartOf?.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-bot-')));
  // A PostgreSQL harness notes its schema in the state dir, so a restart (restartOf) finds it.
  const schemaFile = path.join(dir, 'pg-schema');
  let pgSchema: string | undefined = opts.postgresSchema ?? (opts.restartOf ? await fs.readFile(schemaFile, 'utf8').catch(() => undefined) : undefined);
  const kind: TestDatabase = pgSchema ? 'postgres' : opts.restartOf ? 'sqlite' : (opts.database ?? defaultTestDatabase());
  let db: Db;
  let createdSchema = false;
  if (kind === 'postgres') {
    if (pgSchema) db = openPostgresSchema(pgSchema);
    else {
      ({ schema: pgSchema, db } = await createPostgresSchema());
      createdSchema = true;
    }
    await fs.writeFile(schemaFile, pgSchema);
  } else {
    db = await openSqlite(path.join(dir, 'bot.db'));
  }
  // A harness that cannot start leaves no schema of its own behind.
  const abandon = async (e: unknown): Promise<never> => {
    await db.destroy();
    if (createdSchema) await dropPostgresSchema(pgSchema!);
    throw e;
  };
  await migrate(db).catch(abandon);
  const logs: Record<string, any>[] = [];
  const log = createLogger(
    'debug',
    new Writable({
      write(chunk, _enc, cb) {
        logs.push(JSON.parse(String(chunk)));
        cb();
      },
    }),
  );
  let clock = Date.UTC(2026, 10, 1, 12, 0, 0);
  const now = () => clock;
  const wg = opts.restartOf?.wg ?? new FakeWg();
  // The node of the VPN_* variables, as startApp stores it; more nodes (each its own FakeWg) with opts.nodes.
  const wgs = new Map<string, FakeWg>([['awg0', wg]]);
  const flavor = opts.flavor ?? 'amneziawg';
  const nodeRow = (name: string, subnet: string, state?: 'draining'): NodeRow => ({
    ...localNodeRow({ node: name, flavor, iface: name, endpoint: `${name}.vpn.example.com:51820`.replace(/^awg0\./, ''), port: 51820, subnet, configDir: path.join(dir, 'conf', name) }, now()),
    ...(state ? { state } : {}),
  });
  await upsertNode(db, { ...nodeRow('awg0', opts.subnet ?? '10.8.0.0/24'), config_dir: path.join(dir, 'conf') });
  for (const [i, n] of (opts.nodes ?? []).entries()) {
    await upsertNode(db, { ...nodeRow(n.name, n.subnet ?? `10.${20 + i}.0.0/24`, n.state), created_at: now() + 1 + i });
    if (!wgs.has(n.name)) wgs.set(n.name, opts.restartOf?.wgs?.get(n.name) ?? new FakeWg());
  }
  const vpn = new Fleet({
    db,
    log,
    shared: { dns: ['1.1.1.1', '1.0.0.1'], allowedIps: ['0.0.0.0/0'], awgProtocol: opts.awgProtocol ?? 1, removeUnknown: opts.removeUnknown ?? false, local: {} },
    runnerFor: (n) => {
      if (n.name === 'awg0' && opts.runner) return opts.runner;
      if (!wgs.has(n.name)) wgs.set(n.name, new FakeWg());
      return wgs.get(n.name)!;
    },
    now,
    secrets: opts.secretsKey ? new SecretBox(opts.secretsKey) : undefined,
  });
  await vpn.start().catch(abandon);
  const adminIds = [ADMIN_A.id, ADMIN_B.id];
  const imitation: ImitationSettings = { enabled: flavor === 'amneziawg' && opts.awgProtocol === 2, preset: opts.imitate ?? 'dns', overrides: null, maxBytes: maxImitationBytes(undefined) };
  await ensureImitation(db, imitation, now());
  const deps: BotDeps = {
    imitation,
    db,
    groupCommit: new GroupCommit(db),
    fleet: vpn,
    access: new AccessService(db, vpn, log, now, { adminIds }),
    devices: new DeviceService(db, vpn, log, now),
    translator: new Translator(),
    log,
    adminIds,
    captcha: opts.captcha ?? true,
    maxPending: 500,
    maxDevicesPerUser: DEFAULT_MAX_DEVICES_PER_USER,
    periods: DEFAULT_PERIOD_RULES,
    backup: async () => (kind === 'postgres' ? null : { file: await backupSqlite(path.join(dir, 'bot.db'), path.join(dir, 'backups'), now()), keysEncrypted: opts.secretsKey !== undefined }),
    now,
    randomInt: (max) => randomInt(max),
    nodeChoice: opts.nodeChoice ?? 'auto',
    nodeDefaults: { flavor, sshKeyFile: path.join(dir, 'ssh', 'id_ed25519') },
  };
  const token = opts.apiRoot ? '424242:http-test' : '123:TEST';
  const bot = createBot(token, deps, opts.apiRoot ? { client: { apiRoot: opts.apiRoot } } : { botInfo: BOT_INFO });
  // Telegram outlives a restart of the bot: the chats, and who wrote to the bot, carry over.
  const rec = new Recorder(opts.restartOf?.telegram);
  // The admins started the bot before the test began.
  for (const admin of [ADMIN_A, ADMIN_B]) rec.state.knowUser(admin);
  if (!opts.apiRoot) {
    rec.install(bot.api);
    // Every update the bot handles in-process came through Telegram, which notes who wrote and which callback queries await an answer.
    const handleUpdate = bot.handleUpdate.bind(bot);
    bot.handleUpdate = (update, webhookReplyEnvelope) => {
      rec.noteUpdate(update);
      return handleUpdate(update, webhookReplyEnvelope);
    };
  }
  // Over HTTP (a Bot API stand-in that enforces Telegram's limits) everything is paced as in
  // production; in-process, nothing waits.
  const pacer = opts.apiRoot ? Pacer.forTelegram() : new Pacer({ perSecond: 1e9, chatGapMs: 0 });
  installApiTransformers(bot.api, { log, onBlocked: (chatId) => setBlocked(db, chatId, now()), ...(opts.apiRoot ? { pacing: { pacer, priorityOf: () => PRIORITY.member } } : {}) });
  await bot.init();
  // The outbox as the leader sends it, through the same recorder, with a pace that never waits:
  // every update below is followed by drain(), so its messages are there when the call returns.
  // Its own API, as in app.ts: no retries of its own, only the plain-text fallback.
  const outboxApi = new Api(token, opts.apiRoot ? { apiRoot: opts.apiRoot } : {});
  if (!opts.apiRoot) rec.install(outboxApi);
  outboxApi.config.use(plainTextFallback(log));
  const outbox = new OutboxSender({ db, api: outboxApi, pacer, adminIds, translator: deps.translator, fleet: vpn, now, log });
  const handle = async (update: Parameters<typeof bot.handleUpdate>[0]) => {
    await bot.handleUpdate(update);
    await outbox.drain();
  };

  const h = {
    dir,
    /** 'postgres': the bot's tables live in schema pgSchema. */
    database: kind,
    pgSchema,
    db,
    wg,
    /** Every node's interface by node name (the default node is awg0). */
    wgs,
    fleet: vpn,
    deps,
    bot,
    rec,
    logs,
    advance(ms: number) {
      clock += ms;
    },
    outbox,
    /** The pace every sender of this bot shares (unlimited in-process). */
    pacer,
    /** Handles an update as the bot does, then sends what it queued in the outbox. */
    handle,
    /** Long polling into a queue that handles each update as handle() does (for a harness over HTTP). */
    poll() {
      return new Inbox({ db, replica: soleReplica(), handle, priorityOf: () => PRIORITY.member, log, now: Date.now }).poll(bot.api);
    },
    /** Sends what is queued in the outbox (after a monitor tick, a recovery, …). */
    drain: () => outbox.drain(),
    send: (from: From, text: string) => handle(textUpdate(from, text)),
    press: (from: From, data: string, onMessage?: Call) =>
      handle(callbackUpdate(from, data, onMessage ? { chatId: onMessage.payload.chat_id, messageId: messageIdOf(h.rec, onMessage) } : undefined)),
    /** Answers one of the bot's prompts with a reply, as a person does. */
    replyTo: (from: From, prompt: Call, text: string) => handle(replyUpdate(from, prompt, bot.botInfo.id, text)),
    /** What the leader does at start: interrupted approvals finished, unqueued configs queued, cut-off messages reported; then sent. */
    async recover() {
      await outbox.recover();
      await recoverInterrupted(deps);
      await outbox.drain();
    },
    /** The monitor's quota and expiry step and its reminders at `t`, as the leader runs them, then their messages sent. */
    async enforceLimits(t = now()) {
      await enforceLimits({ db, access: deps.access }, t);
      await sendReminders({ db, adminIds, enabled: new Set(opts.reminders ?? REMINDER_KINDS) }, t);
      await outbox.drain();
    },
    /** Passes the CAPTCHA the way a person does: reads the sum and taps the button with the answer. */
    async solveCaptcha(from: From) {
      const q = captchaCall(h.rec, from.id);
      const [, a, b] = /<b>(\d+) \+ (\d+)<\/b>/.exec(q.payload.text as string)!;
      const answer = String(Number(a) + Number(b));
      const button = (q.payload.reply_markup.inline_keyboard.flat() as { text: string; callback_data: string }[]).find((x) => x.text === answer)!;
      await h.press(from, button.callback_data, q);
    },
    async close() {
      await vpn.close();
      await db.destroy();
      if (pgSchema) await dropPostgresSchema(pgSchema);
      await fs.rm(dir, { recursive: true, force: true });
      const problems = rec.problems();
      if (problems.length) throw new Error(`Telegram would have refused:\n${problems.join('\n')}`);
    },
    /** Everything the database holds, as text: the SQLite files' bytes, or every row of the schema (PostgreSQL). */
    async storedText(): Promise<string> {
      if (kind === 'sqlite') {
        const files = (await fs.readdir(dir)).filter((f) => f.startsWith('bot.db'));
        return (await Promise.all(files.map((f) => fs.readFile(path.join(dir, f), 'latin1')))).join('');
      }
      const tables = await sql<{ t: string }>`select table_name as t from information_schema.tables where table_schema = current_schema()`.execute(db);
      const rows = await Promise.all(tables.rows.map(({ t }) => sql<{ r: string }>`select x::text as r from ${sql.table(t)} x`.execute(db)));
      return rows.flatMap((r) => r.rows.map((x) => x.r)).join('\n');
    },
    /** Closes the database but keeps the files, as a killed process would. */
    async crash() {
      await db.destroy();
    },
  };
  return h;
}

export type Harness = Awaited<ReturnType<typeof createHarness>>;

/** The most recent message (sent or edited) to this chat that carries CAPTCHA buttons. */
export function captchaCall(rec: Recorder, chatId: number): Call {
  const c = rec.calls.filter(
    (x) => (x.method === 'sendMessage' || x.method === 'editMessageText') && x.payload.chat_id === chatId && JSON.stringify(x.payload.reply_markup ?? '').includes('"cap:'),
  );
  if (!c.length) throw new Error('no CAPTCHA was sent');
  return c.at(-1)!;
}

/** message_id of the message a call produced or edited. */
export function messageIdOf(_rec: Recorder, call: Call): number {
  return call.result?.message_id ?? call.payload.message_id;
}
