import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRunDir, runDirIn, tempFileName } from '../../src/vpn/run-dir.js';

// Where runner.ts's temporary key and dump files go, on the real filesystems of this host.

const TMPFS = 0x01021994;
const isTmpfs = async (dir: string) => (await fs.statfs(dir)).type === TMPFS;
const shmIsTmpfs = await isTmpfs('/dev/shm');
const diskIsTmpfs = await isTmpfs(os.tmpdir());
if (!shmIsTmpfs && process.env.CI === 'true') throw new Error('/dev/shm must be a tmpfs in CI');

describe('the directory for temporary key files', () => {
  let dir: string;
  let dataDir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-rundir-'));
    dataDir = path.join(dir, 'data');
  });
  afterEach(async () => {
    await fs.rm(runDirIn('/dev/shm', dataDir), { recursive: true, force: true });
    await fs.rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!shmIsTmpfs || diskIsTmpfs)('a tmpfs when there is one (0700, ours, one per data dir); DATA_DIR/run when there is none', async () => {
    const bases = [path.join(dir, 'missing'), dir, '/dev/shm'];
    const r = await openRunDir(dataDir, bases);
    expect(r.path).toBe(runDirIn('/dev/shm', dataDir));
    const st = await fs.stat(r.path);
    expect([st.mode & 0o777, st.uid]).toEqual([0o700, process.getuid!()]);
    expect(runDirIn('/dev/shm', path.join(dir, 'other'))).not.toBe(r.path);
    await r.close();
    await expect(fs.stat(r.path)).rejects.toThrow(/ENOENT/);

    const onDisk = await openRunDir(dataDir, bases.slice(0, 2));
    expect(onDisk.path).toBe(path.join(dataDir, 'run'));
    await onDisk.close();
  });

  it.skipIf(!shmIsTmpfs)('at start, what a crash left there and in DATA_DIR/run is removed; other files stay', async () => {
    const first = await openRunDir(dataDir, ['/dev/shm']);
    const disk = path.join(dataDir, 'run');
    await fs.mkdir(disk, { recursive: true });
    for (const d of [first.path, disk]) {
      for (const name of [tempFileName('psk'), tempFileName('out'), 'notes.txt']) await fs.writeFile(path.join(d, name), 'x');
    }
    const second = await openRunDir(dataDir, ['/dev/shm']);
    expect(second.path).toBe(first.path);
    expect(second.removed).toBe(4);
    expect(await fs.readdir(second.path)).toEqual(['notes.txt']);
    expect(await fs.readdir(disk)).toEqual(['notes.txt']);
  });

  it.skipIf(!shmIsTmpfs || process.getuid!() !== 0)("a directory of that name on the shared tmpfs that is another user's, or a symlink, is not used", async () => {
    const name = runDirIn('/dev/shm', dataDir);
    await fs.mkdir(name);
    await fs.chmod(name, 0o777);
    await fs.chown(name, 65534, 65534);
    expect((await openRunDir(dataDir, ['/dev/shm'])).path).toBe(path.join(dataDir, 'run'));
    expect((await fs.stat(name)).mode & 0o777).toBe(0o777);

    await fs.rm(name, { recursive: true });
    await fs.symlink(dir, name);
    expect((await openRunDir(dataDir, ['/dev/shm'])).path).toBe(path.join(dataDir, 'run'));
  });
});
