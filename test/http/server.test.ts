import type { KyselyPlugin } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeUpdates } from '../../src/db/inbox.js';
import { peersOfUser } from '../../src/db/peers.js';
import { findUser } from '../../src/db/users.js';
import { HealthWatch } from '../../src/health.js';
import { type HttpServer, startHttp } from '../../src/http/server.js';
import { createMetrics, METRICS_CACHE_MS } from '../../src/metrics.js';
import { startMonitor } from '../../src/monitor/index.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import { textUpdate } from '../support/recorder.js';

const SECRET = 'webhook-secret-0123456789';
const TOKEN = 'metrics-token-0123456789abcdef';
const STALE_MS = 180_000;

describe('HTTP server: webhook, /healthz, /metrics', () => {
  let h: Harness;
  let server: HttpServer;
  let base: string;
  let health: HealthWatch;
  /** Statements that /metrics and /healthz (the health probe) sent to the database. */
  let queries = 0;
  /** Commands run on the node for any reason, `ifindex` included. */
  let nodeCommands = 0;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
    queries = 0;
    nodeCommands = 0;
    const counting: KyselyPlugin = {
      transformQuery: (a) => {
        queries++;
        return a.node;
      },
      transformResult: async (a) => a.result,
    };
    const counted = h.db.withPlugin(counting);
    const ifindex = h.wg.ifindex.bind(h.wg);
    h.wg.ifindex = (iface: string) => {
      nodeCommands++;
      return ifindex(iface);
    };
    h.deps.metrics = createMetrics(counted, h.deps.now);
    health = new HealthWatch({ db: counted, nodes: () => h.fleet.names(), adminIds: [ADMIN_A.id], botUp: () => true, intervalMs: 3_600_000, staleAfterMs: STALE_MS, log: h.deps.log, now: h.deps.now });
    await health.start();
    server = await startHttp({
      host: '127.0.0.1',
      port: 0,
      // As the app does it, but handled before the 200 here, so the test can look at once.
      onUpdate: async (update) => {
        for (const u of await storeUpdates(h.db, [update], 1, h.deps.now())) await h.handle(u);
      },
      webhook: { url: 'https://bot.example.com/tg/hook', secret: SECRET },
      metrics: h.deps.metrics,
      metricsToken: TOKEN,
      log: h.deps.log,
      health: () => health.report(),
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterEach(async () => {
    await server.close();
    await health.stop();
    await h.close();
  });

  const get = (pathname: '/healthz' | '/metrics', authorization: string | null = `Bearer ${TOKEN}`) =>
    fetch(`${base}${pathname}`, authorization === null ? {} : { headers: { authorization } });

  const post = (body: unknown, secret?: string) =>
    fetch(`${base}/tg/hook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(secret ? { 'x-telegram-bot-api-secret-token': secret } : {}) },
      body: JSON.stringify(body),
    });

  it('an update with the right secret is handled; a wrong or missing secret gets 401 and nothing is processed', async () => {
    const user = { id: 515, first_name: 'Web', language_code: 'en' };
    for (const secret of [undefined, 'wrong-secret-0123456789', `${SECRET}x`]) {
      const res = await post(textUpdate(user, '/start'), secret);
      expect(res.status).toBe(401);
    }
    expect(await findUser(h.db, user.id)).toBeUndefined();
    expect(h.rec.calls).toHaveLength(0);

    const update = textUpdate(user, '/start');
    const ok = await post(update, SECRET);
    expect(ok.status).toBe(200);
    expect((await findUser(h.db, user.id))?.status).toBe('pending');
    expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Access request');
    // Telegram repeats an update whose 200 it missed: stored once, handled once.
    const calls = h.rec.calls.length;
    expect((await post(update, SECRET)).status).toBe(200);
    expect(h.rec.calls).toHaveLength(calls);
    expect((await post({ no: 'update' }, SECRET)).status).toBe(400);
    expect((await fetch(`${base}/other`, { method: 'POST' })).status).toBe(404);
  });

  it('/healthz answers from the last probe and tick without a command on the node: 503 once the monitor finds the node down or stops ticking', async () => {
    const up = await get('/healthz');
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ ok: true, bot: 'up', database: 'up', interface: 'up', nodes: { awg0: 'up' }, tickAgeSeconds: null });

    // The interface is gone: /healthz does not look itself, the monitor's next tick finds it.
    h.wg.up_ = false;
    h.wg.failing = 'Unable to access interface: No such device';
    const before = { commands: nodeCommands, calls: h.wg.calls.length };
    expect((await get('/healthz')).status).toBe(200);
    expect({ commands: nodeCommands, calls: h.wg.calls.length }).toEqual(before);
    const monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), onHealth: (node, ok) => (ok ? h.fleet.markUp(node) : h.fleet.markDown(node)), log: h.deps.log, intervalMs: 3_600_000 });
    await monitor.tick();
    await health.probe();
    const down = await get('/healthz');
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ ok: false, database: 'up', interface: 'down', nodes: { awg0: 'down' } });
    h.wg.failing = null;
    await monitor.tick();
    await monitor.stop();
    await health.probe();
    expect((await get('/healthz')).status).toBe(200);

    // Where the monitor runs, a tick older than STALE_MS (a hung monitor) is a failure too.
    health.monitorStarted();
    h.advance(STALE_MS - 1000);
    expect(await (await get('/healthz')).json()).toMatchObject({ ok: true, tickAgeSeconds: STALE_MS / 1000 - 1 });
    h.advance(2000);
    const stale = await get('/healthz');
    expect(stale.status).toBe(503);
    expect(await stale.json()).toMatchObject({ ok: false, tickAgeSeconds: STALE_MS / 1000 + 1 });
    health.ticked();
    expect(await (await get('/healthz')).json()).toMatchObject({ ok: true, tickAgeSeconds: 0 });
  });

  it('with METRICS_TOKEN, /healthz and /metrics want it as a bearer token; the webhook keeps its own secret', async () => {
    for (const pathname of ['/healthz', '/metrics'] as const) {
      for (const auth of [null, TOKEN, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `bearer ${TOKEN}`, `Basic ${TOKEN}`]) {
        const res = await get(pathname, auth);
        expect(res.status, `${pathname} with ${auth}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
      expect((await get(pathname)).status).toBe(200);
    }
    // Without a token (METRICS_TOKEN unset) both stay open.
    const open = await startHttp({ host: '127.0.0.1', port: 0, onUpdate: async () => {}, webhook: null, metrics: h.deps.metrics!, metricsToken: null, log: h.deps.log, health: () => health.report() });
    try {
      for (const pathname of ['/healthz', '/metrics']) expect((await fetch(`http://127.0.0.1:${open.port}${pathname}`)).status).toBe(200);
    } finally {
      await open.close();
    }
    expect((await post(textUpdate({ id: 516, first_name: 'Web', language_code: 'en' }, '/start'), SECRET)).status).toBe(200);
    expect((await post(textUpdate({ id: 517, first_name: 'Web', language_code: 'en' }, '/start'), TOKEN)).status).toBe(401);
  });

  it('a flood of /healthz and /metrics while approvals run: no command on the node, one database read per cache window, every approval done', async () => {
    const users = Array.from({ length: 20 }, (_, i) => ({ id: 700 + i, first_name: `F${i}`, language_code: 'en' }));
    for (const u of users) await post(textUpdate(u, '/start'), SECRET);
    await post(textUpdate(ADMIN_A, '/admin'), SECRET);
    const approve = (us: typeof users) => Promise.all(us.map((u) => h.press(ADMIN_A, `apr:${u.id}`)));
    // The config file's rewrite is debounced: how many approvals one write covers depends on timing.
    const commandsSince = (from: number) => h.wg.calls.slice(from).filter((c) => !c.startsWith('write ')).length;

    // Baseline: what ten approvals cost the node alone.
    let calls = h.wg.calls.length;
    await approve(users.slice(0, 10));
    const baseline = commandsSince(calls);
    expect(baseline).toBe(10);

    h.advance(METRICS_CACHE_MS); // the next scrape reads the database afresh
    queries = 0;
    nodeCommands = 0;
    calls = h.wg.calls.length;
    const flood = Array.from({ length: 300 }, (_, i) => get(i % 2 ? '/metrics' : '/healthz').then(async (r) => [r.status, await r.text()] as const));
    const [answers] = await Promise.all([Promise.all(flood), approve(users.slice(10))]);
    expect(answers.every(([status]) => status === 200)).toBe(true);
    expect(answers.filter(([, text]) => text.includes('andreyvpn_users{status="active"}'))).toHaveLength(150);
    // The approvals cost the node what they cost without the flood; the flood itself nothing.
    expect(commandsSince(calls)).toBe(baseline);
    expect(nodeCommands).toBe(0);
    // One read of the database for 150 scrapes (its four statements), none for 150 health checks.
    expect(queries).toBe(4);
    for (const u of users) expect((await peersOfUser(h.db, u.id)).map((p) => p.status)).toEqual(['active']);

    // The next window reads again; the counters are live in between.
    h.advance(METRICS_CACHE_MS);
    expect(await (await get('/metrics')).text()).toMatch(/^andreyvpn_users\{status="active"\} 20$/m);
    expect(queries).toBe(8);
  });

  it('/metrics parses as Prometheus text and moves after a scripted flow', async () => {
    const scrape = async () => {
      h.advance(METRICS_CACHE_MS); // a scrape within the cache window would show the database as the last one read it
      const res = await get('/metrics');
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      const values = new Map<string, number>();
      for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
        const m = /^([a-z_:][a-z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+]+|NaN|\+Inf)$/i.exec(line);
        expect(m, `not Prometheus text: ${line}`).not.toBeNull();
        values.set(m![1]!, Number(m![2]));
      }
      return values;
    };
    const before = await scrape();
    expect(before.get('andreyvpn_updates_total')).toBe(0);
    for (const id of [601, 602]) await post(textUpdate({ id, first_name: `M${id}`, language_code: 'en' }, '/start'), SECRET);
    await post(textUpdate(ADMIN_A, '/admin'), SECRET);
    await h.press(ADMIN_A, 'apr:601');
    const h2 = await scrape();
    expect(h2.get('andreyvpn_updates_total')).toBe(4);
    expect(h2.get('andreyvpn_users{status="pending"}')).toBe(1);
    expect(h2.get('andreyvpn_users{status="active"}')).toBe(1);
    expect(h2.get('andreyvpn_peers{status="active"}')).toBe(1);
    expect(h2.get('andreyvpn_provisioning_seconds_count')).toBe(1);
    expect(h2.get('andreyvpn_errors_total')).toBe(0);
    expect(h2.has('andreyvpn_traffic_bytes{direction="to_clients"}')).toBe(true);
    // Everything the approval queued went out (the harness sends the outbox after each update): nothing waits.
    expect(h2.get('andreyvpn_outbox_messages{status="queued"}') ?? 0).toBe(0);
  });
});
