import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { migrate } from '../src/db/index.js';
import { BotApiStandIn } from '../test/support/bot-api.js';
import { createPostgresSchema, schemaUrl } from '../test/support/database.js';
import { nginxArgv, readTemplate, renderTemplate, selfSignedCert, TEMPLATE_LISTEN } from '../test/support/nginx.js';
import { botProcessEnv, type BotProcess, cpuMsOf, newcomersRound, rssOf, startBotProcess } from './bot.js';
import { ADMIN_ID, dropInterface, type Lab, mkdirPrivate, seedUsers } from './lab.js';
import { fmtMs, fmtRatio, quantile, RSS_LIMIT_MB, type Row } from './stats.js';

// 8. The large setup (issue 19): newcomers' /start (CAPTCHA on) through the stand-in's webhook
// (HTTPS, as Telegram calls it) → nginx on deploy/nginx/andreyvpn.conf.template → one replica, then
// two, of the bot in webhook mode on one PostgreSQL schema (by its socket) and one interface. The
// same stand-in for both: *as shipped* (`node dist/main.js`, Telegram's limits enforced, one round)
// and with the throttle off on both sides (the CPU side, median of `rounds`). A round lasts until
// every newcomer got their CAPTCHA question: what a newcomer waits for.

const TOKEN = '424245:bench-replicas';
const SECRET = 'bench-replicas-secret-0123';
const HOOK_PATH = '/tg-hook';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type ReplicasMode = 'shipped' | 'unthrottled';

export interface ReplicasVariant {
  replicas: number;
  /** Updates per second of each round (1,000 newcomers until the last answer). */
  rates: number[];
  rate: number;
  /** 429s the stand-in gave in the measured rounds, newcomers left without an answer, webhook POSTs not answered 2xx. */
  tooMany: number;
  unanswered: number;
  failedPosts: number;
  /** Per replica: VmHWM at the end (MB), CPU ms per update it took, and the POSTs nginx passed it. */
  peakRss: number[];
  cpuPerUpdate: number[];
  posts: number[];
  /** nginx's and the stand-in's (this process) CPU per update, and the whole host's busy cores. */
  nginxCpuPerUpdate: number;
  standInCpuPerUpdate: number;
  /** The rest of the host's CPU per update: PostgreSQL, the kernel, wireguard-go, other sessions. */
  restCpuPerUpdate: number;
  busyCores: number;
}

export interface ReplicasResult {
  newcomers: number;
  members: number;
  shipped: ReplicasVariant[];
  unthrottled: ReplicasVariant[];
}

/** Busy and total CPU time of the host over all cores (/proc/stat, clock ticks of 10 ms), in ms. */
function hostCpu(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: (total - f[3]! - f[4]!) * 10, total: total * 10 };
}

