// `npm run setup`: asks for the four settings every install needs, checks each answer with the
// same rules as src/config.ts (and the token against Telegram), and writes them to .env (0600).
// `--non-interactive` takes them from flags instead, for scripts and provisioning.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { createInterface, type Interface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { checkBotToken, DEFAULT_API_ROOT, maskToken } from './telegram.js';

export interface SetupIo {
  input: Readable;
  output: Writable;
  /** Problems and refusals; defaults to `output`. */
  errorOutput?: Writable;
  fetch: typeof fetch;
  run: (bin: string, args: string[]) => Promise<string>;
  /** Read for TELEGRAM_API_ROOT only. */
  env: Record<string, string | undefined>;
}

export interface SetupOptions {
  nonInteractive: boolean;
  token?: string | undefined;
  adminIds?: string | undefined;
  endpoint?: string | undefined;
  flavor?: string | undefined;
  envFile: string;
  force: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const SETUP_USAGE =
  'node dist/cli.js setup [--out .env] [--force]\n' +
  '       node dist/cli.js setup --non-interactive --token X --admin-ids 1,2 --endpoint host[:port] [--flavor amneziawg|wireguard] [--out .env] [--force]\n' +
  // Not --env-file: Node 20 itself reads a script's --env-file argument and exits 9 when that
  // file does not exist yet (nodejs/node#54232).
  '       The file defaults to $ENV_FILE or .env.';

export function parseSetupArgs(argv: string[], env: Record<string, string | undefined>): SetupOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'non-interactive': { type: 'boolean', default: false },
        token: { type: 'string' },
        'admin-ids': { type: 'string' },
        endpoint: { type: 'string' },
        flavor: { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return {
    nonInteractive: values['non-interactive'],
    token: values.token,
    adminIds: values['admin-ids'],
    endpoint: values.endpoint,
    flavor: values.flavor,
    envFile: values.out ?? env.ENV_FILE ?? '.env',
    force: values.force,
  };
}

type Field = 'BOT_TOKEN' | 'ADMIN_IDS' | 'VPN_ENDPOINT' | 'VPN_FLAVOR';

// Valid stand-ins for the other required variables, so loadConfig reports on one field only.
const PLACEHOLDERS = { BOT_TOKEN: '1:placeholder', ADMIN_IDS: '1', VPN_ENDPOINT: 'vpn.example.com' };

function configProblems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

/** What src/config.ts would say about this one value ([] = fine). */
export function fieldProblems(field: Field, value: string): string[] {
  return configProblems({ ...PLACEHOLDERS, [field]: value }).filter((p) => p.startsWith(`${field}:`));
}

/** "1, 22 ,333" → "1,22,333", the form written to .env. */
const normalizeIds = (s: string): string =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .join(',');

/** The host's first global IPv4 address, from `ip -4 -o addr show scope global`. */
export function parseGlobalIpv4(text: string): string | null {
  return /\binet (\d{1,3}(?:\.\d{1,3}){3})\//.exec(text)?.[1] ?? null;
}

function isPrivateIpv4(ip: string): boolean {
  const [a = 0, b = 0] = ip.split('.').map(Number);
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
}

/** Only looks at the local interfaces: no external "what is my IP" service is asked. */
async function detectEndpoint(io: SetupIo): Promise<string | null> {
  try {
    return parseGlobalIpv4(await io.run('ip', ['-4', '-o', 'addr', 'show', 'scope', 'global']));
  } catch {
    return null;
  }
}

function renderEnvFile(values: Record<string, string>): string {
  const lines = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  return `# Written by npm run setup. Optional settings and their defaults: see .env.example.\n${lines.join('\n')}\n`;
}

/** Writes through a temp file and rename, so the file is 0600 from its first byte, even when replacing one. */
async function writeEnvFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    await fs.chmod(tmp, 0o600); // whatever the umask
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

const fileExists = (p: string) =>
  fs.stat(p).then(
    () => true,
    () => false,
  );

class InputEnded extends Error {}

/**
 * Questions over readline. Answers are read through the async iterator, which buffers lines,
 * so input piped in all at once is not lost between questions.
 */
class Prompter {
  private readonly lines: AsyncIterator<string>;

  constructor(private readonly rl: Interface) {
    this.lines = rl[Symbol.asyncIterator]();
  }

