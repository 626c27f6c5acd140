import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { leaderLockHolder } from '../../src/db/infra/locks.js';
import { StandInClient } from '../support/bot-api-client.js';
import type { Message, Update } from 'grammy/types';
import { botEnv, startBot } from '../support/e2e.js';
import { TEST_POSTGRES_SOCKET_DIR, TEST_POSTGRES_URL, createPostgresSchema, postgresReachable, schemaUrl } from '../support/database.js';
import { type LabProcess, NetnsLab, realPartsGate, run } from '../support/netns.js';

// Two replicas of the built bot (`node dist/main.js`) in webhook mode, in one server namespace,
// sharing one fresh PostgreSQL schema and one real wireguard-go interface. The test plays the load
// balancer: it POSTs the updates alternately to the two replicas' webhook ports (through the Bot
// API stand-in, which runs in the namespace). Then the replica holding the leader lock is killed
// with SIGKILL and the other one must take over the monitor within one interval.

const ready = await realPartsGate();
// Inside the namespace 127.0.0.1 is the namespace's own: the replicas reach PostgreSQL by its unix socket.
const SOCKET_DIR = TEST_POSTGRES_SOCKET_DIR;
const pgUrl = new URL(TEST_POSTGRES_URL);
const socketThere = fs.existsSync(path.join(SOCKET_DIR, `.s.PGSQL.${pgUrl.port || 5432}`));
const pgReady = socketThere && (await postgresReachable());
if (!pgReady && process.env.CI === 'true') throw new Error(`PostgreSQL must be reachable in CI at ${TEST_POSTGRES_URL} and by its socket in ${SOCKET_DIR}`);

const TOKEN = '434343:replicas-token';
const SECRET = 'replicas-webhook-secret-0123';
const ADMIN = { id: 111002, first_name: 'Admin', username: 'boss', language_code: 'en' };
const N = 200;
const DUPLICATES = 50;
const INTERVAL_MS = 1000;
const PORTS = [8081, 8082];
const hook = (i: number) => `http://127.0.0.1:${PORTS[i % 2]}/tg`;
const users = Array.from({ length: N }, (_, i) => ({ id: 6_100_000 + i, first_name: `R${i}`, language_code: 'en' }));


