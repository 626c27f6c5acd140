import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CheckResult, formatResult } from '../../src/ops/doctor/check.js';
import { checkConfig } from '../../src/ops/doctor/environment.js';
import { realDoctorEnv } from '../../src/ops/doctor/real-host.js';
import { checkWebhookCertificate, checkWebhookInfo } from '../../src/ops/doctor/webhook.js';
import { callBotApi } from '../../src/ops/telegram.js';
import { BotApiStandIn } from '../support/bot-api.js';

const TOKEN = '1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const SECRET = 'webhook-secret-0123456789';

let dir: string;
let ca: Buffer;
const servers: https.Server[] = [];
/** Ports of HTTPS servers presenting each certificate. */
const port: Record<'good' | 'other' | 'short' | 'selfSigned', number> = { good: 0, other: 0, short: 0, selfSigned: 0 };
let closedPort: number;
const api = new BotApiStandIn({ token: TOKEN });

const openssl = (...args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });

/** A leaf for `san`, signed by the test CA, valid `days`. */
async function leaf(name: string, san: string, days: number): Promise<void> {
  await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  await fs.writeFile(path.join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', String(days), '-extfile', `${name}.ext`);
}

async function serve(name: string): Promise<number> {
  const [key, cert] = await Promise.all([fs.readFile(path.join(dir, `${name}.key`)), fs.readFile(path.join(dir, `${name}.crt`))]);
  const server = https.createServer({ key, cert }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as net.AddressInfo).port;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-doctor-tls-'));
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', '/CN=Doctor Test CA');
  ca = await fs.readFile(path.join(dir, 'ca.crt'));
  await leaf('localhost', 'IP:127.0.0.1,DNS:localhost', 90);
  await leaf('other.example', 'DNS:other.example', 90);
  await leaf('short', 'IP:127.0.0.1', 7);
  port.good = await serve('localhost');
  port.other = await serve('other.example');
  port.short = await serve('short');
  port.selfSigned = await serve('ca');
  const gone = net.createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  closedPort = (gone.address() as net.AddressInfo).port;
  await new Promise((resolve) => gone.close(resolve));
  await api.listen();
});

