import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

// The short-lived files runner.ts writes on this host (preshared keys for one `wg set`, a dump that
// holds the interface's private key) live in one 0700 directory: on a tmpfs when there is one, so
// neither a crash nor a power cut leaves a key on a disk; else in DATA_DIR/run.

const TMPFS_MAGIC = 0x01021994; // statfs f_type
/** Tried in order: /run is root's tmpfs on systemd hosts; /dev/shm is a tmpfs on most hosts and in containers. */
export const TMPFS_BASES: readonly string[] = ['/run', '/dev/shm'];

/** The names runner.ts gives its temporary files; anything else in the directory is left alone. */
const TEMP_FILE = /^(psk|out)-[0-9a-f]{16}$/;
export const tempFileName = (kind: 'psk' | 'out'): string => `${kind}-${randomBytes(8).toString('hex')}`;

/** The directory on a tmpfs base: one per data dir, so bots with different data dirs never touch each other's files. */
export const runDirIn = (base: string, dataDir: string): string =>
  path.join(base, `andreyvpn-${createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16)}`);

export interface RunDir {
  readonly path: string;
  /** Temporary files a crash had left there (or in DATA_DIR/run), now removed. */
  readonly removed: number;
  /** At a clean stop: the tmpfs directory goes (empty by then); DATA_DIR/run stays. */
  close(): Promise<void>;
}

/** Picks the directory (the first base that is a tmpfs and ours, else DATA_DIR/run) and removes what a crash left. */
export async function openRunDir(dataDir: string, bases: readonly string[] = TMPFS_BASES): Promise<RunDir> {
  const fallback = path.join(path.resolve(dataDir), 'run');
  let dir = fallback;
  for (const base of bases) {
    const own = await ownTmpfsDir(base, dataDir);
    if (own) {
      dir = own;
      break;
    }
  }
  // DATA_DIR/run too: it is used whenever no tmpfs is, and on a disk a leftover matters most.
  const removed = (await sweep(fallback)) + (dir === fallback ? 0 : await sweep(dir));
  return {
    path: dir,
    removed,
    close: async () => {
      if (dir !== fallback) await fs.rmdir(dir).catch(() => undefined); // best effort: the next start sweeps it
    },
  };
}

/** runDirIn(base), made 0700, when `base` is a tmpfs we can write; an existing one must be a real directory of ours (/dev/shm is shared). */
async function ownTmpfsDir(base: string, dataDir: string): Promise<string | null> {
  const dir = runDirIn(base, dataDir);
  try {
    if ((await fs.statfs(base)).type !== TMPFS_MAGIC) return null;
    await fs.mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const st = await fs.lstat(dir);
    if (!st.isDirectory() || st.uid !== process.getuid!()) return null;
    await fs.chmod(dir, 0o700);
    return dir;
  } catch {
    return null; // no such base, or not writable by us: the next one
  }
}

async function sweep(dir: string): Promise<number> {
  const names = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw e;
  });
  const stale = names.filter((n) => TEMP_FILE.test(n));
  await Promise.all(stale.map((n) => fs.rm(path.join(dir, n), { force: true })));
  return stale.length;
}
