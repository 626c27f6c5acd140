// deploy/nginx/andreyvpn.conf.template and deploy/large/docker-compose.yml: the template rendered
// as the nginx image renders it, checked by the real `nginx -t` with a self-signed certificate, and
// the compose file validated by the real `docker-compose config`. Under CI=true a missing nginx,
// openssl or docker-compose fails (.ci/run installs them).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { nginxArgv, nginxAvailable as nginxInstalled, NGINX, NGINX_TEMPLATE as TEMPLATE, readTemplate, renderTemplate as render, runCode as run, selfSignedCert, TEMPLATE_ACCESS_LOG, TEMPLATE_LISTEN, writeNginxConf } from '../support/nginx.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const COMPOSE = 'deploy/large/docker-compose.yml';
const ci = process.env.CI === 'true';

const nginxAvailable = await nginxInstalled();
const composeAvailable = await run('docker-compose', ['version']).then((r) => r.code === 0, () => false);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'andreyvpn-nginx-'));
  dirs.push(d);
  return d;
};

const template = readTemplate();
const compose = read(COMPOSE);
/** The template's variables: every ${NAME} (nginx's own variables are written $name). */
const templateVars = [...new Set([...template.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))].sort();

describe('nginx template: what it says', () => {
  const webhook = /location = \$\{WEBHOOK_PATH\} \{([\s\S]*?)\n    \}/.exec(template)?.[1] ?? '';

  it('uses exactly the variables the compose file gives nginx', () => {
    expect(templateVars).toEqual(['BOT_DOMAIN', 'BOT_REPLICA_1', 'BOT_REPLICA_2', 'TLS_CERT_DIR', 'WEBHOOK_PATH']);
    const nginxEnv = /^ {2}nginx:\n[\s\S]*?^ {4}environment:\n((?: {6}.*\n)+)/m.exec(compose)?.[1] ?? '';
    for (const v of templateVars) expect(nginxEnv, `compose gives nginx no ${v}`).toMatch(new RegExp(`^ {6}${v}: `, 'm'));
    expect(compose).toMatch(/- \.\.\/nginx\/andreyvpn\.conf\.template:\/etc\/nginx\/templates\/andreyvpn\.conf\.template:ro/);
  });

  it('every ${VAR} the compose file uses is documented in the README', () => {
    const code = compose.split('\n').map((l) => l.replace(/(^|\s)#.*$/, '')).join('\n');
    const vars = new Set([...code.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    expect([...vars].sort()).toEqual(['BOT_DOMAIN', 'POSTGRES_PASSWORD', 'WEBHOOK_PATH']);
    const readme = read('README.md');
    for (const v of vars) expect(readme, `${v} is not documented in README.md`).toContain(`\`${v}\``);
  });

  it('proxies the webhook path to both replicas, failing POSTs over too', () => {
    expect(webhook).toMatch(/proxy_pass http:\/\/andreyvpn_bots;/);
    expect(template).toMatch(/upstream andreyvpn_bots \{[^}]*server \$\{BOT_REPLICA_1\}[^}]*server \$\{BOT_REPLICA_2\}/);
    expect(webhook).toMatch(/proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;/);
    expect(webhook).toMatch(/limit_except POST/);
    // The secret token header must reach the bot: nothing may turn request headers off or clear it.
    expect(template).not.toMatch(/proxy_pass_request_headers\s+off|X-Telegram-Bot-Api-Secret-Token\s+""/i);
  });

  it('keeps bodies and the secret out of the access log, and /healthz, /metrics off the internet', () => {
    const format = /log_format andreyvpn ([^;]+);/.exec(template)?.[1] ?? '';
    expect(format).toMatch(/\$status/);
    expect(format).not.toMatch(/request_body|http_x_telegram|\$request\b|\$args|\$query_string/);
    expect(template).toMatch(/access_log \S+ andreyvpn;/);
    expect(template).toMatch(/location \/ \{\s*return 404;\s*\}/);
    expect(template).not.toMatch(/location[^{]*(healthz|metrics)/);
    expect(template).toMatch(/client_max_body_size 1m;/);
  });
});

/** A temporary prefix with a self-signed certificate; write() puts conf where the image's conf.d would include it. */
async function nginxPrefix(): Promise<{ dir: string; certs: string; write: (conf: string) => string }> {
  if (!nginxAvailable) throw new Error('nginx or openssl is not installed (CI=true, refusing to skip); .ci/run installs them');
  const dir = tmp();
  const certs = path.join(dir, 'certs');
  fs.mkdirSync(certs);
  await selfSignedCert(certs, 'bot.test');
  expect(template).toContain(TEMPLATE_ACCESS_LOG);
  return { dir, certs, write: (conf) => writeNginxConf(dir, conf) };
}

const testVars = (certs: string) => ({ BOT_DOMAIN: 'bot.test', TLS_CERT_DIR: certs, WEBHOOK_PATH: '/telegram-hook', BOT_REPLICA_1: '127.0.0.1:18081', BOT_REPLICA_2: '127.0.0.1:18082' });

describe.skipIf(!nginxAvailable && !ci)('nginx -t on the rendered template (real nginx)', () => {
  it('accepts it with a self-signed certificate; a missing certificate or an unrendered variable is refused', async () => {
    const { dir, certs, write } = await nginxPrefix();
    const vars = testVars(certs);
    const nginxTest = (conf: string) => run(NGINX, ['-t', '-q', '-p', dir, '-c', write(conf), '-g', 'error_log stderr;']);
    const rendered = render(template, vars);
    expect(rendered).not.toMatch(/\$\{/);
    expect(rendered).toContain('location = /telegram-hook {');
    const ok = await nginxTest(rendered);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    // nginx -t really reads what it is given: no certificate, or a variable left as ${...}, fails.
    const noCert = await nginxTest(render(template, { ...vars, TLS_CERT_DIR: path.join(dir, 'missing') }));
    expect(noCert.code).not.toBe(0);
    expect(noCert.stderr).toMatch(/missing\/fullchain\.pem/);
    const unrendered = await nginxTest(render(template, { ...vars, BOT_REPLICA_2: '${BOT_REPLICA_2}' }));
    expect(unrendered.code).not.toBe(0);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// The rendered template served by a real nginx on a loopback port, before two stand-in replicas.

interface Replica {
  port: number;
  seen: { method: string; url: string; secret: string | undefined; body: string }[];
  status: number;
  close: () => Promise<void>;
}

async function replica(): Promise<Replica> {
  const r: Replica = { port: 0, seen: [], status: 200, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.seen.push({ method: req.method ?? '', url: req.url ?? '', secret: req.headers['x-telegram-bot-api-secret-token'] as string | undefined, body: Buffer.concat(chunks).toString() });
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = (server.address() as AddressInfo).port;
  r.close = () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
  return r;
}

const freePort = async (): Promise<number> => {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
};

function request(port: number, method: string, urlPath: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path: urlPath, servername: 'bot.test', rejectUnauthorized: false, agent: false,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe.skipIf(!nginxAvailable && !ci)('the rendered template served by nginx (real nginx, stand-in replicas)', () => {
  it('proxies webhook POSTs with the secret header, fails them over, and hides everything else', async () => {
    const { dir, certs } = await nginxPrefix();
    const a = await replica();
    const b = await replica();
    const port = await freePort();
    expect(template).toContain(TEMPLATE_LISTEN);
    const conf = render(template, { ...testVars(certs), BOT_REPLICA_1: `127.0.0.1:${a.port}`, BOT_REPLICA_2: `127.0.0.1:${b.port}` }).replace(TEMPLATE_LISTEN, `listen 127.0.0.1:${port} ssl;`);
    const [cmd, ...args] = nginxArgv(dir, conf);
    const nginx: ChildProcess = spawn(cmd!, args, { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 10_000;
      while (!(await request(port, 'GET', '/').then(() => true, () => false))) {
        if (Date.now() > deadline || nginx.exitCode !== null) throw new Error(`nginx did not start: ${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const secret = { 'X-Telegram-Bot-Api-Secret-Token': 'secret-token-1234567890' };
      const update = (id: number) => JSON.stringify({ update_id: id, message: { text: `private text ${id}` } });

      // Proxied, secret header and body intact, alternating between the replicas.
      for (const id of [1, 2]) expect(await request(port, 'POST', '/telegram-hook', update(id), secret)).toEqual({ status: 200, body: '{"ok":true}' });
      expect(a.seen).toHaveLength(1);
      expect(b.seen).toHaveLength(1);
      for (const s of [...a.seen, ...b.seen]) expect(s).toMatchObject({ method: 'POST', url: '/telegram-hook', secret: 'secret-token-1234567890' });
      expect([...a.seen, ...b.seen].map((s) => JSON.parse(s.body).update_id).sort()).toEqual([1, 2]);

      // /healthz, /metrics and other paths: 404 from nginx itself; a GET on the webhook path: 403.
      for (const p of ['/healthz', '/metrics', '/', '/telegram-hook/x']) expect((await request(port, 'GET', p)).status, p).toBe(404);
      expect((await request(port, 'GET', '/telegram-hook')).status).toBe(403);
      expect(a.seen.length + b.seen.length).toBe(2);

      // A replica answering 503: the POST goes on to the other one (non_idempotent).
      a.status = 503;
      a.seen.length = 0;
      b.seen.length = 0;
      for (const id of [3, 4, 5, 6]) expect((await request(port, 'POST', '/telegram-hook', update(id), secret)).status).toBe(200);
      expect(a.seen.length).toBeGreaterThan(0);
      expect(b.seen.map((s) => JSON.parse(s.body).update_id)).toEqual([3, 4, 5, 6]);

      // A replica that is down: every POST still reaches the other one.
      await a.close();
      b.seen.length = 0;
      for (const id of [7, 8, 9, 10]) expect((await request(port, 'POST', '/telegram-hook', update(id), secret)).status).toBe(200);
      expect(b.seen.map((s) => JSON.parse(s.body).update_id)).toEqual([7, 8, 9, 10]);

      // The access log has the requests, but neither bodies nor the secret.
      const log = fs.readFileSync(path.join(dir, 'access.log'), 'utf8');
      expect(log).toMatch(/"POST \/telegram-hook HTTP\/1\.1" 200/);
      expect(log).toMatch(/"GET \/metrics HTTP\/1\.1" 404/);
      expect(log).not.toMatch(/private text|secret-token/);
    } finally {
      nginx.kill('SIGTERM');
      await a.close();
      await b.close();
    }
  }, 60_000);
});

describe.skipIf(!composeAvailable && !ci)('deploy/large/docker-compose.yml (real docker-compose)', () => {
  const cleanEnv = (): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = {};
    for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL']) if (process.env[k] !== undefined) env[k] = process.env[k];
    return env;
  };
  // A copy laid out as in the repository (deploy/large, deploy/nginx), with .env.example plus extra as .env.
  const project = (extra: string): string => {
    if (!composeAvailable) throw new Error('docker-compose is not installed (CI=true, refusing to skip); .ci/run installs it');
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'deploy/large'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'deploy/nginx'));
    fs.copyFileSync(path.join(ROOT, COMPOSE), path.join(dir, COMPOSE));
    fs.copyFileSync(path.join(ROOT, TEMPLATE), path.join(dir, TEMPLATE));
    fs.writeFileSync(path.join(dir, 'deploy/large/.env'), read('.env.example') + extra);
    return path.join(dir, COMPOSE);
  };

  it('accepts the file with POSTGRES_PASSWORD and BOT_DOMAIN set, and resolves the setup', async () => {
    const file = project('\nPOSTGRES_PASSWORD=pw-for-test\nBOT_DOMAIN=bot.example.com\nWEBHOOK_PATH=/hook-1\nBOT_MODE=polling\nVPN_LOCAL=on\n');
    const q = await run('docker-compose', ['-f', file, 'config', '-q'], cleanEnv());
    expect(q.stderr).toBe('');
    expect(q.code).toBe(0);
    const out = (await run('docker-compose', ['-f', file, 'config'], cleanEnv())).stdout;
    expect(out).toMatch(/^ {2}bot1:$/m);
    expect(out).toMatch(/^ {2}bot2:$/m);
    // The compose file's environment wins over .env: webhook mode and no local node on either replica.
    expect(out.match(/BOT_MODE: webhook/g)).toHaveLength(2);
    expect(out.match(/VPN_LOCAL: '?"?off/g)).toHaveLength(2);
    expect(out.match(/DATABASE_URL: postgres:\/\/andreyvpn:pw-for-test@postgres:5432\/andreyvpn/g)).toHaveLength(2);
    expect(out).toMatch(/TLS_CERT_DIR: \/etc\/letsencrypt\/live\/bot\.example\.com/);
    expect(out).toMatch(/WEBHOOK_PATH: \/hook-1/);
    expect(out).toMatch(/\/etc\/letsencrypt:\/etc\/letsencrypt:ro/);
    expect(out).toMatch(/condition: service_healthy/);
    expect(out).toMatch(/pg_isready/);
    expect(out).toMatch(/postgres-data:\/var\/lib\/postgresql\/data/);
    // Only nginx publishes a port; the bots are reached through it alone.
    expect(out.match(/published:|- ['"]?\d+:\d+/g)).toHaveLength(1);
  }, 60_000);

  it('refuses to start without POSTGRES_PASSWORD, naming it', async () => {
    const r = await run('docker-compose', ['-f', project('\nBOT_DOMAIN=bot.example.com\n'), 'config', '-q'], cleanEnv());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/POSTGRES_PASSWORD/);
  }, 60_000);
});

describe('.ci/run', () => {
  it('installs nginx with the other Debian packages', () => {
    const pkgs = /for pkg in ([^;]+); do/.exec(read('.ci/run'))?.[1]?.split(/\s+/) ?? [];
    expect(pkgs).toContain('nginx');
  });
});
