import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeUpdates } from '../../src/db/inbox.js';
import { findUser } from '../../src/db/users.js';
import { type HttpServer, startHttp } from '../../src/http/server.js';
import { createMetrics } from '../../src/metrics.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import { textUpdate } from '../support/recorder.js';

const SECRET = 'webhook-secret-0123456789';

describe('HTTP server: webhook, /healthz, /metrics', () => {
  let h: Harness;
  let server: HttpServer;
  let base: string;
  beforeEach(async () => {
    h = await createHarness({ captcha: false });
    h.deps.metrics = createMetrics(h.db, h.deps.now);
    server = await startHttp({
      host: '127.0.0.1',
      port: 0,
      // As the app does it, but handled before the 200 here, so the test can look at once.
      onUpdate: async (update) => {
        for (const u of await storeUpdates(h.db, [update], h.deps.now())) await h.handle(u);
      },
      webhook: { url: 'https://bot.example.com/tg/hook', secret: SECRET },
      metrics: h.deps.metrics,
      log: h.deps.log,
      health: async () => {
        const up = (await h.vpn.node('awg0').ifindex()) !== null;
        return { ok: up, bot: 'up', interface: up ? 'up' : 'down' };
      },
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterEach(async () => {
    await server.close();
    await h.close();
  });

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

  it('/healthz is 200 while the interface is up and 503 when it is gone', async () => {
    const up = await fetch(`${base}/healthz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ ok: true, bot: 'up', interface: 'up' });
    h.wg.up_ = false;
    const down = await fetch(`${base}/healthz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ ok: false, interface: 'down' });
  });

  it('/metrics parses as Prometheus text and moves after a scripted flow', async () => {
    const scrape = async () => {
      const res = await fetch(`${base}/metrics`);
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
