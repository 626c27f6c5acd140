// docker-compose.yml: the structure the container needs (capabilities, TUN, sysctls, the UDP port,
// volumes matching the image), checked with a small YAML reader, and validated by the real
// `docker-compose config` when it is installed. Under CI=true a missing docker-compose fails.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

// ---------------------------------------------------------------------------------------------
// A YAML reader for the subset a compose file needs: block mappings, block sequences of scalars,
// plain and quoted scalars, comments. Anything else (flow collections, anchors, multi-line
// strings) is refused, so the checks below never look at a misread file.

type Yaml = string | Yaml[] | { [key: string]: Yaml };

function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

function scalar(raw: string, where: string): string {
  const s = raw.trim();
  if (/^".*"$/.test(s)) return JSON.parse(s) as string;
  if (/^'.*'$/.test(s)) return s.slice(1, -1).replace(/''/g, "'");
  if (/^[[{&*!|>]/.test(s)) throw new Error(`${where}: unsupported YAML value ${s}`);
  return s;
}

function parseYaml(text: string): Yaml {
  const lines = text
    .split('\n')
    .map((raw, i) => ({ text: stripComment(raw), n: i + 1 }))
    .filter((l) => l.text.trim() !== '');
  for (const l of lines) if (/^\s*\t/.test(l.text)) throw new Error(`line ${l.n}: tab indentation`);
  let pos = 0;
  const indentOf = (s: string): number => s.length - s.trimStart().length;
  const isItem = (s: string): boolean => /^-(\s|$)/.test(s.trimStart());

  function block(indent: number): Yaml {
    const first = lines[pos]!;
    return isItem(first.text) ? seq(indentOf(first.text)) : map(indentOf(first.text), indent);
  }
  function seq(indent: number): Yaml[] {
    const out: Yaml[] = [];
    while (pos < lines.length && indentOf(lines[pos]!.text) === indent && isItem(lines[pos]!.text)) {
      const l = lines[pos++]!;
      const item = l.text.trimStart().slice(1).trim();
      if (/^[^"'].*?:(\s|$)/.test(item)) throw new Error(`line ${l.n}: mappings inside sequences are not supported`);
      out.push(scalar(item, `line ${l.n}`));
    }
    return out;
  }
  function map(indent: number, parentIndent: number): { [key: string]: Yaml } {
    if (indent <= parentIndent && parentIndent >= 0) throw new Error(`line ${lines[pos]!.n}: bad indentation`);
    const out: { [key: string]: Yaml } = {};
    while (pos < lines.length) {
      const l = lines[pos]!;
      const ind = indentOf(l.text);
      if (ind < indent) break;
      if (ind > indent) throw new Error(`line ${l.n}: unexpected indentation`);
      if (isItem(l.text)) break;
      const m = /^("[^"]*"|'[^']*'|[^\s"'#][^:]*?):(?:\s+(.*))?$/.exec(l.text.trim());
      if (!m) throw new Error(`line ${l.n}: expected "key: value", got ${l.text.trim()}`);
      const key = scalar(m[1]!, `line ${l.n}`);
      if (key in out) throw new Error(`line ${l.n}: duplicate key ${key}`);
      pos++;
      if (m[2] !== undefined && m[2] !== '') out[key] = scalar(m[2], `line ${l.n}`);
      else if (pos < lines.length && (indentOf(lines[pos]!.text) > indent || (indentOf(lines[pos]!.text) === indent && isItem(lines[pos]!.text)))) {
        out[key] = block(indent);
      } else out[key] = '';
    }
    return out;
  }
  const doc = block(-1);
  if (pos !== lines.length) throw new Error(`line ${lines[pos]!.n}: could not read the rest of the file`);
  return doc;
}

const asMap = (y: Yaml | undefined, what: string): { [key: string]: Yaml } => {
  if (!y || typeof y !== 'object' || Array.isArray(y)) throw new Error(`${what} must be a mapping`);
  return y;
};
const asList = (y: Yaml | undefined, what: string): string[] => {
  if (!Array.isArray(y) || y.some((x) => typeof x !== 'string')) throw new Error(`${what} must be a list of strings`);
  return y as string[];
};

// ---------------------------------------------------------------------------------------------

const composeText = read('docker-compose.yml');
const compose = asMap(parseYaml(composeText), 'the file');
const services = asMap(compose.services, 'services');
const svc = asMap(services.andreyvpn, 'services.andreyvpn');

describe('docker-compose.yml: structure', () => {
  it('the YAML reader handles what it claims to and refuses the rest', () => {
    expect(parseYaml('a:\n  b: "x: y" # c\n  l:\n    - 1\n    - \'q\'\nk:\n- z\n')).toEqual({ a: { b: 'x: y', l: ['1', 'q'] }, k: ['z'] });
    expect(() => parseYaml('a: [1, 2]\n')).toThrow(/unsupported/);
    expect(() => parseYaml('a:\n  - b: c\n')).toThrow(/not supported/);
    expect(() => parseYaml('a: 1\na: 2\n')).toThrow(/duplicate/);
  });

  it('has one service, andreyvpn, built from this repository, restarting unless stopped', () => {
    expect(Object.keys(services)).toEqual(['andreyvpn']);
    expect(svc.build).toBe('.');
    expect(svc.image).toMatch(/^[a-z0-9][a-z0-9._/-]*:[\w.-]+$/);
    expect(svc.restart).toBe('unless-stopped');
    expect(svc.env_file).toBe('.env');
  });

  it('can manage the interface and no more: NET_ADMIN only (no SYS_MODULE without /lib/modules), /dev/net/tun, forwarding sysctls', () => {
    expect(asList(svc.cap_add, 'cap_add')).toEqual(['NET_ADMIN']);
    expect(svc).not.toHaveProperty('privileged');
    expect(asList(svc.devices, 'devices')).toContain('/dev/net/tun:/dev/net/tun');
    const sysctls = asMap(svc.sysctls, 'sysctls');
    expect(sysctls['net.ipv4.ip_forward']).toBe('1');
    expect(sysctls['net.ipv4.conf.all.src_valid_mark']).toBe('1');
  });

  it('publishes the UDP port the bot listens on (VPN_PORT, default 51820) on both sides', () => {
    const ports = asList(svc.ports, 'ports');
    expect(ports).toContain('${VPN_PORT:-51820}:${VPN_PORT:-51820}/udp');
    // The default must be the app's default.
    expect(read('src/config.ts')).toMatch(/VPN_PORT: int\([^)]*\)\.default\(51820\)/);
  });

  it('mounts exactly the image volumes, and pins DATA_DIR / VPN_CONFIG_DIR to them', () => {
    const volumes = asList(svc.volumes, 'volumes');
    expect(volumes).toEqual(expect.arrayContaining(['./data:/data', './amneziawg:/etc/amnezia/amneziawg']));
    const targets = volumes.map((v) => v.split(':')[1]);
    const dockerfileVolumes = [...read('Dockerfile').matchAll(/^VOLUME\s+(\[.*\])\s*$/gm)].flatMap((m) => JSON.parse(m[1]!) as string[]);
    expect(dockerfileVolumes.length).toBeGreaterThan(0);
    for (const v of dockerfileVolumes) expect(targets, `image volume ${v} is not mounted`).toContain(v);
    const env = asMap(svc.environment, 'environment');
    expect(env.DATA_DIR).toBe('/data');
    expect(env.VPN_CONFIG_DIR).toBe('/etc/amnezia/amneziawg');
    // The kernel-module mount stays optional (documented, commented out).
    expect(composeText).toMatch(/^\s*#\s*- \/lib\/modules:\/lib\/modules:ro\s*$/m);
  });

  it('gives the bot more time to stop than its own shutdown deadline', () => {
    const grace = /^(\d+)s$/.exec(String(svc.stop_grace_period ?? ''));
    expect(grace, 'stop_grace_period like 15s').toBeTruthy();
    expect(Number(grace![1])).toBeGreaterThanOrEqual(10);
  });

  it('every ${VAR} it uses is documented in .env.example or the README', () => {
    const code = composeText
      .split('\n')
      .map(stripComment)
      .join('\n');
    const vars = new Set([...code.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => (m[1] ?? m[2])!));
    expect(vars.size).toBeGreaterThan(0);
    const example = read('.env.example');
    const readme = read('README.md');
    for (const v of vars) {
      const documented = new RegExp(`^#?\\s*${v}=`, 'm').test(example) || readme.includes(`\`${v}\``);
      expect(documented, `${v} is used in docker-compose.yml but not documented`).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The real docker-compose (v1.29 from Debian, or v2): `config` validates the file against the
// Compose schema and shows how variables resolve. It needs env_file (.env) to exist, so it runs on
// a copy in a temporary directory with .env.example as .env; the repository is not touched.

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runCompose(argv: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile('docker-compose', argv, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

const composeAvailable = await runCompose(['version'], process.env).then(
  (r) => r.code === 0,
  () => false,
);
const ci = process.env.CI === 'true';

describe.skipIf(!composeAvailable && !ci)('docker-compose config (real docker-compose)', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const project = (extraEnv = ''): string => {
    if (!composeAvailable) throw new Error('docker-compose is not installed (CI=true, refusing to skip); .ci/run installs it');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'andreyvpn-compose-'));
    dirs.push(dir);
    fs.copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
    fs.writeFileSync(path.join(dir, '.env'), read('.env.example') + extraEnv);
    return dir;
  };
  // The environment without anything that would change interpolation.
  const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = {};
    for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL']) if (process.env[k] !== undefined) env[k] = process.env[k];
    return { ...env, ...extra };
  };

  it('accepts the file (config -q)', async () => {
    const dir = project();
    const r = await runCompose(['-f', path.join(dir, 'docker-compose.yml'), 'config', '-q'], cleanEnv());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);

  it('resolves the port to 51820/udp by default and follows VPN_PORT from .env and the environment', async () => {
    const published = async (dir: string, env: NodeJS.ProcessEnv): Promise<string> => {
      const r = await runCompose(['-f', path.join(dir, 'docker-compose.yml'), 'config'], env);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    const portOf = (out: string): { published: string | undefined; target: string | undefined; protocol: string | undefined } => ({
      published: /published: "?(\d+)"?/.exec(out)?.[1],
      target: /target: "?(\d+)"?/.exec(out)?.[1],
      protocol: /protocol: (\w+)/.exec(out)?.[1],
    });
    const def = await published(project(), cleanEnv());
    expect(portOf(def)).toEqual({ published: '51820', target: '51820', protocol: 'udp' });
    expect(def).toMatch(/NET_ADMIN/);
    expect(def).toMatch(/\/dev\/net\/tun:\/dev\/net\/tun/);
    expect(def).toMatch(/net\.ipv4\.ip_forward: '?"?1/);
    // .env sets VPN_PORT for the bot (env_file) and for interpolation alike.
    const fromFile = await published(project('\nVPN_PORT=51888\n'), cleanEnv());
    expect(portOf(fromFile)).toEqual({ published: '51888', target: '51888', protocol: 'udp' });
    expect(fromFile).toMatch(/VPN_PORT: '?"?51888/);
    const fromEnv = await published(project(), cleanEnv({ VPN_PORT: '51999' }));
    expect(portOf(fromEnv)).toEqual({ published: '51999', target: '51999', protocol: 'udp' });
  }, 60_000);

  it('fails without .env, naming it (so a forgotten .env is caught before anything starts)', async () => {
    const dir = project();
    fs.rmSync(path.join(dir, '.env'));
    const r = await runCompose(['-f', path.join(dir, 'docker-compose.yml'), 'config', '-q'], cleanEnv());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\.env/);
  }, 60_000);
});

describe('.ci/run', () => {
  const script = read('.ci/run');

  it('installs docker-compose with the other Debian packages', () => {
    const pkgs = /for pkg in ([^;]+); do/.exec(script)?.[1]?.split(/\s+/) ?? [];
    expect(pkgs).toContain('docker-compose');
    expect(script).toMatch(/apt-get install -y --no-install-recommends "\$\{missing\[@\]\}"/);
  });

  it('validates docker-compose.yml after npm ci and before npm test, leaving no .env behind', () => {
    const ciAt = script.indexOf('npm ci');
    const validateAt = script.indexOf('docker-compose -f docker-compose.yml config -q');
    const testAt = script.indexOf('npm test');
    expect(ciAt).toBeGreaterThan(-1);
    expect(validateAt).toBeGreaterThan(ciAt);
    expect(testAt).toBeGreaterThan(validateAt);
    expect(script).toMatch(/cp \.env\.example \.env/);
    expect(script).toMatch(/trap 'rm -f \.env' EXIT/);
  });
});
