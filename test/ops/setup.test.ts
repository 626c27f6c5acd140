import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parseEnv } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { fieldProblems, parseGlobalIpv4, parseSetupArgs, runSetup, type SetupIo, type SetupOptions, UsageError } from '../../src/ops/setup.js';
import { BotApiStandIn } from '../support/bot-api.js';

const TOKEN = '1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const WRONG_TOKEN = '1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDxxx';
const IP_ADDR = (ip: string) =>
  `2: eth0    inet ${ip}/24 brd 203.0.113.255 scope global eth0\\       valid_lft forever preferred_lft forever\n`;

let api: BotApiStandIn;
let dir: string;

beforeAll(async () => {
  api = new BotApiStandIn({ token: TOKEN, botUsername: 'andrey_vpn_bot' });
  await api.listen();
});
afterAll(async () => {
  await api.close();
});
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function tempEnvFile(): Promise<string> {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-setup-'));
  return path.join(dir, '.env');
}

/**
 * Streams for runSetup plus a scripted user: each time the output since the last answer
 * matches the next expected question, the answer is typed in, one line at a time.
 */
function conversation(script: [RegExp, string][], ipOutput = IP_ADDR('203.0.113.5')) {
  const input = new PassThrough();
  const output = new PassThrough();
  let transcript = '';
  let pending = '';
  const unanswered = [...script];
  output.on('data', (chunk: Buffer) => {
    transcript += chunk.toString();
    pending += chunk.toString();
    const next = unanswered[0];
    if (next && next[0].test(pending)) {
      unanswered.shift();
      pending = '';
      setImmediate(() => input.write(`${next[1]}\n`));
    }
  });
  const io: SetupIo = {
    input,
    output,
    fetch: globalThis.fetch,
    run: async (bin, args) => {
      expect([bin, ...args]).toEqual(['ip', '-4', '-o', 'addr', 'show', 'scope', 'global']);
      return ipOutput;
    },
    env: { TELEGRAM_API_ROOT: api.apiRoot },
  };
  return { io, input, transcript: () => transcript, unanswered };
}

const opts = (envFile: string, more: Partial<SetupOptions> = {}): SetupOptions => ({ nonInteractive: false, envFile, force: false, ...more });

async function readEnvFile(file: string) {
  const stat = await fs.stat(file);
  const text = await fs.readFile(file, 'utf8');
  return { mode: stat.mode & 0o777, text, config: loadConfig(parseEnv(text)) };
}

describe('setup, interactive', () => {
  it('asks each question, re-asks after a bad answer, and writes a 0600 .env that loadConfig accepts', async () => {
    const envFile = await tempEnvFile();
    const talk = conversation([
      [/Bot token \(from @BotFather\): $/, 'not-a-token'],
      [/must look like 123456:ABC-DEF…[\s\S]*Bot token \(from @BotFather\): $/, WRONG_TOKEN],
      [/BOT_TOKEN rejected by Telegram \(401 Unauthorized\)[\s\S]*Bot token \(from @BotFather\): $/, TOKEN],
      [/the token works: @andrey_vpn_bot[\s\S]*comma separated \(get yours from @userinfobot\): $/, '111, abc'],
      [/ADMIN_IDS: each id must be a numeric Telegram user id[\s\S]*comma separated \(get yours from @userinfobot\): $/, ' 111 , 222 '],
      [/host or host:port \[203\.0\.113\.5\]: $/, ''],
      [/amneziawg or wireguard \[amneziawg\]: $/, 'openvpn'],
      [/VPN_FLAVOR: must be amneziawg or wireguard[\s\S]*\[amneziawg\]: $/, ''],
    ]);
    const code = await runSetup(opts(envFile), talk.io);
    expect(talk.unanswered).toEqual([]);
    expect(code, talk.transcript()).toBe(0);
    expect(talk.transcript()).toContain(`Wrote ${envFile} (mode 0600)`);
    expect(talk.transcript()).not.toContain(TOKEN);
    expect(talk.transcript()).not.toContain(WRONG_TOKEN);

    const written = await readEnvFile(envFile);
    expect(written.mode).toBe(0o600);
    expect(written.config.botToken).toBe(TOKEN);
    expect(written.config.adminIds).toEqual([111, 222]);
    expect(written.config.vpn.endpoint).toBe('203.0.113.5:51820');
    expect(written.config.vpn.flavor).toBe('amneziawg');
    expect(written.config.telegramApiRoot).toBe(api.apiRoot); // a non-default API root is kept
    expect(written.text).toContain('ADMIN_IDS=111,222\n');
  });

  it('valid flags are not asked again; a private address gets a note', async () => {
    const envFile = await tempEnvFile();
    const talk = conversation(
      [
        [/host or host:port \[10\.0\.0\.5\]: $/, 'vpn.example.org:443'],
        [/\[amneziawg\]: $/, 'wireguard'],
      ],
      IP_ADDR('10.0.0.5'),
    );
    const code = await runSetup(opts(envFile, { token: TOKEN, adminIds: '111' }), talk.io);
    expect(code, talk.transcript()).toBe(0);
    expect(talk.transcript()).not.toMatch(/Bot token|user ids/);
    expect(talk.transcript()).toContain('10.0.0.5 is a private address');
    const { config } = await readEnvFile(envFile);
    expect(config.vpn).toMatchObject({ endpoint: 'vpn.example.org:443', flavor: 'wireguard', iface: 'wg0' });
  });

  it('refuses to replace an existing .env unless the user says yes or --force is given', async () => {
    const envFile = await tempEnvFile();
    await fs.writeFile(envFile, 'KEEP=me\n', { mode: 0o644 });

    const no = conversation([[/already exists\. Replace it\? \[y\/N\] $/, '']]);
    expect(await runSetup(opts(envFile), no.io)).toBe(1);
    expect(no.transcript()).toContain('Nothing written.');
    expect(await fs.readFile(envFile, 'utf8')).toBe('KEEP=me\n');

    const flags = { token: TOKEN, adminIds: '111', endpoint: 'vpn.example.com', flavor: 'amneziawg' };
    const refused = conversation([]);
    expect(await runSetup({ ...opts(envFile, flags), nonInteractive: true }, refused.io)).toBe(1);
    expect(refused.transcript()).toMatch(/already exists; nothing written\. Pass --force/);
    expect(await fs.readFile(envFile, 'utf8')).toBe('KEEP=me\n');

    const yes = conversation([[/Replace it\? \[y\/N\] $/, 'y']]);
    expect(await runSetup(opts(envFile, flags), yes.io)).toBe(0);
    expect((await readEnvFile(envFile)).mode).toBe(0o600);

    await fs.writeFile(envFile, 'KEEP=me\n', { mode: 0o644 });
    await fs.chmod(envFile, 0o644);
    const forced = conversation([]);
    expect(await runSetup({ ...opts(envFile, flags), nonInteractive: true, force: true }, forced.io)).toBe(0);
    const written = await readEnvFile(envFile);
    expect(written.mode).toBe(0o600); // replaced, not rewritten in place with the old mode
    expect(written.config.adminIds).toEqual([111]);
  });

  it('input that ends early writes nothing', async () => {
    const envFile = await tempEnvFile();
    const talk = conversation([[/Bot token/, TOKEN]]);
    talk.input.end();
    expect(await runSetup(opts(envFile), talk.io)).toBe(1);
    expect(talk.transcript()).toMatch(/Setup aborted: input ended/);
    await expect(fs.stat(envFile)).rejects.toThrow(/ENOENT/);
  });
});

