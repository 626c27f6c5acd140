import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AMNEZIAWG_BIN, amneziawgBinaries, amneziawgGate } from '../support/amneziawg.js';
import { run } from '../support/netns.js';

const ready = await amneziawgGate();

describe('the check of the shared AmneziaWG folder', () => {
  let dir: string;
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const FILES = { 'bin/amneziawg-go': 'go binary', 'bin/awg': 'awg binary', 'bin/awg-quick': '#!/bin/bash\n' };
  const sums = (files: Record<string, string>) => Object.entries(files).map(([rel, text]) => `${sha(text)}  ${rel}\n`).join('');

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-awg-'));
    await fs.mkdir(path.join(dir, 'bin'));
    for (const [rel, text] of Object.entries(FILES)) await fs.writeFile(path.join(dir, rel), text);
    await fs.writeFile(path.join(dir, 'SHA256SUMS'), sums(FILES));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('passes when every listed file has its checksum', () => {
    expect(amneziawgBinaries(dir)).toEqual({ ok: true, missing: [] });
  });

  it('names a changed file with both checksums, a listed file that is gone, and a binary the list leaves out', async () => {
    await fs.writeFile(path.join(dir, 'bin/awg'), 'another awg');
    await fs.rm(path.join(dir, 'bin/awg-quick'));
    await fs.writeFile(path.join(dir, 'SHA256SUMS'), sums({ 'bin/awg': FILES['bin/awg'], 'bin/awg-quick': FILES['bin/awg-quick'] }));
    const { ok, missing } = amneziawgBinaries(dir);
    expect(ok).toBe(false);
    expect(missing).toEqual([
      `${dir}/bin/awg with SHA-256 ${sha(FILES['bin/awg'])} (it is ${sha('another awg')})`,
      expect.stringMatching(new RegExp(`^${dir}/bin/awg-quick \\(ENOENT`)),
      `bin/amneziawg-go in ${dir}/SHA256SUMS`,
    ]);
  });

  it('names a missing folder and AMNEZIAWG_DIR; under CI=true the gate throws with it, otherwise it says false and leaves PATH alone', async () => {
    const gone = path.join(dir, 'nowhere');
    expect(amneziawgBinaries(gone).missing).toEqual([expect.stringMatching(new RegExp(`^${gone}/SHA256SUMS \\(ENOENT.*set AMNEZIAWG_DIR`))]);
    const saved = { CI: process.env.CI, PATH: process.env.PATH };
    try {
      process.env.CI = 'true';
      await expect(amneziawgGate(gone)).rejects.toThrow(new RegExp(`missing .*${gone}/SHA256SUMS.*CI=true, refusing to skip`));
      delete process.env.CI;
      expect(await amneziawgGate(gone)).toBe(false);
      expect(process.env.PATH).toBe(saved.PATH);
    } finally {
      if (saved.CI === undefined) delete process.env.CI;
      else process.env.CI = saved.CI;
    }
  });
});

describe.skipIf(!ready)('the gate on the shared folder', () => {
  it('puts its bin first on PATH, once however often it runs, so awg and amneziawg-go are the checked ones', async () => {
    expect(await amneziawgGate()).toBe(true);
    const dirs = process.env.PATH!.split(path.delimiter);
    expect(dirs[0]).toBe(AMNEZIAWG_BIN);
    expect(dirs.filter((d) => d === AMNEZIAWG_BIN)).toHaveLength(1);
    expect((await run(['awg', '--version'])).stdout).toMatch(/^amneziawg-tools v/);
    expect((await run(['amneziawg-go', '--version'])).stdout).toMatch(/^amneziawg-go v/);
  });
});
