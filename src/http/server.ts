import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Bot, webhookCallback } from 'grammy';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';

export interface Health {
  ok: boolean;
  bot: 'up' | 'down';
  interface: 'up' | 'down';
}

export interface HttpDeps {
  host: string;
  port: number;
  bot: Bot<any>;
  /** Webhook mode: updates arrive as POSTs to the URL's path, with Telegram's secret header. */
  webhook: { url: string; secret: string } | null;
  metrics: Metrics;
  health: () => Promise<Health>;
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

/** /healthz, /metrics, and in webhook mode the update endpoint (grammY checks the secret token: 401 otherwise). */
export async function startHttp(deps: HttpDeps): Promise<HttpServer> {
  const webhookPath = deps.webhook ? new URL(deps.webhook.url).pathname : null;
  const handleUpdate = deps.webhook
    ? webhookCallback(deps.bot, 'http', { secretToken: deps.webhook.secret, onTimeout: 'return', timeoutMilliseconds: 9_000 })
    : null;
  const server = http.createServer(async (req, res) => {
    try {
      const { pathname } = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'GET' && pathname === '/healthz') {
        const h = await deps.health();
        return json(res, h.ok ? 200 : 503, h);
      }
      if (req.method === 'GET' && pathname === '/metrics') {
        const text = await deps.metrics.text();
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        return void res.end(text);
      }
      if (handleUpdate && req.method === 'POST' && pathname === webhookPath) {
        if (req.headers['x-telegram-bot-api-secret-token'] !== deps.webhook!.secret) {
          deps.log.warn({ from: req.socket.remoteAddress }, 'webhook request without the right secret token');
        }
        return await handleUpdate(req, res);
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
