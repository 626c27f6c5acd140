import net from 'node:net';
import path from 'node:path';
import { type Config, loadConfig } from '../../src/config.js';
import type { AppDatabase } from './database.js';

/** A TCP port nobody listens on now (for the app's HTTP server). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * The config of an app started in-process with startApp against a Bot API stand-in: wireguard
 * flavor (the interface is the caller's FakeWg), state in `dir`, the test project's database,
 * CAPTCHA off, no scheduled backups; `extra` adds or overrides variables.
 */
export function appConfig(o: { token: string; adminIds: number[]; apiRoot: string; dir: string; database: AppDatabase }, extra: Record<string, string> = {}): Config {
  return loadConfig({
    BOT_TOKEN: o.token,
    ADMIN_IDS: o.adminIds.join(','),
    TELEGRAM_API_ROOT: o.apiRoot,
    DATA_DIR: path.join(o.dir, 'data'),
    VPN_FLAVOR: 'wireguard',
    VPN_CONFIG_DIR: path.join(o.dir, 'wg'),
    VPN_ENDPOINT: 'vpn.example.com',
    CAPTCHA: 'off',
    BACKUP_INTERVAL_HOURS: '0',
    ...o.database.env,
    ...extra,
  });
}
