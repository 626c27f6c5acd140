import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run as runCommand } from '../test/support/netns.js';
import { BotApiStandIn, type RecordedCall } from '../test/support/bot-api.js';
import { ADMIN_ID, type Lab, livePeers, seedUsers } from './lab.js';
import { fmtMs, fmtRatio, halfTheBareRate, quantile, RSS_LIMIT_MB, type Row, STARTUP_LIMIT_MS } from './stats.js';

// 3. Throughput: new users send /start (CAPTCHA on) through Bot API stand-ins on this
// namespace's loopback (real HTTP, long polling); the bot runs as its own process on a database
// that already holds `dbUsers` active users with peers. Beside it the bare grammY bot. Peak RSS
// is VmHWM of the bot process as shipped (`node dist/main.js`).
// 4. Startup: `node dist/main.js` on a database of `peers` peers, until all are live.

const ROOT = path.resolve(import.meta.dirname, '..');
const TOKEN = '424242:bench-token';

export interface BotProcess {
  child: ChildProcess;
  startedAt: number;
  /** Log lines (pino JSON) seen so far. */
  lines: Record<string, unknown>[];
  /** The first log line with this msg (waits for it). */
  line(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

type Kind = 'shipped' | 'unthrottled' | 'bare';

/** The node options `npm start` runs the bot with (package.json), so "as shipped" stays true; every bot here gets them. */
export function shippedNodeOptions(startScript: string): string[] {
  const m = /\bnode((?:\s+--[\w-]+(?:=\S+)?)*)\s+dist\/main\.js\b/.exec(startScript);
  if (!m) throw new Error(`package.json start does not run node … dist/main.js: ${startScript}`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

const NODE_OPTIONS = shippedNodeOptions((JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start);

function argvFor(kind: Kind, profileDir: string | null): string[] {
  const flags = [...NODE_OPTIONS, ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [])];
  if (kind === 'shipped') return [...flags, path.join(ROOT, 'dist/main.js')];
  return ['--import', 'tsx', ...flags, path.join(ROOT, 'bench', kind === 'bare' ? 'bare-bot.ts' : 'bot-process.ts')];
}

export function startBotProcess(kind: Kind, env: NodeJS.ProcessEnv, profileDir: string | null): BotProcess {
  const startedAt = Date.now();
  const child = spawn(process.execPath, argvFor(kind, profileDir), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  let buf = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* not a log line */
      }
    }
    waiters.splice(0).forEach((w) => w());
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve(), waiters.splice(0).forEach((w) => w()))));
  return {
    child,
    startedAt,
    lines,
    async line(msg, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find((l) => l.msg === msg);
        if (found) return found;
        if (exited || Date.now() > deadline) throw new Error(`${kind} bot: no "${msg}" log line (${exited ? 'it exited' : 'timed out'}):\n${stderr}\n${JSON.stringify(lines.slice(-5))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 1000);
        });
      }
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(killer);
    },
  };
}

/** CPU time (user + system) a process has used so far, in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
export function cpuMsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Peak and current RSS of a process, in MB (VmHWM / VmRSS). */
export function rssOf(pid: number): { peak: number; now: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

/** The environment of a bot on its own interface and database (polling, CAPTCHA on). */
export function botProcessEnv(lab: Lab, apiRoot: string, name: string, who: { token: string; adminIds: number[] } = { token: TOKEN, adminIds: [ADMIN_ID] }) {
  const s = lab.settings();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ENV_FILE: lab.path('no.env'),
    WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1',
    BOT_TOKEN: who.token,
    ADMIN_IDS: who.adminIds.join(','),
    TELEGRAM_API_ROOT: apiRoot,
    DATA_DIR: lab.path(`data-${name}`),
    VPN_FLAVOR: 'wireguard',
    VPN_INTERFACE: s.iface,
    VPN_CONFIG_DIR: s.configDir,
    VPN_ENDPOINT: s.endpoint,
    VPN_SUBNET: s.subnet,
    VPN_NAT: 'off',
    CAPTCHA: 'on',
    // Bursts of thousands of newcomers are the point here, not the queue's cap.
    MAX_PENDING: '1000000',
    BACKUP_INTERVAL_HOURS: '0',
    MONITOR_INTERVAL_SECONDS: '60',
    WEBHOOK_PORT: String(s.port + 1000),
    LOG_LEVEL: 'info',
  };
  return { env, settings: s };
}

/** A database for a bot process: `users` active users, each with a peer on the bot's node. */
async function botDatabase(lab: Lab, name: string, settings: ReturnType<typeof botProcessEnv>['settings'], users: number): Promise<void> {
  const db = await lab.db(`${name}/bot`);
  await seedUsers(db, { count: users, firstId: 1, peersOn: settings });
  await db.destroy();
}

let nextUser = 10_000_000;

export interface NewcomersRound {
  /** From the first /start until the last answer, ms. */
  ms: number;
  /** Newcomers still without an answer when `timeoutMs` ran out. */
  unanswered: number;
  /** Bot API calls refused meanwhile (429s past Telegram's limits, among others). */
  refused: RecordedCall[];
}

/** `count` new users send /start at once; until each got its answer, or `timeoutMs` ran out. */
export async function newcomersRound(api: BotApiStandIn, count: number, timeoutMs: number): Promise<NewcomersRound> {
  const users = Array.from({ length: count }, () => nextUser++);
  const waiting = new Set(users);
  const since = api.mark();
  let last = 0;
  const answered = api.waitFor((c) => c.method === 'sendMessage' && c.ok === true && waiting.delete(c.params.chat_id as number) && ((last = performance.now()), waiting.size === 0), timeoutMs, since);
  const t0 = performance.now();
  for (const id of users) api.sendText({ id, first_name: `Newcomer ${id}`, language_code: 'en' }, '/start');
  await answered.catch(() => undefined);
  return { ms: last - t0, unanswered: waiting.size, refused: api.calls.slice(since).filter((c) => c.ok === false) };
}

/** Updates per second of a round in which every newcomer got an answer and no call was refused. */
async function startRound(api: BotApiStandIn, count: number, timeoutMs: number): Promise<number> {
  const r = await newcomersRound(api, count, timeoutMs);
  if (r.unanswered) throw new Error(`${r.unanswered} of ${count} newcomers got no answer within ${timeoutMs} ms`);
  if (r.refused.length) throw new Error(`${r.refused.length} Bot API calls failed, e.g. ${JSON.stringify(r.refused[0]?.error)}`);
  return (count / r.ms) * 1000;
}

export interface ThroughputResult {
  users: number;
  dbUsers: number;
  rounds: number;
  bare: number;
  bot: number;
  /** CPU time (user + system) of each process per update over its rounds, ms. */
  cpuPerUpdate: { bare: number; bot: number };
  shipped: number;
  /** VmHWM of the shipped bot process, MB, and its RSS at the end. */
  peakRss: number;
  endRss: number;
  captcha: boolean;
}

/**
 * The bare bot and the bot (throttle off) run side by side, each on its own stand-in, warmed up,
 * and take their rounds in turn, so a change of load on this shared machine hits both alike.
 * Then the bot as shipped (`node dist/main.js`, throttle on) takes one round: its rate and its
 * peak RSS, with one monitor tick over every peer inside the burst (interval 30 s).
 */
export async function throughput(lab: Lab, o: { users: number; dbUsers: number; rounds: number; profileDir: string | null }): Promise<ThroughputResult> {
  // Raw update handling with the reply throttle off: no flood limits, and the newcomers may be
  // answered without the stand-in tracking who wrote first (pacing is not what is measured here).
  const unpaced = { token: TOKEN, rateLimit: false, requireStartedChat: false } as const;
  const apis = { bare: new BotApiStandIn(unpaced), bot: new BotApiStandIn(unpaced) };
  await apis.bare.listen();
  await apis.bot.listen();
  const { env, settings } = botProcessEnv(lab, apis.bot.apiRoot, 'throughput');
  await botDatabase(lab, 'data-throughput', settings, o.dbUsers);
  const timeout = Math.max(60_000, o.users * 100);
  try {
    const bare = startBotProcess('bare', { ...env, TELEGRAM_API_ROOT: apis.bare.apiRoot }, o.profileDir);
    const bot = startBotProcess('unthrottled', env, o.profileDir);
    const rates = { bare: [] as number[], bot: [] as number[] };
    const cpu = { bare: 0, bot: 0 };
    const standIn = { bare: 0, bot: 0 };
    const round = async (kind: 'bare' | 'bot') => {
      const pid = (kind === 'bare' ? bare : bot).child.pid!;
      const before = cpuMsOf(pid);
      const mine = process.cpuUsage();
      rates[kind].push(await startRound(apis[kind], o.users, timeout));
      cpu[kind] += cpuMsOf(pid) - before;
      const used = process.cpuUsage(mine);
      standIn[kind] += (used.user + used.system) / 1000;
    };
    try {
      await Promise.all([bare.line('taking updates'), bot.line('taking updates')]);
      for (const api of [apis.bare, apis.bot]) for (let i = 0; i < 2; i++) await startRound(api, o.users, timeout); // warm-up: both JITs settled
      for (let i = 0; i < o.rounds; i++) {
        await round('bare');
        await round('bot');
      }
    } finally {
      await Promise.all([bare.stop(), bot.stop()]);
    }
    const cpuPerUpdate = { bare: cpu.bare / (o.rounds * o.users), bot: cpu.bot / (o.rounds * o.users) };
    console.error(`  stand-in (this process) CPU per update: bare ${(standIn.bare / (o.rounds * o.users)).toFixed(2)} ms, bot ${(standIn.bot / (o.rounds * o.users)).toFixed(2)} ms`);
    console.error(`  /start throughput: bare ${rates.bare.map((x) => x.toFixed(0)).join(', ')}; bot ${rates.bot.map((x) => x.toFixed(0)).join(', ')} updates/s; CPU per update: bare ${cpuPerUpdate.bare.toFixed(2)} ms, bot ${cpuPerUpdate.bot.toFixed(2)} ms`);
    // The CAPTCHA really went out: a question with answer buttons.
    const last = apis.bot.calls.filter((c) => c.method === 'sendMessage').at(-1);
    const captcha = JSON.stringify(last?.params.reply_markup ?? '').includes('cap:');

    const shipped = startBotProcess('shipped', { ...env, MONITOR_INTERVAL_SECONDS: '30' }, o.profileDir);
    try {
      await shipped.line('taking updates');
      const rate = await startRound(apis.bot, o.users, timeout);
      const rss = rssOf(shipped.child.pid!);
      console.error(`  /start as shipped: ${rate.toFixed(0)} updates/s, peak RSS ${rss.peak.toFixed(0)} MB`);
      return { users: o.users, dbUsers: o.dbUsers, rounds: o.rounds, bare: quantile(rates.bare, 0.5), bot: quantile(rates.bot, 0.5), cpuPerUpdate, shipped: rate, peakRss: rss.peak, endRss: rss.now, captcha };
    } finally {
      await shipped.stop();
    }
  } finally {
    await runCommand(['ip', 'link', 'del', settings.iface]).catch(() => {});
    await apis.bare.close();
    await apis.bot.close();
  }
}

export function throughputRows(r: ThroughputResult): Row[] {
  return [
    {
      measurement: '3. /start throughput (CAPTCHA on)',
      case: `${r.users} new users, ${r.dbUsers} in the DB, median of ${r.rounds}`,
      value: `${r.bot.toFixed(0)} updates/s (CPU ${fmtMs(r.cpuPerUpdate.bot)} per update)`,
      reference: `${r.bare.toFixed(0)} updates/s bare grammY (CPU ${fmtMs(r.cpuPerUpdate.bare)})`,
      ratio: `${((r.bot / r.bare) * 100).toFixed(0)} %`,
      target: '≥ 50 %',
      met: halfTheBareRate(r.bot, r.bare) && r.captcha,
    },
    {
      measurement: '3. /start throughput, as shipped',
      case: `${r.users} new users, reply throttle on (Telegram's 30 msg/s)`,
      value: `${r.shipped.toFixed(0)} updates/s`,
    },
    {
      measurement: '3. peak RSS of the bot process',
      case: `as shipped, ${r.dbUsers} users with peers in the DB: start, ${r.users} /start, a monitor tick`,
      value: `${r.peakRss.toFixed(0)} MB (${r.endRss.toFixed(0)} MB at the end)`,
      target: `≤ ${RSS_LIMIT_MB} MB`,
      met: r.peakRss <= RSS_LIMIT_MB,
    },
  ];
}

export interface StartupResult {
  peers: number;
  /** No interface yet: *-quick up from the config the bot writes. */
  cold: number;
  /** The interface is up with no peers: the bot adds every one. */
  empty: number;
}

/** From spawn until the bot logs the node ready (its peers are live then; checked against the interface). */
async function timeToLive(lab: Lab, env: NodeJS.ProcessEnv, iface: string, peers: number, profileDir: string | null): Promise<number> {
  const p = startBotProcess('shipped', env, profileDir);
  try {
    const ready = await p.line('VPN node ready');
    const ms = (ready.time as number) - p.startedAt;
    const live = (await livePeers(iface)).length;
    if (live !== peers) throw new Error(`bot reported ready with ${live} of ${peers} peers live`);
    await p.line('taking updates');
    return ms;
  } finally {
    await p.stop();
  }
}

export async function startup(lab: Lab, peers: number, profileDir: string | null): Promise<StartupResult> {
  const api = new BotApiStandIn({ token: TOKEN });
  api.knowUser({ id: ADMIN_ID, first_name: 'Admin' }); // the admin started the bot long ago
  await api.listen();
  const { env, settings } = botProcessEnv(lab, api.apiRoot, 'startup');
  try {
    await botDatabase(lab, 'data-startup', settings, peers);
    const cold = await timeToLive(lab, env, settings.iface, peers, profileDir);
    // Every peer off the interface (one `wg set … peer K remove …`), the interface itself stays.
    const keys = await livePeers(settings.iface);
    await runCommand(['wg', 'set', settings.iface, ...keys.flatMap((k) => ['peer', k, 'remove'])]);
    if ((await livePeers(settings.iface)).length !== 0) throw new Error('could not empty the interface');
    const empty = await timeToLive(lab, env, settings.iface, peers, profileDir);
    console.error(`  startup with ${peers} peers: ${fmtMs(cold)} without an interface, ${fmtMs(empty)} on an empty one`);
    return { peers, cold, empty };
  } finally {
    await runCommand(['ip', 'link', 'del', settings.iface]).catch(() => {});
    await api.close();
  }
}

export function startupRows(r: StartupResult): Row[] {
  return [
    { measurement: '4. startup until all peers live', case: `${r.peers} peers, interface up but empty`, value: fmtMs(r.empty), target: `≤ ${fmtMs(STARTUP_LIMIT_MS)}`, met: r.empty <= STARTUP_LIMIT_MS },
    { measurement: '4. startup until all peers live', case: `${r.peers} peers, no interface (*-quick up)`, value: fmtMs(r.cold), ratio: fmtRatio(r.cold / r.empty) },
  ];
}
