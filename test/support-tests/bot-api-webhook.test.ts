// The stand-in calls the bot's webhook as Telegram does: HTTPS with certificate verification, retries
// with back-off until a 2xx, at most max_connections POSTs at once, a timeout, getWebhookInfo.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Bot } from 'grammy';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BotApiStandIn, type BotApiStandInOptions, type UserInput } from '../support/bot-api.js';
import { StandInClient } from '../support/bot-api-client.js';

const run = promisify(execFile);
const TOKEN = '123456:TEST-token_abc';
const alice: UserInput = { id: 1001, first_name: 'Alice' };
const FAST = { retryBaseMs: 50, retryCapMs: 1000 };

interface Pki {
  ca: Buffer;
  otherCa: Buffer;
  /** A leaf for IP 127.0.0.1 and one for 127.0.0.2, both signed by `ca`. */
  leaf: { key: Buffer; cert: Buffer };
  wrongName: { key: Buffer; cert: Buffer };
}

/** A CA, another CA, and leaves signed by the first, made with openssl in a temp dir. */
async function makePki(dir: string): Promise<Pki> {
  const f = (name: string) => path.join(dir, name);
  const ca = async (name: string) =>
    run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`), '-days', '2', '-subj', `/CN=${name}`]);
  const leaf = async (name: string, ip: string) => {
    await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${ip}`]);
    await fs.writeFile(f(`${name}.ext`), `subjectAltName=IP:${ip}\n`);
    await run('openssl', ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`)]);
    return { key: await fs.readFile(f(`${name}.key`)), cert: await fs.readFile(f(`${name}.pem`)) };
  };
  await ca('ca');
  await ca('other');
  return { ca: await fs.readFile(f('ca.pem')), otherCa: await fs.readFile(f('other.pem')), leaf: await leaf('leaf', '127.0.0.1'), wrongName: await leaf('wrong', '127.0.0.2') };
}

let dir: string;
let pki: Pki;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'webhook-pki-'));
  pki = await makePki(dir);
});
afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function standIn(opts: Omit<BotApiStandInOptions, 'token'> = {}) {
  const server = new BotApiStandIn({ token: TOKEN, rateLimit: false, ...opts });
  closers.push(() => server.close());
  await server.listen();
  return { server, bot: new Bot(TOKEN, { client: { apiRoot: server.apiRoot } }) };
}

/** A webhook receiver on 127.0.0.1 (HTTPS when given a key and certificate); returns its base URL. */
async function receiver(handler: http.RequestListener, tls?: { key: Buffer; cert: Buffer }): Promise<string> {
  const srv = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => {
    srv.close(() => r());
    srv.closeAllConnections();
  }));
  return `${tls ? 'https' : 'http'}://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
}

/** Reads the POSTed update's id, then answers `status` after `delayMs`. */
function answer(req: http.IncomingMessage, res: http.ServerResponse, status: number, delayMs = 0): Promise<number> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = (JSON.parse(Buffer.concat(chunks).toString()) as { update_id: number }).update_id;
      resolve(id);
      setTimeout(() => res.writeHead(status).end(), delayMs);
    });
  });
}

