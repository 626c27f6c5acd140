import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDirIn, tempFileName, TMPFS_BASES } from '../../src/vpn/run-dir.js';
import { StandInClient } from '../support/bot-api-client.js';
import { botEnv, gatedVariants, startBot } from '../support/e2e.js';
import { flavorTools, NetnsLab, type LabProcess, realPartsGate, run } from '../support/netns.js';

// What the built bot hands its children on a real host: it starts with every secret it knows in
// its environment and brings up a real interface of each tunnel variant (*-quick, its PostUp hook,
// the long-running userspace daemon). Neither the daemon's /proc/<pid>/environ nor the hook's
// environment holds any of them. A crash's leftover key files are gone once it has started, and
// its temporary key files go to a tmpfs.

const variants = await gatedVariants(await realPartsGate());
const TOKEN = '424242:e2e-child-env-token';
const ADMIN = { id: 111701, first_name: 'Admin', language_code: 'en' };
const TMPFS = 0x01021994;

/** /proc/<pid>/environ as a map. */
async function environOf(pid: number): Promise<Map<string, string>> {
  const text = await fs.readFile(`/proc/${pid}/environ`, 'utf8');
  return new Map(text.split('\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Pids in `ns` running `<daemon> <iface>`. */
async function daemonPids(ns: string, daemon: string, iface: string): Promise<number[]> {
  const { stdout } = await run(['ip', 'netns', 'pids', ns]);
  const pids: number[] = [];
  for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
    const argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (path.basename(argv[0] ?? '') === daemon && argv.includes(iface)) pids.push(pid);
  }
  return pids;
}

for (const variant of variants) describe.skipIf(!variant.ready)(`the bot's children get none of its secrets (${variant.name})`, () => {
  const { daemon } = flavorTools(variant.flavor);
  let lab: NetnsLab;
  let api: StandInClient;
  let bot: LabProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let iface: string;
  let secrets: Record<string, string>;
  let leftovers: string[];
  let tmpfsDir: string | undefined;

  beforeAll(async () => {
    lab = await NetnsLab.create();
    api = await StandInClient.start({ token: TOKEN, netns: lab.serverNs });
    await api.knowUser(ADMIN);
    ({ env, iface } = await botEnv(lab, { ...variant, token: TOKEN, apiRoot: api.apiRoot, adminId: ADMIN.id, ifacePrefix: 'ave' }));
    const dataDir = env.DATA_DIR!;
    // The database URL as a deployment has it, password and all (PostgreSQL's trust auth here ignores it).
    const dbUrl = env.DATABASE_URL ? new URL(env.DATABASE_URL) : null;
    if (dbUrl) dbUrl.password = `pg-password-${randomBytes(6).toString('hex')}`;
    secrets = {
      BOT_TOKEN: TOKEN,
      SECRETS_KEY: randomBytes(32).toString('base64'),
      WEBHOOK_SECRET: `webhook-secret-${randomBytes(8).toString('hex')}`,
      DATABASE_URL: dbUrl?.href ?? `sqlite:${path.join(dataDir, 'bot.db')}`,
    };
    Object.assign(env, secrets, { VPN_POST_UP: `env > ${path.join(lab.tmpDir, 'post-up.env')}` });

    // What a crash had left: a preshared key file in DATA_DIR/run and one in the tmpfs directory.
    const base = (await Promise.all(TMPFS_BASES.map(async (b) => ((await fs.statfs(b).catch(() => null))?.type === TMPFS ? b : null)))).find(Boolean);
    tmpfsDir = base ? runDirIn(base, dataDir) : undefined;
    leftovers = [];
    for (const d of [path.join(dataDir, 'run'), tmpfsDir].filter((d): d is string => !!d)) {
      await fs.mkdir(d, { recursive: true, mode: 0o700 });
      const file = path.join(d, tempFileName('psk'));
      await fs.writeFile(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
      leftovers.push(file);
    }
    bot = await startBot(lab, env);
  }, 90_000);

  afterAll(async () => {
    await bot?.stop(3000);
    await api?.stop();
    if (tmpfsDir) await fs.rm(tmpfsDir, { recursive: true, force: true });
    await lab?.cleanup();
  }, 60_000);

  it("the userspace daemon and the PostUp hook: PATH and the flavor's settings, no secret", async () => {
    const pids = await daemonPids(lab.serverNs, daemon, iface);
    expect(pids.length, `${daemon} ${iface} in ${lab.serverNs}`).toBeGreaterThan(0);
    const hook = new Map(
      (await fs.readFile(path.join(lab.tmpDir, 'post-up.env'), 'utf8'))
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    for (const seen of [...(await Promise.all(pids.map(environOf))), hook]) {
      expect(seen.get('PATH')?.endsWith(env.PATH!)).toBe(true); // the right process's environment (*-quick puts its own directory first)
      expect(seen.get('WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD')).toBe('1');
      const text = [...seen].map(([k, v]) => `${k}=${v}`).join('\n');
      for (const [name, value] of Object.entries(secrets)) {
        expect(seen.has(name), name).toBe(false);
        expect(text).not.toContain(value);
      }
      expect(seen.has('DATA_DIR')).toBe(false);
    }
  });

  it('key files a crash left are gone after the start; new ones go to the tmpfs', async () => {
    for (const file of leftovers) await expect(fs.stat(file), file).rejects.toThrow(/ENOENT/);
    const line = bot!.output().split('\n').find((l) => l.includes('"directory for temporary key files"'));
    expect(line).toBeDefined();
    const logged = JSON.parse(line!) as { dir: string; leftoversRemoved: number };
    expect(logged).toMatchObject({ dir: tmpfsDir ?? path.join(env.DATA_DIR!, 'run'), leftoversRemoved: leftovers.length });
  });
});