async function listening(port: number, nginx: ChildProcess, dir: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
    const up = await new Promise<boolean>((resolve) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false)));
    if (up) return;
    if (Date.now() > deadline || nginx.exitCode !== null) throw new Error(`nginx did not start: ${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
  }
}

/** The POSTs nginx passed to each upstream address, from its access log (`upstream=<addr>/<status>`). */
function postsBy(dir: string, addrs: string[]): number[] {
  const log = fs.readFileSync(path.join(dir, 'access.log'), 'utf8');
  return addrs.map((a) => log.split('\n').filter((l) => l.includes('"POST ') && l.includes(`upstream=${a}/`)).length);
}

interface Options {
  newcomers: number;
  members: number;
  rounds: number;
  profileDir: string | null;
}

interface Setup {
  lab: Lab;
  api: BotApiStandIn;
  env: NodeJS.ProcessEnv;
  /** Holds the certificate; each variant's nginx has a prefix below it. */
  dir: string;
  /** TCP ports: the replicas' HTTP servers and nginx's. */
  replicaPorts: number[];
  nginxPort: number;
}

async function variant(s: Setup, mode: ReplicasMode, replicas: number, o: Options): Promise<ReplicasVariant> {
  const addrs = s.replicaPorts.slice(0, replicas).map((p) => `127.0.0.1:${p}`);
  const prefix = path.join(s.dir, `nginx-${replicas}`);
  await mkdirPrivate(prefix);
  // One replica: the template's two upstream servers are the same one, so nginx is configured alike.
  const conf = renderTemplate(readTemplate(), { BOT_DOMAIN: '127.0.0.1', TLS_CERT_DIR: s.dir, WEBHOOK_PATH: HOOK_PATH, BOT_REPLICA_1: addrs[0]!, BOT_REPLICA_2: addrs.at(-1)! })
    .replace(TEMPLATE_LISTEN, `listen 127.0.0.1:${s.nginxPort} ssl;`);
  const [cmd, ...args] = nginxArgv(prefix, conf);
  const nginx = spawn(cmd!, args, { stdio: 'ignore' });
  const nginxExit = new Promise<void>((resolve) => nginx.once('exit', () => resolve()));
  const bots: BotProcess[] = [];
  try {
    await listening(s.nginxPort, nginx, prefix);
    // One after the other, as in test/replicas: the first brings the interface up, the next finds it.
    for (const [i, port] of s.replicaPorts.slice(0, replicas).entries()) {
      const bot = startBotProcess(mode, { ...s.env, WEBHOOK_PORT: String(port), DATA_DIR: s.lab.path(`data-replicas-${mode}-${replicas}-${i}`) }, o.profileDir);
      bots.push(bot);
      await bot.line('taking updates');
    }
    const timeout = 60_000 + o.newcomers * 200;
    // Warm-up (JITs, connection pools): a full round where it costs little, 100 under the throttle.
    await newcomersRound(s.api, mode === 'shipped' ? Math.min(o.newcomers, 100) : o.newcomers, timeout);
    const rounds = mode === 'shipped' ? 1 : o.rounds;
    const before = { bots: bots.map((b) => cpuMsOf(b.child.pid!)), nginx: cpuMsOf(nginx.pid!), me: process.cpuUsage(), host: hostCpu(), posts: postsBy(prefix, addrs), deliveries: s.api.webhookDeliveries.length };
    const results = [];
    for (let i = 0; i < rounds; i++) results.push(await newcomersRound(s.api, o.newcomers, timeout));
    const host = hostCpu();
    const me = process.cpuUsage(before.me);
    const updates = rounds * o.newcomers;
    const posts = postsBy(prefix, addrs).map((n, i) => n - before.posts[i]!);
    const rates = results.map((r) => ((o.newcomers - r.unanswered) / r.ms) * 1000);
    const botCpu = bots.map((b, i) => cpuMsOf(b.child.pid!) - before.bots[i]!);
    const nginxCpu = cpuMsOf(nginx.pid!) - before.nginx;
    const standInCpu = (me.user + me.system) / 1000;
    const v: ReplicasVariant = {
      replicas,
      rates,
      rate: quantile(rates, 0.5),
      tooMany: results.reduce((n, r) => n + r.refused.filter((c) => c.error?.error_code === 429).length, 0),
      unanswered: results.reduce((n, r) => n + r.unanswered, 0),
      failedPosts: s.api.webhookDeliveries.slice(before.deliveries).filter((d) => d.status === null || d.status < 200 || d.status >= 300).length,
      peakRss: bots.map((b) => rssOf(b.child.pid!).peak),
      cpuPerUpdate: botCpu.map((ms, i) => ms / Math.max(1, posts[i]!)),
      posts,
      nginxCpuPerUpdate: nginxCpu / updates,
      standInCpuPerUpdate: standInCpu / updates,
      restCpuPerUpdate: (host.busy - before.host.busy - botCpu.reduce((a, b) => a + b, 0) - nginxCpu - standInCpu) / updates,
      busyCores: ((host.busy - before.host.busy) / (host.total - before.host.total)) * os.cpus().length,
    };
    console.error(
      `  ${mode}, ${replicas} replica(s): ${rates.map((r) => r.toFixed(0)).join(', ')} updates/s; ${v.tooMany} × 429, ${v.unanswered} unanswered; POSTs ${posts.join(' + ')} (${v.failedPosts} failed); ` +
        `CPU per update: replicas ${v.cpuPerUpdate.map((c) => fmtMs(c)).join(', ')}, nginx ${fmtMs(v.nginxCpuPerUpdate)}, stand-in ${fmtMs(v.standInCpuPerUpdate)}, the rest ${fmtMs(v.restCpuPerUpdate)}; host ${v.busyCores.toFixed(2)} cores busy; peak RSS ${v.peakRss.map((r) => r.toFixed(0)).join(', ')} MB`,
    );
    return v;
  } finally {
    await Promise.all(bots.map((b) => b.stop()));
    nginx.kill('SIGTERM');
    await nginxExit;
  }
}

/** One mode: its own stand-in, schema (with `members` users holding peers) and interface; one replica, then two. */
async function mode(lab: Lab, mode: ReplicasMode, o: Options): Promise<ReplicasVariant[]> {
  const dir = lab.path(`replicas-${mode}`);
  await mkdirPrivate(dir);
  const { cert } = await selfSignedCert(dir, '127.0.0.1');
  const api = new BotApiStandIn({ token: TOKEN, webhook: { ca: fs.readFileSync(cert) }, ...(mode === 'unthrottled' ? { rateLimit: false } : {}) });
  api.knowUser({ id: ADMIN_ID, first_name: 'Admin' });
  await api.listen();
  const { env, settings } = botProcessEnv(lab, api.apiRoot, `replicas-${mode}`, { token: TOKEN, adminIds: [ADMIN_ID] });
  const { schema, db, drop } = await createPostgresSchema({ viaSocket: true });
  try {
    await migrate(db)
      .then(() => seedUsers(db, { count: o.members, firstId: 1, peersOn: settings }))
      .finally(() => db.destroy());
    // Ports above the one botProcessEnv gives (the interface's + 1000), unique to this interface.
    const [nginxPort, ...replicaPorts] = [1000, 2000, 3000].map((k) => settings.port + k) as [number, number, number];
    const hookEnv = { ...env, DATABASE_URL: schemaUrl(schema, { viaSocket: true }), BOT_MODE: 'webhook', WEBHOOK_URL: `https://127.0.0.1:${nginxPort}${HOOK_PATH}`, WEBHOOK_SECRET: SECRET, HTTP_HOST: '127.0.0.1' };
    const s: Setup = { lab, api, env: hookEnv, dir, replicaPorts, nginxPort };
    return [await variant(s, mode, 1, o), await variant(s, mode, 2, o)];
  } finally {
    await dropInterface(settings.iface);
    await api.close();
    await drop();
  }
}