afterAll(async () => {
  await api.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** The doctor's view of a bot configured with this webhook URL (null: polling), trusting the test CA unless `trustCa` is false. */
function setUp(webhookUrl: string | null, trustCa = true) {
  const env = {
    BOT_TOKEN: TOKEN,
    ADMIN_IDS: '111',
    VPN_ENDPOINT: 'vpn.example.com',
    TELEGRAM_API_ROOT: api.apiRoot,
    ...(webhookUrl ? { BOT_MODE: 'webhook', WEBHOOK_URL: webhookUrl, WEBHOOK_SECRET: SECRET } : {}),
  };
  const denv = realDoctorEnv(env, trustCa ? { webhookCa: ca } : {});
  const { config, result } = checkConfig(denv);
  if (!config) throw new Error(formatResult(result).join('\n'));
  return { denv, config };
}

const line = (r: CheckResult | CheckResult[]): string => {
  const one = Array.isArray(r) ? r : [r];
  expect(one).toHaveLength(1);
  const text = formatResult(one[0]!)[0]!;
  expect(text).not.toContain(TOKEN);
  expect(text).not.toContain(SECRET);
  return text;
};

const certificate = (url: string | null, trustCa = true) => {
  const { denv, config } = setUp(url, trustCa);
  return checkWebhookCertificate(denv, config);
};

const setWebhook = async (url: string) => {
  const answer = await callBotApi(globalThis.fetch, api.apiRoot, TOKEN, url ? 'setWebhook' : 'deleteWebhook', url ? { url } : {});
  expect(answer.ok).toBe(true);
};

describe('doctor: webhook certificate (real TLS servers, openssl-made certificates)', () => {
  it('a chain the host trusts, for the name in WEBHOOK_URL, passes with subject, issuer and expiry', async () => {
    expect(line(await certificate(`https://127.0.0.1:${port.good}/hook`))).toMatch(
      new RegExp(`^✔ webhook certificate — 127\\.0\\.0\\.1:${port.good}: localhost, issued by Doctor Test CA, expires in (89|90) days \\(\\d{4}-\\d\\d-\\d\\d\\)$`),
    );
    // By name: the name goes out as SNI and is checked against the DNS entries.
    expect(line(await certificate(`https://localhost:${port.good}/hook`))).toMatch(/^✔ webhook certificate — localhost:\d+: localhost, issued by Doctor Test CA/);
  });

  it('expiring within 14 days warns', async () => {
    expect(line(await certificate(`https://127.0.0.1:${port.short}/hook`))).toMatch(/^! webhook certificate — 127\.0\.0\.1:\d+: short, issued by Doctor Test CA, expires in [67] days .*; renew it soon$/);
  });

  it('an untrusted CA, a self-signed certificate and a name mismatch fail, each named', async () => {
    expect(line(await certificate(`https://127.0.0.1:${port.good}/hook`, false))).toMatch(
      /^✘ webhook certificate — 127\.0\.0\.1:\d+: the certificate is not signed by a trusted CA \(or the chain is incomplete\) \(.+\)\. Fix: serve a certificate for 127\.0\.0\.1 from a public CA with its full chain/,
    );
    expect(line(await certificate(`https://127.0.0.1:${port.selfSigned}/hook`, false))).toMatch(/^✘ webhook certificate — 127\.0\.0\.1:\d+: the certificate is self-signed/);
    expect(line(await certificate(`https://127.0.0.1:${port.other}/hook`))).toMatch(/^✘ webhook certificate — 127\.0\.0\.1:\d+: the certificate is for DNS:other\.example, not 127\.0\.0\.1\. Fix: serve a certificate/);
  });

  it('nothing listening fails as refused; plain http fails; polling mode has no certificate check', async () => {
    expect(line(await certificate(`https://127.0.0.1:${closedPort}/hook`))).toBe(
      `✘ webhook certificate — 127.0.0.1:${closedPort}: connection refused. Fix: start the bot (or the reverse proxy in front of it) and open port ${closedPort} to Telegram`,
    );
    expect(line(await certificate(`http://127.0.0.1:${port.good}/hook`))).toMatch(/^✘ webhook certificate — WEBHOOK_URL is http; Telegram calls only HTTPS webhooks\. Fix: use an https:\/\/ URL/);
    expect(await certificate(null)).toEqual([]);
  });
});

describe('doctor: getWebhookInfo (Bot API stand-in over HTTP)', () => {
  const info = (url: string | null) => {
    const { denv, config } = setUp(url);
    return checkWebhookInfo(denv, config).then(line);
  };
  const mine = 'https://bot.example.com/hook';

  it('the URL Telegram has must be WEBHOOK_URL: same passes, none yet warns, another fails', async () => {
    await setWebhook(mine);
    expect(await info(mine)).toBe(`✔ webhook — ${mine}, 0 pending update(s)`);

    await setWebhook('');
    expect(await info(mine)).toBe(`! webhook — Telegram has no webhook set yet (the bot sets ${mine} when it starts), 0 pending update(s)`);

    await setWebhook('https://elsewhere.example/hook');
    expect(await info(mine)).toBe(
      `✘ webhook — Telegram calls https://elsewhere.example/hook, WEBHOOK_URL is ${mine} (0 pending update(s)). Fix: restart the bot so it sets WEBHOOK_URL; if it changes back, another instance runs with this token`,
    );
  });

  it("Telegram's last delivery error and the pending updates are reported", async () => {
    const dead = `http://127.0.0.1:${closedPort}/hook`;
    await setWebhook(dead);
    api.sendText({ id: 111, first_name: 'Ann' }, '/start');
    await vi.waitFor(() => expect(api.webhookDeliveries.length).toBeGreaterThan(0));
    expect(await info(dead)).toMatch(new RegExp(`^! webhook — ${dead}, 1 pending update\\(s\\); last delivery error \\d+ s ago: .*ECONNREFUSED.*$`));
    await setWebhook('');
  });

  it('polling mode: none set passes; a set webhook warns (getUpdates would answer 409)', async () => {
    expect(await info(null)).toMatch(/^✔ webhook — none set \(BOT_MODE=polling\), \d+ pending update\(s\)$/);
    await setWebhook(mine);
    expect(await info(null)).toMatch(new RegExp(`^! webhook — Telegram has a webhook set \\(${mine}\\) while BOT_MODE=polling: getUpdates fails with 409`));
    await setWebhook('');
  });
});
