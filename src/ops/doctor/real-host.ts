import fs from 'node:fs/promises';
import { MIGRATIONS } from '../../db/index.js';
import { run } from '../../vpn/runner.js';
import { createSshRunner } from '../../vpn/ssh-runner.js';
import { readMigrations } from './database.js';
import { type DoctorEnv, type FileInfo, SYSTEM_PATHS } from './host.js';

async function statOrNull(p: string): Promise<FileInfo | null> {
  try {
    const s = await fs.stat(p);
    return { mode: s.mode, isFile: s.isFile(), isDirectory: s.isDirectory() };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

/** A DoctorEnv over the real host; `overrides` replace parts (tests point paths at temp files). */
export function realDoctorEnv(env: Record<string, string | undefined>, overrides: Partial<DoctorEnv> = {}): DoctorEnv {
  return {
    env,
    envFile: env.ENV_FILE ?? '.env',
    run: (bin, args) => run(bin, args, { timeoutMs: 10_000 }),
    readFile: (p) => fs.readFile(p, 'utf8'),
    stat: statOrNull,
    canWrite: (p) =>
      fs.access(p, fs.constants.W_OK).then(
        () => true,
        () => false,
      ),
    readMigrations,
    knownMigrations: MIGRATIONS,
    fetch: globalThis.fetch,
    uid: process.getuid?.() ?? -1,
    nodeVersion: process.version,
    paths: SYSTEM_PATHS,
    probeNode: async (node) => {
      const runner = createSshRunner(node.flavor, { host: node.ssh_host!, port: node.ssh_port!, user: node.ssh_user!, privateKeyFile: node.ssh_key_file!, hostKey: node.ssh_host_key! }, { timeoutMs: 8_000, connectTimeoutMs: 5_000 });
      try {
        return await runner.ifindex(node.iface);
      } finally {
        await runner.close();
      }
    },
    now: Date.now,
    ...overrides,
  };
}