  async ask(question: string): Promise<string> {
    this.rl.setPrompt(question);
    this.rl.prompt();
    const next = await this.lines.next();
    if (next.done) throw new InputEnded('input ended before setup was finished');
    return next.value.trim();
  }
}

export async function runSetup(opts: SetupOptions, io: SetupIo): Promise<number> {
  const out = io.output;
  const err = io.errorOutput ?? io.output;
  const apiRoot = (io.env.TELEGRAM_API_ROOT?.trim() || DEFAULT_API_ROOT).replace(/\/+$/, '');
  // A self-hosted Bot API server must be in .env too, or the bot would talk to the wrong one.
  const extra: Record<string, string> = io.env.TELEGRAM_API_ROOT?.trim() ? { TELEGRAM_API_ROOT: apiRoot } : {};

  if (opts.nonInteractive) {
    if ((await fileExists(opts.envFile)) && !opts.force) {
      err.write(`${opts.envFile} already exists; nothing written. Pass --force to replace it.\n`);
      return 1;
    }
    const values = {
      BOT_TOKEN: opts.token?.trim() ?? '',
      ADMIN_IDS: normalizeIds(opts.adminIds ?? ''),
      VPN_ENDPOINT: opts.endpoint?.trim() ?? '',
      VPN_FLAVOR: opts.flavor?.trim() || 'amneziawg',
      ...extra,
    };
    const problems = configProblems(values);
    let username = '';
    if (!problems.some((p) => p.startsWith('BOT_TOKEN:') || p.startsWith('TELEGRAM_API_ROOT:'))) {
      const me = await checkBotToken(io.fetch, apiRoot, values.BOT_TOKEN);
      if (me.ok) username = me.username;
      else problems.push(`BOT_TOKEN: ${me.problem}; ${me.fix}`);
    }
    if (problems.length) {
      err.write(`Nothing written; ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${maskToken(p, values.BOT_TOKEN)}\n`).join('')}`);
      return 2;
    }
    await writeEnvFile(opts.envFile, renderEnvFile(values));
    out.write(`✔ Wrote ${opts.envFile} (mode 0600) for @${username}.\n`);
    return 0;
  }

  // terminal: false even on a tty: the tty's own line editing applies and nothing is redrawn.
  const rl = createInterface({ input: io.input, output: out, terminal: false });
  const prompter = new Prompter(rl);
  try {
    return await interactive(opts, io, prompter, apiRoot, extra);
  } catch (e) {
    if (!(e instanceof InputEnded)) throw e;
    err.write(`\nSetup aborted: ${e.message}. Nothing written.\n`);
    return 1;
  } finally {
    rl.close();
  }
}

async function interactive(opts: SetupOptions, io: SetupIo, p: Prompter, apiRoot: string, extra: Record<string, string>): Promise<number> {
  const out = io.output;
  const err = io.errorOutput ?? io.output;
  out.write(`This writes ${opts.envFile} for the bot. Press Enter to take the value in [brackets].\n\n`);

  if ((await fileExists(opts.envFile)) && !opts.force) {
    const answer = await p.ask(`${opts.envFile} already exists. Replace it? [y/N] `);
    if (!/^y(es)?$/i.test(answer)) {
      out.write('Nothing written.\n');
      return 1;
    }
  }

  /** A flag's value if it is valid, otherwise the question until the answer is valid. */
  async function obtain(question: string, preset: string | undefined, fallback: string | null, validate: (v: string) => Promise<string | null>): Promise<string> {
    let candidate = preset?.trim();
    for (;;) {
      let value = candidate ?? (await p.ask(question));
      candidate = undefined;
      if (value === '' && fallback) value = fallback;
      const problem = await validate(value);
      if (!problem) return value;
      out.write(`  ✘ ${problem}\n`);
    }
  }
  const byConfig = (field: Field) => async (v: string) => fieldProblems(field, v)[0] ?? null;

  let username = '';
  const token = await obtain('Bot token (from @BotFather): ', opts.token, null, async (v) => {
    const problem = await byConfig('BOT_TOKEN')(v);
    if (problem) return problem;
    const me = await checkBotToken(io.fetch, apiRoot, v);
    if (!me.ok) return maskToken(`${me.problem}; ${me.fix}`, v);
    username = me.username;
    return null;
  });
  out.write(`  ✔ the token works: @${username}\n`);

  const adminIds = normalizeIds(
    await obtain('Admin Telegram user ids, comma separated (get yours from @userinfobot): ', opts.adminIds, null, (v) => byConfig('ADMIN_IDS')(normalizeIds(v))),
  );

  const detected = await detectEndpoint(io);
  if (detected && isPrivateIpv4(detected) && !opts.endpoint) {
    out.write(`  ${detected} is a private address: if this server is behind NAT, enter its public address or DNS name.\n`);
  }
  const endpoint = await obtain(
    `Public address clients connect to, host or host:port${detected ? ` [${detected}]` : ''}: `,
    opts.endpoint,
    detected,
    byConfig('VPN_ENDPOINT'),
  );

  const flavor = await obtain('VPN flavor, amneziawg or wireguard [amneziawg]: ', opts.flavor, 'amneziawg', byConfig('VPN_FLAVOR'));

  const values = { BOT_TOKEN: token, ADMIN_IDS: adminIds, VPN_ENDPOINT: endpoint, VPN_FLAVOR: flavor, ...extra };
  // Each field passed on its own; this catches anything only wrong in combination.
  const problems = configProblems(values);
  if (problems.length) {
    err.write(`Nothing written:\n${problems.map((x) => `  - ${x}\n`).join('')}`);
    return 2;
  }
  await writeEnvFile(opts.envFile, renderEnvFile(values));
  out.write(`\n✔ Wrote ${opts.envFile} (mode 0600). Next: npm run doctor, then npm start (as root).\n`);
  return 0;
}