async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  for (const deadline = Date.now() + ms; ; ) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!ready || !pgReady)('two bot replicas on one PostgreSQL (webhook mode, real interface)', () => {
  let lab: NetnsLab;
  let api: StandInClient;
  let db: Db;
  let drop: () => Promise<void>;
  let iface: string;
  let serverTunnelIp: string;
  const replicas: LabProcess[] = [];

  beforeAll(async () => {
    lab = await NetnsLab.create();
    api = await StandInClient.start({ token: TOKEN, netns: lab.serverNs, webhookDelivery: false });
    await api.knowUser(ADMIN); // the admin started the bot long ago
    let schema: string;
    ({ schema, db, drop } = await createPostgresSchema());
    const base = await botEnv(lab, { flavor: 'wireguard', token: TOKEN, apiRoot: api.apiRoot, adminId: ADMIN.id, ifacePrefix: 'avr' });
    ({ iface, serverTunnelIp } = base);
    for (const [i, port] of PORTS.entries()) {
      const env = {
        ...base.env,
        DATABASE_URL: schemaUrl(schema, { viaSocket: true }),
        DATA_DIR: path.join(lab.tmpDir, `data-${i}`),
        BOT_MODE: 'webhook',
        WEBHOOK_URL: 'https://bot.example.com/tg',
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_PORT: String(port),
        CAPTCHA: 'off',
        MONITOR_INTERVAL_SECONDS: String(INTERVAL_MS / 1000),
        LOG_LEVEL: 'info',
      };
      // One after the other: the first brings the interface up, the second finds it up.
      replicas.push(await startBot(lab, env));
    }
  }, 90_000);

  afterAll(async () => {
    for (const r of replicas) await r.stop(3000);
    await api?.stop();
    await db?.destroy();
    await drop?.();
    await lab?.cleanup();
  }, 60_000);

  it('200 /start, then 200 approvals and 50 duplicates at once across both → one peer per user, no address twice, 200 peers on the interface, one config each; the leader killed → the other leads within one interval and its monitor counts traffic', async () => {
    const deliver = async (i: number, update: Promise<Update>) => api.deliver(hook(i), await update, SECRET);

    const starts = await Promise.all(users.map((u, i) => deliver(i, api.sendText(u, '/start'))));
    expect(starts.every((r) => r.status === 200)).toBe(true);
    const count = async (status: string) => Number((await sql<{ n: number }>`select count(*) as n from users where status = ${status}`.execute(db)).rows[0]?.n);
    // A 200 means stored (the inbox); each replica handles what it stored right after.
    await until('every request handled', async () => (await count('pending')) === N, 30_000);

    // The admin's taps. The request messages themselves trickle into the admin's chat at about one
    // a second (Telegram's per-chat limit), so the taps carry a stand-in for them; the bot only
    // reads the callback data. Duplicates go to the other replica, right next to the original.
    const request: Message = { message_id: 1, date: 0, chat: { id: ADMIN.id, type: 'private', first_name: ADMIN.first_name }, text: 'request' };
    const taps: Promise<{ status: number }>[] = [];
    for (const [i, u] of users.entries()) {
      taps.push(deliver(i, api.pressButton(ADMIN, request, `apr:${u.id}`)));
      if (i < DUPLICATES) taps.push(deliver(i + 1, api.pressButton(ADMIN, request, `apr:${u.id}`)));
    }
    expect((await Promise.all(taps)).every((r) => r.status === 200)).toBe(true);
    await until('every user active', async () => (await count('active')) === N, 30_000);

    const peers = (await sql<{ user_id: number; ip: string; public_key: string }>`select user_id, ip, public_key from peers`.execute(db)).rows;
    expect(peers).toHaveLength(N);
    expect(new Set(peers.map((p) => Number(p.user_id))).size).toBe(N);
    expect(new Set(peers.map((p) => p.ip)).size).toBe(N);
    const live = (await run(['wg', 'show', iface, 'dump'])).stdout.trim().split('\n').slice(1);
    expect(live.map((l) => l.split('\t')[0]).sort()).toEqual(peers.map((p) => p.public_key).sort());

    // Exactly one config per user, the one stored for them.
    const docs = await until(
      'every config delivered',
      async () => {
        const d = (await api.calls()).filter((c) => c.method === 'sendDocument' && c.ok);
        return d.length >= N && d;
      },
      // Through the leader's outbox: a welcome and three parts per user, at most 28 messages a second.
      60_000,
    );
    expect(docs).toHaveLength(N);
    // Both replicas provisioned peers (each handled its share of the taps).
    for (const r of replicas) expect(r.output()).toContain('"msg":"peer added"');
    const ipOf = new Map(peers.map((p) => [Number(p.user_id), p.ip]));
    for (const u of users) {
      const mine = docs.filter((c) => c.params.chat_id === u.id);
      expect(mine, `configs of ${u.id}`).toHaveLength(1);
      expect(Object.values(mine[0]!.files)[0]!.data.toString()).toContain(`Address = ${ipOf.get(u.id)}/32`);
    }
    // Every tap was answered, the duplicates with "already decided".
    await until('every tap answered', async () => (await api.unansweredCallbackQueries()).length === 0, 30_000);

    // A client of the first user, so the monitor has traffic to count.
    const conf = Object.values(docs.find((c) => c.params.chat_id === users[0]!.id)!.files)[0]!.data.toString();
    await lab.bringUpClient('wireguard', conf, `avrc${lab.suffix}`);
    const rx = async () => Number((await sql<{ rx: number }>`select rx_total as rx from peer_traffic join peers on peers.id = peer_traffic.peer_id where user_id = ${users[0]!.id}`.execute(db)).rows[0]?.rx);
    expect(await lab.ping(lab.clientNs, serverTunnelIp, 3)).toBe(true);
    const counted = await until('the leader counts the traffic', async () => (await rx()) > 0 && rx(), 10_000);

    // The replica holding the lock (its session names its pid) is killed; the other takes over.
    const holder = await leaderLockHolder(db);
    const leader = replicas.find((r) => holder?.endsWith(` pid ${r.pid}`));
    expect(leader, `lock held by ${holder}`).toBeDefined();
    const other = replicas.find((r) => r !== leader)!;
    expect(leader!.output()).toContain('became the leader');
    expect(other.output()).not.toContain('became the leader');
    const killedAt = Date.now();
    leader!.child.kill('SIGKILL');
    await leader!.exited;
    await until('the other replica holds the lock', async () => (await leaderLockHolder(db))?.endsWith(` pid ${other.pid}`), 5_000);
    expect(Date.now() - killedAt, 'ms from the kill to the new leader').toBeLessThan(INTERVAL_MS + 1500);
    await until('its log says so', async () => other.output().includes('became the leader'), 2_000);

    // Its monitor ticks: new traffic is counted, by the only replica left.
    expect(await lab.ping(lab.clientNs, serverTunnelIp, 3)).toBe(true);
    await until('the new leader counts the traffic', async () => (await rx()) > counted, 3 * INTERVAL_MS + 2_000);
  }, 150_000);
});