describe('setup --non-interactive', () => {
  it('writes .env from flags and exits 0', async () => {
    const envFile = await tempEnvFile();
    const args = parseSetupArgs(['--non-interactive', '--token', TOKEN, '--admin-ids', '1,2', '--endpoint', 'vpn.example.com:443', '--out', envFile], {});
    const talk = conversation([]);
    expect(await runSetup(args, talk.io)).toBe(0);
    expect(talk.transcript()).toContain('for @andrey_vpn_bot');
    const written = await readEnvFile(envFile);
    expect(written.mode).toBe(0o600);
    expect(written.config.vpn).toMatchObject({ endpoint: 'vpn.example.com:443', flavor: 'amneziawg' });
  });

  it('bad values: exit 2, every problem listed, nothing written', async () => {
    const envFile = await tempEnvFile();
    const talk = conversation([]);
    const code = await runSetup(
      { nonInteractive: true, envFile, force: false, token: 'nope', adminIds: '1,abc', endpoint: 'bad host!', flavor: 'openvpn' },
      talk.io,
    );
    expect(code).toBe(2);
    const text = talk.transcript();
    expect(text).toMatch(/Nothing written; 4 problems:/);
    for (const field of ['BOT_TOKEN', 'ADMIN_IDS', 'VPN_ENDPOINT', 'VPN_FLAVOR']) expect(text).toContain(`  - ${field}: `);
    await expect(fs.stat(envFile)).rejects.toThrow(/ENOENT/);
  });

  it('a token Telegram rejects and a missing flag are both reported', async () => {
    const envFile = await tempEnvFile();
    const talk = conversation([]);
    const code = await runSetup({ nonInteractive: true, envFile, force: false, token: WRONG_TOKEN, adminIds: '1' }, talk.io);
    expect(code).toBe(2);
    expect(talk.transcript()).toContain('  - VPN_ENDPOINT: is required (missing)');
    expect(talk.transcript()).toMatch(/ {2}- BOT_TOKEN: BOT_TOKEN rejected by Telegram \(401 Unauthorized\)/);
    expect(talk.transcript()).not.toContain(WRONG_TOKEN);
  });
});

describe('setup helpers', () => {
  it('parses flags; unknown flags are usage errors', () => {
    expect(parseSetupArgs([], { ENV_FILE: '/etc/bot.env' })).toEqual({
      nonInteractive: false, token: undefined, adminIds: undefined, endpoint: undefined, flavor: undefined, envFile: '/etc/bot.env', force: false,
    });
    expect(parseSetupArgs(['--force', '--flavor', 'wireguard'], {})).toMatchObject({ force: true, flavor: 'wireguard', envFile: '.env' });
    expect(() => parseSetupArgs(['--tokn', 'x'], {})).toThrow(UsageError);
    expect(() => parseSetupArgs(['extra'], {})).toThrow(UsageError);
  });

  it('validates one field with the rules of src/config.ts', () => {
    expect(fieldProblems('ADMIN_IDS', '1, 2')).toEqual([]);
    expect(fieldProblems('ADMIN_IDS', 'x')[0]).toMatch(/^ADMIN_IDS: each id must be a numeric Telegram user id/);
    expect(fieldProblems('VPN_ENDPOINT', '')).toEqual(['VPN_ENDPOINT: is required (missing)']);
    expect(fieldProblems('BOT_TOKEN', 'abc')).toEqual(['BOT_TOKEN: must look like 123456:ABC-DEF… (given)']);
  });

  it('finds the first global IPv4 address in ip -o output', () => {
    expect(parseGlobalIpv4(IP_ADDR('198.51.100.7') + IP_ADDR('203.0.113.9'))).toBe('198.51.100.7');
    expect(parseGlobalIpv4('')).toBeNull();
  });
});
