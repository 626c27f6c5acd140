import { randomInt } from 'node:crypto';
import path from 'node:path';
import type { AwgProtocol } from '../../src/vpn/types.js';
import { amneziawgGate } from './amneziawg.js';
import type { SentMessage } from './bot-api.js';
import { appDatabase, defaultTestDatabase } from './database.js';
import { flavorTools, type LabProcess, type NetnsLab } from './netns.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** What the bot's interface runs: plain WireGuard, or AmneziaWG with one protocol version. */
export type TunnelFlavor = { flavor: 'wireguard' } | { flavor: 'amneziawg'; awgProtocol: AwgProtocol };
export type TunnelVariant = TunnelFlavor & { name: string };

const WIREGUARD: TunnelVariant = { name: 'VPN_FLAVOR=wireguard', flavor: 'wireguard' };
const AWG1: TunnelVariant = { name: 'VPN_FLAVOR=amneziawg AWG_PROTOCOL=1', flavor: 'amneziawg', awgProtocol: 1 };
const AWG2: TunnelVariant = { name: 'VPN_FLAVOR=amneziawg AWG_PROTOCOL=2', flavor: 'amneziawg', awgProtocol: 2 };

/**
 * The variants a real-tunnel e2e file runs in this test project. Every file already runs once per
 * project, so the two projects split them: each file runs twice in all, every variant runs, and
 * protocol 2 (the one with the most to break) runs on both databases.
 */
export function tunnelVariants(): TunnelVariant[] {
  return defaultTestDatabase() === 'postgres' ? [AWG1, AWG2] : [WIREGUARD, AWG2];
}

/** tunnelVariants(), each with whether it can run here: `parts` is the file's own gate, and AmneziaWG needs amneziawgGate() too. */
export async function gatedVariants(parts: boolean): Promise<(TunnelVariant & { ready: boolean })[]> {
  const variants = tunnelVariants();
  const awg = parts && variants.some((v) => v.flavor === 'amneziawg') && (await amneziawgGate());
  return variants.map((v) => ({ ...v, ready: parts && (v.flavor === 'wireguard' || awg) }));
}

/**
 * The environment for the built bot in the lab's server namespace: the given flavor (and AWG
 * protocol), a unique interface and a random 10.x tunnel subnet, state in the lab's tmp dir, the
 * monitor every second. The database is the test project's: the default SQLite file in DATA_DIR,
 * or (TEST_DATABASE=postgres) a fresh schema reached through PostgreSQL's Unix socket, dropped by
 * lab.cleanup(). PATH is this process's, so an amneziawgGate() before it finds the shared binaries.
 */
export async function botEnv(lab: NetnsLab, opts: TunnelFlavor & { token: string; apiRoot: string; adminId: number; ifacePrefix: string }) {
  const iface = `${opts.ifacePrefix}${lab.suffix}`;
  const net = `10.${100 + randomInt(90)}.${randomInt(256)}`;
  lab.trackInterface(iface);
  const dataDir = path.join(lab.tmpDir, 'data');
  const database = await appDatabase({ dataDir, inNamespace: true });
  lab.onCleanup(database.drop);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ENV_FILE: path.join(lab.tmpDir, 'no.env'),
    WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1',
    BOT_TOKEN: opts.token,
    ADMIN_IDS: String(opts.adminId),
    TELEGRAM_API_ROOT: opts.apiRoot,
    DATA_DIR: dataDir,
    ...database.env,
    VPN_FLAVOR: opts.flavor,
    ...(opts.flavor === 'amneziawg' ? { AWG_PROTOCOL: String(opts.awgProtocol) } : {}),
    VPN_INTERFACE: iface,
    VPN_CONFIG_DIR: path.join(lab.tmpDir, flavorTools(opts.flavor).tool),
    VPN_ENDPOINT: lab.serverIp,
    VPN_PORT: String(20000 + randomInt(30000)),
    VPN_SUBNET: `${net}.0/24`,
    VPN_ALLOWED_IPS: `${net}.0/24`,
    MONITOR_INTERVAL_SECONDS: '1',
    LOG_LEVEL: 'debug',
  };
  return { env, iface, serverTunnelIp: `${net}.1`, database };
}

/** Starts `node dist/main.js` in the server namespace and waits until it takes updates. */
export async function startBot(lab: NetnsLab, env: NodeJS.ProcessEnv): Promise<LabProcess> {
  const proc = lab.spawn(lab.serverNs, [process.execPath, path.join(ROOT, 'dist/main.js')], { env, cwd: lab.tmpDir });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  for (const deadline = Date.now() + 30_000; !proc.output().includes('taking updates'); ) {
    if (exited || Date.now() > deadline) throw new Error(`the bot did not start:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return proc;
}

/**
 * After the server drops and re-adds a peer it has no session with the client any more;
 * the client notices and handshakes again within ~15 s (WireGuard's rekey timeout).
 */
export async function pingsWithin(lab: NetnsLab, ip: string, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (await lab.ping(lab.clientNs, ip, 1)) return true;
  }
  return false;
}

export const buttonsOf = (m: SentMessage) =>
  ((m.message.reply_markup as { inline_keyboard?: { text: string; callback_data?: string }[][] } | undefined)?.inline_keyboard ?? []).flat();