describe('webhook delivery', () => {
  it('POSTs over HTTPS to a server whose certificate chains to the CA the test gave, with the secret header', async () => {
    const seen: (string | undefined)[] = [];
    const url = await receiver((req, res) => {
      seen.push(req.headers['x-telegram-bot-api-secret-token'] as string | undefined);
      void answer(req, res, 200);
    }, pki.leaf);
    const { server, bot } = await standIn({ webhook: { ...FAST, ca: pki.ca } });
    await bot.api.setWebhook(url, { secret_token: 's3cret' });
    const u = server.sendText(alice, 'over tls');
    await vi.waitFor(() => expect(server.webhookDeliveries.map((d) => [d.update_id, d.status, d.error])).toEqual([[u.update_id, 200, undefined]]));
    expect(seen).toEqual(['s3cret']);
    await vi.waitFor(async () => expect((await bot.api.getWebhookInfo()).pending_update_count).toBe(0));
  });

  it.each([
    ['an unknown CA', 'otherCa', 'leaf', /self[- ]signed|unable to (get|verify)/i],
    ['a name the certificate does not cover', 'ca', 'wrongName', /IP: 127\.0\.0\.1 is not in the cert's list/],
  ] as const)('refuses a certificate for %s: the error is recorded, the update stays pending and is tried again', async (_, ca, leaf, error) => {
    let reached = 0;
    const url = await receiver((req, res) => {
      reached++;
      void answer(req, res, 200);
    }, pki[leaf]);
    const { server, bot } = await standIn({ webhook: { ...FAST, ca: pki[ca] } });
    await bot.api.setWebhook(url);
    server.sendText(alice, 'over tls');
    await vi.waitFor(() => expect(server.webhookDeliveries.length).toBeGreaterThanOrEqual(3), { timeout: 5000 });
    for (const d of server.webhookDeliveries) expect([d.status, d.error]).toEqual([null, expect.stringMatching(error)]);
    expect(reached).toBe(0);
    const info = await bot.api.getWebhookInfo();
    expect(info).toMatchObject({ url, pending_update_count: 1, has_custom_certificate: false, max_connections: 40 });
    expect(info.last_error_message).toMatch(error);
    expect(Math.abs(info.last_error_date! - Date.now() / 1000)).toBeLessThan(5);
  });

  it('retries an update with growing gaps until a 2xx; getWebhookInfo shows the last error and the pending count', async () => {
    let n = 0;
    const url = await receiver((req, res) => void answer(req, res, ++n <= 2 ? 500 : 200, n === 2 ? 300 : 0));
    const { server, bot } = await standIn({ webhook: FAST });
    await bot.api.setWebhook(url);
    const u = server.sendText(alice, 'again');
    await vi.waitFor(() => expect(server.webhookDeliveries).toHaveLength(2));
    expect(await bot.api.getWebhookInfo()).toMatchObject({ pending_update_count: 1, last_error_message: 'Wrong response from the webhook: 500 Internal Server Error' });
    await vi.waitFor(() => expect(server.webhookDeliveries).toHaveLength(3));
    const d = server.webhookDeliveries;
    expect(d.map((x) => [x.update_id, x.status])).toEqual([[u.update_id, 500], [u.update_id, 500], [u.update_id, 200]]);
    // 50 ms after the first failure; the second answer took 300 ms, then 100 ms more.
    expect(d[1]!.at - d[0]!.at).toBeGreaterThanOrEqual(45);
    expect(d[2]!.at - d[1]!.at).toBeGreaterThanOrEqual(395);
    expect((await bot.api.getWebhookInfo()).pending_update_count).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.webhookDeliveries).toHaveLength(3);
  });

  it('keeps at most max_connections POSTs in flight, starting them in update_id order', async () => {
    const started: number[] = [];
    const url = await receiver((req, res) => void answer(req, res, 200, 150).then((id) => started.push(id)));
    const { server, bot } = await standIn({ webhook: FAST });
    await bot.api.setWebhook(url, { max_connections: 2 });
    expect((await bot.api.getWebhookInfo()).max_connections).toBe(2);
    const ids = [1, 2, 3, 4, 5].map((i) => server.sendText(alice, `m${i}`).update_id);
    await vi.waitFor(() => expect(server.webhookDeliveries).toHaveLength(5));
    expect(server.webhookDeliveries.every((d) => d.status === 200)).toBe(true);
    expect(server.webhookPeakInFlight).toBe(2);
    // Two at a time in update_id order (the two of a pair may reach the receiver either way round).
    const pairs = (xs: number[]) => [xs.slice(0, 2).sort(), xs.slice(2, 4).sort(), xs.slice(4)];
    expect(pairs(started)).toEqual(pairs(ids));

    // The default (40) lets all five go at once.
    const other = await standIn({ webhook: FAST });
    await other.bot.api.setWebhook(url);
    for (let i = 0; i < 5; i++) other.server.sendText(alice, `n${i}`);
    await vi.waitFor(() => expect(other.server.webhookDeliveries).toHaveLength(5));
    expect(other.server.webhookPeakInFlight).toBe(5);
  });

  it('counts a POST unanswered within the timeout as failed and POSTs the update again', async () => {
    const got: number[] = [];
    const url = await receiver((req, res) => void answer(req, res, 200, got.length === 0 ? 5000 : 0).then((id) => got.push(id)));
    const { server } = await standIn({ webhook: { ...FAST, timeoutMs: 200 } });
    await new Bot(TOKEN, { client: { apiRoot: server.apiRoot } }).api.setWebhook(url);
    const u = server.sendText(alice, 'slow');
    await vi.waitFor(() => expect(server.webhookDeliveries).toHaveLength(2));
    expect(server.webhookDeliveries.map((d) => [d.status, d.error])).toEqual([[null, 'Read timeout expired (200 ms)'], [200, undefined]]);
    expect(got).toEqual([u.update_id, u.update_id]);
  });

  it('drop_pending_updates forgets the queued updates', async () => {
    const url = await receiver((req, res) => void answer(req, res, 500));
    const { server, bot } = await standIn({ webhook: { retryBaseMs: 5000, retryCapMs: 5000 } });
    await bot.api.setWebhook(url);
    server.sendText(alice, 'a');
    server.sendText(alice, 'b');
    await vi.waitFor(async () => expect((await bot.api.getWebhookInfo()).last_error_date).toBeDefined());
    expect((await bot.api.getWebhookInfo()).pending_update_count).toBe(2);
    await bot.api.setWebhook(url, { drop_pending_updates: true });
    expect((await bot.api.getWebhookInfo()).pending_update_count).toBe(0);
    await bot.api.deleteWebhook();
    expect(await bot.api.getWebhookInfo()).toEqual({ url: '', has_custom_certificate: false, pending_update_count: 0 });
  });

  it('in its own process, takes the CA file, back-off and timeout from its options', async () => {
    await fs.writeFile(path.join(dir, 'trusted.pem'), pki.ca);
    let n = 0;
    const url = await receiver((req, res) => void answer(req, res, 200, ++n === 1 ? 5000 : 0), pki.leaf);
    const api = await StandInClient.start({ token: TOKEN, rateLimit: false, webhookCaFile: path.join(dir, 'trusted.pem'), webhookRetryMs: [50, 1000], webhookTimeoutMs: 200 });
    closers.push(() => api.stop());
    await new Bot(TOKEN, { client: { apiRoot: api.apiRoot } }).api.setWebhook(url, { max_connections: 1 });
    const u = await api.sendText(alice, 'from afar');
    await vi.waitFor(async () => expect((await api.webhook()).deliveries.map((d) => [d.update_id, d.status, d.error])).toEqual([
      [u.update_id, null, 'Read timeout expired (200 ms)'],
      [u.update_id, 200, undefined],
    ]), { timeout: 5000 });
    expect((await api.webhook()).peakInFlight).toBe(1);
  });
});
