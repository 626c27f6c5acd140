import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Message } from 'grammy/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { leaderLockHolder } from '../../src/db/infra/locks.js';
import { StandInClient } from '../support/bot-api-client.js';
import { botEnv, pingsWithin, startBot } from '../support/e2e.js';
import { type LabLink, type LabProcess, NetnsLab, run } from '../support/netns.js';
import { nginxArgv, nginxAvailable, readTemplate, renderTemplate, selfSignedCert, TEMPLATE_LISTEN } from '../support/nginx.js';
import { addSshNode, type SshNode, sshdGate } from '../support/sshd.js';

// The large setup of README "The large setup", whole, on real parts, driven as Telegram drives it:
// the stand-in POSTs every update over HTTPS (trusting the test's self-signed certificate) to a
// real nginx in a namespace of its own, rendered from deploy/nginx/andreyvpn.conf.template, which
// proxies to two built replicas (`node dist/main.js`, webhook mode) in the server namespace. One
// PostgreSQL schema (through its Unix socket), a local node (wireguard-go in the server namespace)
// and an SSH node (real sshd in its own namespace). 200 newcomers and their approvals stream in;
// meanwhile the replica that is not the leader is SIGKILLed and started again, and the SSH node's
// link is cut for 20 s. Later the leader is SIGKILLed too. Every effect must happen exactly once.

const ready = (await sshdGate()) && (await nginxAvailable());
if (!ready && process.env.CI === 'true') throw new Error('nginx and openssl are needed (CI=true, refusing to skip); .ci/run installs them');

const TOKEN = '454545:large-setup-token';
const SECRET = 'large-setup-webhook-secret-01';
const ADMIN = { id: 111_019, first_name: 'Admin', username: 'boss', language_code: 'en' };
const N = 200;
const HOOK_PATH = '/tg-hook';
const PORTS = [8081, 8082];
const INTERVAL_MS = 1000;
const CUT_MS = 20_000;
const users = Array.from({ length: N }, (_, i) => ({ id: 7_190_000 + i, first_name: `L${i}`, language_code: 'en' }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  for (const deadline = Date.now() + ms; ; ) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(200);
  }
}

/** The times a replica's log says it became the leader and stopped being it (pino lines: `time`, `msg`). */
function leadership(output: string, diedAt: number | null): [number, number][] {
  const terms: [number, number][] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const { time, msg } = JSON.parse(line) as { time: number; msg: string };
    if (msg.startsWith('became the leader')) terms.push([time, Number.POSITIVE_INFINITY]);
    else if (/^(stepping down as the leader|lost the leader lock)/.test(msg) && terms.at(-1)?.[1] === Number.POSITIVE_INFINITY) terms.at(-1)![1] = time;
  }
  if (diedAt !== null && terms.at(-1)?.[1] === Number.POSITIVE_INFINITY) terms.at(-1)![1] = diedAt;
  return terms;
}

