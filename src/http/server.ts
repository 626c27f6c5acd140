import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Update } from 'grammy/types';
import type { Logger } from 'pino';
import type { Health } from '../health.js';
import type { Metrics } from '../metrics.js';

export interface HttpDeps {
  host: string;
  port: number;
  /** Webhook mode: updates arrive as POSTs to the URL's path, with Telegram's secret header. */
  webhook: { url: string; secret: string } | null;
  /** Takes an update for handling; Telegram gets its 200 once this resolves (the update is stored). */
  onUpdate: (update: Update) => Promise<void>;
  metrics: Metrics;
  /** Answered from memory (src/health.ts): a flood of health checks costs no command and no query. */
  health: () => Health;
  /** /healthz and /metrics want `Authorization: Bearer <it>` (401 otherwise); null: open to whoever reaches the port. */
  metricsToken: string | null;
  log: Logger;
}

export interface HttpServer {
  port: number;
  /** Stops taking requests and waits for the ones in flight. */
  close(): Promise<void>;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Webhook bodies above this are refused (Telegram's updates are a few KB). */
const MAX_UPDATE_BYTES = 1 << 20;

async function readUpdate(req: http.IncomingMessage): Promise<Update | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_UPDATE_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  try {
    const u = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Update;
    return typeof u === 'object' && u !== null && Number.isSafeInteger(u.update_id) ? u : null;
  } catch {
    return null;
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Digests of equal length, compared in constant time: the answer's timing tells nothing of a token. */
const sameDigest = (header: string | string[] | undefined, expected: Buffer) => typeof header === 'string' && timingSafeEqual(digest(header), expected);

/** /healthz, /metrics (401 without the metrics token, when one is set), and in webhook mode the update endpoint (401 without Telegram's secret token). */
export async function startHttp(deps: HttpDeps): Promise<HttpServer> {
  const webhookPath = deps.webhook ? new URL(deps.webhook.url).pathname : null;
  const expected = deps.metricsToken === null ? null : digest(`Bearer ${deps.metricsToken}`);
  const authorized = (req: http.IncomingMessage) => expected === null || sameDigest(req.headers.authorization, expected);
  const webhookSecret = deps.webhook ? digest(deps.webhook.secret) : null;
  const server = http.createServer(async (req, res) => {
    try {
      const { pathname } = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'GET' && (pathname === '/healthz' || pathname === '/metrics') && !authorized(req)) {
        res.setHeader('www-authenticate', 'Bearer');
        return json(res, 401, { ok: false, error: 'metrics token' });
      }
      if (req.method === 'GET' && pathname === '/healthz') {
        const h = deps.health();
        return json(res, h.ok ? 200 : 503, h);
      }
      if (req.method === 'GET' && pathname === '/metrics') {
        const text = await deps.metrics.text();
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        return void res.end(text);
      }
      if (deps.webhook && req.method === 'POST' && pathname === webhookPath) {
        if (!sameDigest(req.headers['x-telegram-bot-api-secret-token'], webhookSecret!)) {
          deps.log.warn({ from: req.socket.remoteAddress }, 'webhook request without the right secret token');
          req.resume();
          return json(res, 401, { ok: false, error: 'secret token' });
        }
        const update = await readUpdate(req);
        if (!update) return json(res, 400, { ok: false, error: 'not an update' });
        // Telegram sends it again unless it gets a 2xx: only once it is stored.
        await deps.onUpdate(update);
        return json(res, 200, { ok: true });
      }
      json(res, 404, { ok: false, error: 'not found' });
    } catch (err) {
      deps.log.error({ err }, 'HTTP request failed');
      if (!res.headersSent) json(res, 500, { ok: false });
      else res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