export async function replicasThroughput(lab: Lab, o: Options): Promise<ReplicasResult> {
  return { newcomers: o.newcomers, members: o.members, shipped: await mode(lab, 'shipped', o), unthrottled: await mode(lab, 'unthrottled', o) };
}

const pair = (v: ReplicasVariant[]) => ({ one: v.find((x) => x.replicas === 1)!, two: v.find((x) => x.replicas === 2)! });
const refusals = (v: ReplicasVariant) => `${v.tooMany} × 429${v.unanswered ? `, ${v.unanswered} never answered` : ''}${v.failedPosts ? `, ${v.failedPosts} webhook POSTs failed` : ''}`;

export function replicasRows(r: ReplicasResult): Row[] {
  const shipped = pair(r.shipped);
  const free = pair(r.unthrottled);
  const cpu = (v: ReplicasVariant) => v.cpuPerUpdate.map((c) => fmtMs(c)).join(' + ');
  return [
    {
      measurement: '8. /start through nginx, as shipped',
      case: `${r.newcomers} newcomers (CAPTCHA on), ${r.members} in PostgreSQL; Telegram's 30 msg/s enforced; 2 replicas vs 1`,
      value: `${shipped.two.rate.toFixed(0)} updates/s (${refusals(shipped.two)})`,
      reference: `${shipped.one.rate.toFixed(0)} updates/s, 1 replica (${refusals(shipped.one)})`,
      ratio: fmtRatio(shipped.two.rate / shipped.one.rate),
    },
    {
      measurement: '8. /start through nginx, throttle off',
      case: `the same, no flood limits, median of ${free.two.rates.length}; CPU per update a replica handled`,
      value: `${free.two.rate.toFixed(0)} updates/s (CPU ${cpu(free.two)}; nginx ${fmtMs(free.two.nginxCpuPerUpdate)}, stand-in ${fmtMs(free.two.standInCpuPerUpdate)}, rest of the host ${fmtMs(free.two.restCpuPerUpdate)}; ${free.two.busyCores.toFixed(1)} cores busy)`,
      reference: `${free.one.rate.toFixed(0)} updates/s, 1 replica (CPU ${cpu(free.one)}; ${free.one.busyCores.toFixed(1)} cores busy)`,
      ratio: fmtRatio(free.two.rate / free.one.rate),
    },
    {
      measurement: '8. peak RSS of each replica',
      case: `as shipped, webhook mode: start, ${r.newcomers + Math.min(r.newcomers, 100)} /start through nginx`,
      value: `${shipped.two.peakRss.map((m) => `${m.toFixed(0)} MB`).join(' + ')} (2 replicas)`,
      reference: `${shipped.one.peakRss[0]!.toFixed(0)} MB, 1 replica`,
      target: `≤ ${RSS_LIMIT_MB} MB each`,
      met: [...shipped.one.peakRss, ...shipped.two.peakRss].every((m) => m <= RSS_LIMIT_MB),
    },
  ];
}
