import { randomInt } from 'node:crypto';
import path from 'node:path';
import type { SentMessage } from './bot-api.js';
import { appDatabase } from './database.js';
import type { LabProcess, NetnsLab } from './netns.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * The environment for the built bot in the lab's server namespace: wireguard flavor, a unique
 * interface and a random 10.x tunnel subnet, state in the lab's tmp dir, the monitor every second.
 * The database is the test project's: the default SQLite file in DATA_DIR, or (TEST_DATABASE=postgres)
 * a fresh schema reached through PostgreSQL's Unix socket, dropped by lab.cleanup().
 */
export async function botEnv(lab: NetnsLab, opts: { token: string; apiRoot: string; adminId: number; ifacePrefix: string }) {
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
    VPN_FLAVOR: 'wireguard',
    VPN_INTERFACE: iface,
    VPN_CONFIG_DIR: path.join(lab.tmpDir, 'wg'),
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
