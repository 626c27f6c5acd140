// What the doctor's checks see of the host; injectable so tests run each check against fake files,
// commands and Telegram answers, without root.
import path from 'node:path';
import type { DatabaseTarget } from '../../db/index.js';
import type { NodeRow } from '../../db/nodes.js';

export interface FileInfo {
  mode: number;
  isFile: boolean;
  isDirectory: boolean;
}

/** System files the checks read; injectable so tests can point them at fakes. */
export interface SystemPaths {
  procSelfStatus: string;
  devNetTun: string;
  sysModule: string;
  sysClassNet: string;
  ipForward: string;
  procNetUdp: string[];
}

export const SYSTEM_PATHS: SystemPaths = {
  procSelfStatus: '/proc/self/status',
  devNetTun: '/dev/net/tun',
  sysModule: '/sys/module',
  sysClassNet: '/sys/class/net',
  ipForward: '/proc/sys/net/ipv4/ip_forward',
  procNetUdp: ['/proc/net/udp', '/proc/net/udp6'],
};

export interface DoctorEnv {
  /** The environment the bot would see (.env merged under process.env). */
  env: Record<string, string | undefined>;
  /** Where the configuration comes from, for the fix hints. */
  envFile: string;
  run: (bin: string, args: string[]) => Promise<string>;
  readFile: (p: string) => Promise<string>;
  /** null when the path does not exist. Follows symlinks. */
  stat: (p: string) => Promise<FileInfo | null>;
  canWrite: (p: string) => Promise<boolean>;
  /** Names in the database's kysely_migration table ([] when the table is missing). */
  readMigrations: (database: DatabaseTarget) => Promise<string[]>;
  knownMigrations: readonly string[];
  fetch: typeof fetch;
  uid: number;
  nodeVersion: string;
  paths: SystemPaths;
  /** Reaches an SSH node and reads its interface index (null: interface down); throws when the node does not answer. */
  probeNode: (node: NodeRow) => Promise<number | null>;
  /** Milliseconds since the epoch (certificate expiry, age of Telegram's last webhook error). */
  now: () => number;
  /** CA certificates the webhook check trusts instead of the system ones (tests). */
  webhookCa?: Buffer;
}

/** First executable file called `name` in the PATH directories, without spawning `which`. */
export async function findOnPath(denv: DoctorEnv, name: string): Promise<string | null> {
  for (const dir of (denv.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    // An unreadable PATH entry is skipped, as the shell would.
    const info = await denv.stat(file).catch(() => null);
    if (info?.isFile && (info.mode & 0o111) !== 0) return file;
  }
  return null;
}

export const exists = async (denv: DoctorEnv, p: string): Promise<boolean> => (await denv.stat(p)) !== null;
