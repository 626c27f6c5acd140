// The webhook as Telegram sees it (BOT_MODE=webhook): WEBHOOK_URL must answer TLS with a chain a
// public CA signed (the bot uploads no certificate of its own), and getWebhookInfo tells which URL
// Telegram calls, how many updates wait, and its last delivery error.
import net from 'node:net';
import tls from 'node:tls';
import type { Config } from '../../config.js';
import { callBotApi } from '../telegram.js';
import { type Check, type CheckResult, errorText, fail, pass, warn } from './check.js';
import type { DoctorEnv } from './host.js';

const TLS_TIMEOUT_MS = 10_000;
const EXPIRY_WARN_DAYS = 14;
/** A delivery error older than this is history, not a problem now. */
const RECENT_ERROR_S = 24 * 3600;
const DAY_MS = 86_400_000;

/** Telegram's WebhookInfo, the fields the doctor reads. */
interface WebhookInfo {
  url: string;
  pending_update_count: number;
  last_error_date?: number;
  last_error_message?: string;
}

export const checkWebhookCertificate: Check = async (denv, config) => {
  const webhook = config.http.webhook;
  if (!webhook) return [];
  const name = 'webhook certificate';
  const url = new URL(webhook.url);
  if (url.protocol !== 'https:') {
    return fail(name, `WEBHOOK_URL is ${url.protocol.slice(0, -1)}; Telegram calls only HTTPS webhooks`, "use an https:// URL served with a certificate from a public CA (e.g. Let's Encrypt on a reverse proxy)");
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  const where = `${host}:${port}`;
  let cert: tls.PeerCertificate;
  try {
    cert = await peerCertificate(host, port, denv.webhookCa);
  } catch (e) {
    const { reason, connection } = describeTlsError(e, host);
    const fix = connection
      ? `start the bot (or the reverse proxy in front of it) and open port ${port} to Telegram`
      : `serve a certificate for ${host} from a public CA with its full chain (e.g. Let's Encrypt fullchain.pem)`;
    return fail(name, `${where}: ${reason}`, fix);
  }
  const days = Math.floor((Date.parse(cert.valid_to) - denv.now()) / DAY_MS);
  const detail = `${where}: ${cert.subject?.CN ?? 'no CN'}, issued by ${cert.issuer?.CN ?? cert.issuer?.O ?? 'unknown'}, expires in ${days} days (${new Date(cert.valid_to).toISOString().slice(0, 10)})`;
  return days < EXPIRY_WARN_DAYS ? warn(name, `${detail}; renew it soon`) : pass(name, detail);
};

/** The certificate `host:port` presents, verified against the system CAs (or `ca`) and the host name; rejects with the reason otherwise. */
function peerCertificate(host: string, port: number, ca: Buffer | undefined): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    // SNI takes names only (RFC 6066); an IP is still checked against the certificate's IP entries.
    const socket = tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...(ca ? { ca } : {}), timeout: TLS_TIMEOUT_MS });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(Object.assign(new Error(`no TLS answer within ${TLS_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', (e) => {
      socket.destroy();
      reject(e);
    });
  });
}

/** The reason in words; `connection`: nothing answered (as opposed to a certificate Telegram would refuse). */
function describeTlsError(e: unknown, host: string): { reason: string; connection: boolean } {
  const code = (e as { code?: string }).code ?? '';
  const reasons: Record<string, string> = {
    DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
    SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a self-signed CA that is not trusted',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate is not signed by a trusted CA (or the chain is incomplete)',
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is not signed by a trusted CA (or the chain is incomplete)',
    CERT_HAS_EXPIRED: 'the certificate has expired',
    CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  };
  const connectionReasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: `${host} does not resolve`,
    EAI_AGAIN: `${host} does not resolve`,
    ETIMEDOUT: `no TLS answer within ${TLS_TIMEOUT_MS / 1000} s`,
    EHOSTUNREACH: 'host unreachable',
  };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    // Node's message lists only the entries of the kind asked for (IP or DNS): name them all.
    const names = (e as { cert?: tls.PeerCertificate }).cert?.subjectaltname ?? 'no subjectAltName';
    return { reason: `the certificate is for ${names}, not ${host}`, connection: false };
  }
  if (reasons[code]) return { reason: `${reasons[code]} (${errorText(e)})`, connection: false };
  if (connectionReasons[code]) return { reason: connectionReasons[code], connection: true };
  return { reason: errorText(e), connection: false };
}

/**
 * What Telegram holds. Webhook mode: a different URL fails (updates go elsewhere until the bot sets
 * its own on start), none set yet warns, a delivery error in the last day warns. Polling mode: a set
 * webhook warns (getUpdates answers 409 until the bot deletes it on start; another instance in
 * webhook mode with this token would lose it).
 */
export async function checkWebhookInfo(denv: DoctorEnv, config: Config): Promise<CheckResult> {
  const name = 'webhook';
  let info: WebhookInfo;
  try {
    const answer = await callBotApi<WebhookInfo>(denv.fetch, config.telegramApiRoot, config.botToken, 'getWebhookInfo');
    if (!answer.ok) return fail(name, `getWebhookInfo answered ${answer.status} ${answer.description}`, 'check BOT_TOKEN and TELEGRAM_API_ROOT');
    info = answer.result;
  } catch (e) {
    return fail(name, errorText(e), 'check the network, then run the doctor again');
  }
  const pending = `${info.pending_update_count} pending update(s)`;
  const wanted = config.http.webhook?.url;
  if (!wanted) {
    if (!info.url) return pass(name, `none set (BOT_MODE=polling), ${pending}`);
    return warn(name, `Telegram has a webhook set (${info.url}) while BOT_MODE=polling: getUpdates fails with 409 until the bot deletes it on start; make sure no other instance runs this bot in webhook mode`);
  }
  if (!info.url) return warn(name, `Telegram has no webhook set yet (the bot sets ${wanted} when it starts), ${pending}`);
  if (info.url !== wanted) {
    return fail(name, `Telegram calls ${info.url}, WEBHOOK_URL is ${wanted} (${pending})`, 'restart the bot so it sets WEBHOOK_URL; if it changes back, another instance runs with this token');
  }
  const ageS = info.last_error_date ? Math.floor(denv.now() / 1000) - info.last_error_date : null;
  if (ageS !== null && ageS < RECENT_ERROR_S) {
    return warn(name, `${wanted}, ${pending}; last delivery error ${formatAge(ageS)} ago: ${info.last_error_message ?? 'no message'}`);
  }
  return pass(name, `${wanted}, ${pending}`);
}

function formatAge(s: number): string {
  if (s < 120) return `${Math.max(0, s)} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h`;
}
