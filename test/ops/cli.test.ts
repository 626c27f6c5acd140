// src/cli.ts as a process (through tsx, so the build does not have to be current).
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotApiStandIn } from '../support/bot-api.js';

const TOKEN = '1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-cli-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      // No inherited BOT_TOKEN and friends, and no .env from the working tree.
      env: { PATH: process.env.PATH ?? '', ENV_FILE: path.join(dir, 'absent.env'), ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

// Each run starts node + tsx (about a second, more on a busy machine).
describe('node dist/cli.js', { timeout: 60_000 }, () => {
  it('unknown or missing subcommand: usage on stderr, exit 2', async () => {
    const cases = [['bogus'], [], ['setup', '--no-such-flag'], ['doctor', 'extra']];
    const results = await Promise.all(cases.map((args) => cli(args)));
    for (const [i, r] of results.entries()) {
      expect(r.code, cases[i]!.join(' ')).toBe(2);
      expect(r.stderr).toContain('usage: node dist/cli.js doctor');
      expect(r.stdout).toBe('');
    }
  });

  it('migrate-db with missing or bad arguments: what is wrong, the usage, exit 2; no password echoed', async () => {
    const cases: [string[], RegExp][] = [
      [[], /^migrate-db: --from sqlite:<path> \(or MIGRATE_FROM_URL\) and --to postgres:\/\/… \(or MIGRATE_TO_URL\) required$/m],
      [['--from', 'sqlite:/srv/bot.db'], /^migrate-db: --to postgres:\/\/… \(or MIGRATE_TO_URL\) required$/m],
      [['--from', '/srv/bot.db', '--to', 'postgres://db/vpn'], /^migrate-db: --from must be sqlite:<path to the bot's database> \(got "\/srv\/bot\.db"\)$/m],
      [['--from', 'sqlite:/srv/bot.db', '--to', 'mysql://u:hunter2@db/vpn'], /^migrate-db: --to must be a postgres:\/\/ or postgresql:\/\/ URL \(got "mysql:\/\/u:\*\*\*@db\/vpn"\)$/m],
      [['--from', 'sqlite:/srv/bot.db', '--to', 'postgres://db/vpn', '--force'], /^migrate-db: Unknown option '--force'/m],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(['migrate-db', ...args])));
    for (const [i, r] of results.entries()) {
      expect(r.code, cases[i]![0].join(' ')).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stderr).toContain('node dist/cli.js migrate-db --from sqlite:<path> --to postgres://');
      expect(r.stdout).toBe('');
      expect(r.stderr).not.toContain('hunter2');
    }
  });

  it('migrate-db takes the URLs from MIGRATE_FROM_URL and MIGRATE_TO_URL too (the password then stays out of ps); a flag wins', async () => {
    const missing = path.join(dir, 'no-such.db');
    const cases: [string[], Record<string, string>, RegExp][] = [
      // Accepted: it goes on to look for the file.
      [[], { MIGRATE_FROM_URL: `sqlite:${missing}`, MIGRATE_TO_URL: 'postgres://bot:hunter2@db/vpn' }, /^migrate-db: there is no SQLite database at .*no-such\.db$/m],
      [['--from', `sqlite:${missing}`], { MIGRATE_TO_URL: 'postgres://bot:hunter2@db/vpn' }, /^migrate-db: there is no SQLite database at .*no-such\.db$/m],
      [['--to', 'postgres://db/vpn'], { MIGRATE_FROM_URL: `sqlite:${missing}`, MIGRATE_TO_URL: 'mysql://u:hunter2@db/vpn' }, /^migrate-db: there is no SQLite database at .*no-such\.db$/m],
      // Refused, naming the variable; no password echoed.
      [['--from', `sqlite:${missing}`], { MIGRATE_TO_URL: 'mysql://u:hunter2@db/vpn' }, /^migrate-db: MIGRATE_TO_URL must be a postgres:\/\/ or postgresql:\/\/ URL \(got "mysql:\/\/u:\*\*\*@db\/vpn"\)$/m],
      [[], { MIGRATE_FROM_URL: '/srv/bot.db', MIGRATE_TO_URL: 'postgres://db/vpn' }, /^migrate-db: MIGRATE_FROM_URL must be sqlite:<path to the bot's database>/m],
    ];
    const results = await Promise.all(cases.map(([args, env]) => cli(['migrate-db', ...args], env)));
    for (const [i, r] of results.entries()) {
      expect(r.code, JSON.stringify(cases[i]![1])).toBe(2);
      expect(r.stderr).toMatch(cases[i]![2]);
      expect(r.stderr).not.toContain('hunter2');
    }
  });

  it('doctor with a bad configuration: one line per check, exit 1', async () => {
    const r = await cli(['doctor']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✔ node — /m);
    expect(r.stdout).toMatch(/^✘ config — 3 problems in the configuration\. Fix: edit .*absent\.env/m);
    expect(r.stdout).toMatch(/^- telegram — skipped \(the configuration is invalid\)$/m);
  });

  it('setup --non-interactive writes a 0600 .env; bad values exit 2', async () => {
    const api = new BotApiStandIn({ token: TOKEN, botUsername: 'andrey_vpn_bot' });
    await api.listen();
    try {
      const envFile = path.join(dir, 'written.env');
      const flags = ['--non-interactive', '--token', TOKEN, '--admin-ids', '1', '--endpoint', 'vpn.example.com'];
      const env = { TELEGRAM_API_ROOT: api.apiRoot, ENV_FILE: envFile };
      const ok = await cli(['setup', ...flags], env);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain('for @andrey_vpn_bot');
      expect((await fs.stat(envFile)).mode & 0o777).toBe(0o600);

      const again = await cli(['setup', ...flags], env);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('already exists');

      const bad = await cli(['setup', ...flags, '--out', envFile, '--force', '--flavor', 'openvpn', '--admin-ids', 'x'], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/ADMIN_IDS: [\s\S]*VPN_FLAVOR: must be amneziawg or wireguard/);
      for (const r of [ok, again, bad]) expect(r.stdout + r.stderr).not.toContain(TOKEN);
    } finally {
      await api.close();
    }
  });
});