describe.skipIf(!ready)('the large setup: nginx, two replicas, PostgreSQL, a local and an SSH node (real parts)', () => {
  let lab: NetnsLab;
  let api: StandInClient;
  let db: Db;
  let ssh: SshNode;
  let toNginx: LabLink;
  let env: NodeJS.ProcessEnv;
  const replicas: { proc: LabProcess; port: number; diedAt: number | null }[] = [];
  const subnets: Record<string, { subnet: string; serverIp: string }> = {};

  const startReplica = async (port: number) => {
    const proc = await startBot(lab, { ...env, WEBHOOK_PORT: String(port), DATA_DIR: path.join(lab.tmpDir, `data-${port}`) });
    replicas.push({ proc, port, diedAt: null });
    return proc;
  };

  beforeAll(async () => {
    lab = await NetnsLab.create();
    const nginxNs = await lab.addNamespace('N');
    toNginx = await lab.link(lab.serverNs, nginxNs);
    const nginxDir = path.join(lab.tmpDir, 'nginx');
    await fs.mkdir(path.join(nginxDir, 'certs'), { recursive: true });
    const { cert } = await selfSignedCert(path.join(nginxDir, 'certs'), toNginx.bIp);
    const conf = renderTemplate(readTemplate(), {
      BOT_DOMAIN: toNginx.bIp,
      TLS_CERT_DIR: path.join(nginxDir, 'certs'),
      WEBHOOK_PATH: HOOK_PATH,
      BOT_REPLICA_1: `${toNginx.aIp}:${PORTS[0]}`,
      BOT_REPLICA_2: `${toNginx.aIp}:${PORTS[1]}`,
    });
    expect(conf).toContain(TEMPLATE_LISTEN); // nginx listens on 443, as deployed: the namespace is its own
    lab.spawn(nginxNs, nginxArgv(nginxDir, conf));

    // Telegram: webhooks over HTTPS to nginx, trusting its certificate; the replicas call it on 127.0.0.1.
    api = await StandInClient.start({ token: TOKEN, netns: lab.serverNs, webhookCaFile: cert, webhookRetryMs: [100, 3000] });
    await api.knowUser(ADMIN); // the admin started the bot long ago

    const base = await botEnv(lab, { flavor: 'wireguard', token: TOKEN, apiRoot: api.apiRoot, adminId: ADMIN.id, ifacePrefix: 'avg' });
    db = await base.database.open();
    ssh = await addSshNode(lab, 'R', lab.serverNs);
    const net = `10.${190 + randomInt(40)}.${randomInt(256)}`;
    const port = 20000 + randomInt(30000);
    const iface = `avs${lab.suffix}`;
    lab.trackInterface(iface);
    subnets.remote = { subnet: `${net}.0/24`, serverIp: `${net}.1` };
    subnets.local = { subnet: base.env.VPN_SUBNET!, serverIp: base.serverTunnelIp };
    const nodesFile = path.join(lab.tmpDir, 'nodes.json');
    await fs.writeFile(
      nodesFile,
      JSON.stringify([
        {
          name: 'remote',
          ssh: `${ssh.sshd.user}@${ssh.sshd.host}:${ssh.sshd.port}`,
          key: ssh.sshd.clientKeyFile,
          hostkey: ssh.sshd.hostPublicKey,
          flavor: 'wireguard',
          iface,
          endpoint: `${ssh.endpointIp}:${port}`,
          port,
          subnet: subnets.remote.subnet,
          dir: path.join(lab.tmpDir, 'remote-conf'),
          state: path.join(lab.tmpDir, 'remote-state'),
        },
      ]),
    );
    env = {
      ...base.env,
      NODES_FILE: nodesFile,
      VPN_ALLOWED_IPS: `${subnets.local.subnet},${subnets.remote.subnet}`,
      BOT_MODE: 'webhook',
      WEBHOOK_URL: `https://${toNginx.bIp}${HOOK_PATH}`,
      WEBHOOK_SECRET: SECRET,
      HTTP_HOST: toNginx.aIp,
      CAPTCHA: 'off',
      MONITOR_INTERVAL_SECONDS: String(INTERVAL_MS / 1000),
      LOG_LEVEL: 'info',
    };
    // One after the other: the first brings the interfaces up, the second finds them up.
    for (const p of PORTS) await startReplica(p);
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas) await r.proc.stop(3000);
    await api?.stop();
    await db?.destroy();
    await ssh?.sshd.stop().catch(() => {});
    await lab?.cleanup();
  }, 60_000);

  const count = async (q: ReturnType<typeof sql<{ n: number }>>) => Number((await q.execute(db)).rows[0]?.n);
  const holder = async () => {
    const name = await leaderLockHolder(db);
    return replicas.find((r) => r.diedAt === null && name?.endsWith(` pid ${r.proc.pid}`));
  };

  it('200 newcomers and their approvals through nginx; a replica SIGKILLed mid-stream, the SSH node cut off for 20 s, then the leader killed: one config each, every press answered once, every peer working, one monitor at a time, one alert per incident', async () => {
    const leader = await until('a leader', holder, 10_000);
    const other = replicas.find((r) => r !== leader)!;
    const request: Message = { message_id: 1, date: 0, chat: { id: ADMIN.id, type: 'private', first_name: ADMIN.first_name }, text: 'request' };

    // The admin approves each request as it appears (read from the database: the request messages
    // themselves reach the admin's chat at Telegram's one a second).
    const pressed = new Set<number>();
    let streaming = true;
    const approver = (async () => {
      while (streaming || pressed.size < N) {
        const pending = (await sql<{ id: number }>`select id from users where status = 'pending'`.execute(db)).rows.map((r) => Number(r.id));
        for (const id of pending.filter((id) => !pressed.has(id))) {
          pressed.add(id);
          await api.pressButton(ADMIN, request, `apr:${id}`);
        }
        if (!streaming && pending.length === 0 && pressed.size < N) throw new Error(`${N - pressed.size} users never became pending`);
        await sleep(250);
      }
    })();

    let cut: Promise<void> | undefined;
    let restarted: Promise<LabProcess> | undefined;
    for (const [i, u] of users.entries()) {
      await api.sendText(u, '/start');
      if (i === 60) {
        // The SSH node's link goes dark for 20 s (packets vanish; nothing is refused).
        const dev = ['-n', ssh.ns, 'link', 'set', ssh.controllerLink.bDev];
        cut = (async () => {
          await run(['ip', ...dev, 'down']);
          await sleep(CUT_MS);
          await run(['ip', ...dev, 'up']);
        })();
      }
      if (i === 100) {
        other.proc.child.kill('SIGKILL');
        await other.proc.exited;
        other.diedAt = Date.now();
        restarted = sleep(2000).then(() => startReplica(other.port));
      }
      await sleep(40); // 25 newcomers a second
    }
    streaming = false;
    await restarted;
    await cut;
    await approver;

    // Everyone approved, once: one peer each, on a node that has exactly the peers the database has.
    await until('every user active', async () => (await count(sql`select count(*) as n from users where status = 'active'`)) === N, 120_000).catch(async (err: Error) => {
      const statuses = (await sql<{ status: string; n: number }>`select status, count(*) as n from users group by status`.execute(db)).rows;
      const troubles = replicas.flatMap((r) => r.proc.output().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-15));
      throw new Error(`${err.message}: ${JSON.stringify(statuses)}\n${troubles.join('\n')}`);
    });
    const peers = (await sql<{ user_id: number; node: string; public_key: string }>`select user_id, node, public_key from peers`.execute(db)).rows;
    expect(peers).toHaveLength(N);
    expect(new Set(peers.map((p) => Number(p.user_id))).size).toBe(N);
    const nodes = (await sql<{ name: string; iface: string; ssh_host: string | null }>`select name, iface, ssh_host from nodes`.execute(db)).rows;
    expect(nodes).toHaveLength(2);
    for (const n of nodes) {
      const ns = n.ssh_host === null ? lab.serverNs : ssh.ns;
      const stored = peers.filter((p) => p.node === n.name).map((p) => p.public_key).sort();
      expect(stored.length, `peers on ${n.name}`).toBeGreaterThan(0);
      const live = async () => (await lab.exec(ns, ['wg', 'show', n.iface, 'dump'])).stdout.trim().split('\n').slice(1).map((l) => l.split('\t')[0]).sort();
      // A peer tried on the node while it was cut off leaves with the next reconcile.
      await until(`${n.name} holds exactly its stored peers`, async () => (await live()).join() === stored.join(), 15_000).catch(async () => expect(await live()).toEqual(stored));
    }

    // Exactly one config per user, and every press answered once (Telegram refuses a second answer).
    const docs = await until('every config delivered', async () => {
      const d = (await api.calls()).filter((c) => c.method === 'sendDocument' && c.ok);
      return d.length >= N && d;
    }, 120_000);
    const perUser = new Map<number, number>();
    for (const d of docs) perUser.set(Number(d.params.chat_id), (perUser.get(Number(d.params.chat_id)) ?? 0) + 1);
    expect(users.filter((u) => perUser.get(u.id) !== 1).map((u) => [u.id, perUser.get(u.id) ?? 0])).toEqual([]);
    await until('every press answered', async () => (await api.unansweredCallbackQueries()).length === 0, 30_000);
    const answers = (await api.calls()).filter((c) => c.method === 'answerCallbackQuery');
    expect(answers.filter((c) => !c.ok)).toEqual([]);
    expect(answers).toHaveLength(N);
    // Every update stored by either replica was handled, the dead one's included.
    expect(await count(sql`select count(*) as n from inbox where handled_at is null`)).toBe(0);

    // A sample of configs works, through each node.
    for (const n of nodes) {
      const mine = peers.filter((p) => p.node === n.name).slice(0, 2);
      for (const p of mine) {
        const conf = Object.values(docs.find((d) => Number(d.params.chat_id) === Number(p.user_id))!.files)[0]!.data.toString();
        const dev = `avc${lab.suffix}`;
        await lab.bringUpClient('wireguard', conf, dev);
        expect(await pingsWithin(lab, subnets[n.ssh_host === null ? 'local' : 'remote']!.serverIp, 20_000), `a client of ${n.name}`).toBe(true);
        await lab.wgQuickDown(lab.clientNs, dev);
      }
    }

    // The leader dies too: the restarted replica takes over, and never two at once.
    const second = await until('a leader', holder, 10_000);
    const killedAt = Date.now();
    second.proc.child.kill('SIGKILL');
    await second.proc.exited;
    second.diedAt = killedAt;
    const third = await until('another leader', holder, 10_000);
    expect(third).not.toBe(second);
    await until('its log says so', async () => third.proc.output().includes('became the leader'), 5_000);
    const terms = replicas.flatMap((r) => leadership(r.proc.output(), r.diedAt)).sort((a, b) => a[0] - b[0]);
    expect(terms.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < terms.length; i++) expect(terms[i]![0], 'a leader began before the previous one ended').toBeGreaterThanOrEqual(terms[i - 1]![1]);

    // One alert per incident: the cut node once down and once back; nothing else went wrong.
    const toAdmin = (await api.calls()).filter((c) => c.method === 'sendMessage' && Number(c.params.chat_id) === ADMIN.id).map((c) => String(c.params.text));
    expect(toAdmin.filter((t) => /monitor has failed/.test(t))).toHaveLength(1);
    expect(toAdmin.filter((t) => /works again/.test(t))).toHaveLength(1);
    expect(toAdmin.filter((t) => /Creating VPN peers fails|stopped while sending|VPN server refused/.test(t))).toEqual([]);
  }, 600_000);
});
