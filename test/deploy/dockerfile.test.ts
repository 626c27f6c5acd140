// The Dockerfile cannot be built here (no Docker engine), so these tests check that its steps fit
// the repository: what it copies exists and is not .dockerignore'd, what it copies from a stage is
// made there, the command it runs is what `npm run build` produces, upstream sources are pinned
// (to the tags and commits of the AmneziaWG binaries the tests run on), and the HEALTHCHECK command
// works against a real HTTP server.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMNEZIAWG_BIN, AMNEZIAWG_DIR, amneziawgBinaries, sharedPins } from '../support/amneziawg.js';
import { gateOn, run } from '../support/netns.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

// ---------------------------------------------------------------------------------------------
// A small Dockerfile reader: logical lines, stages, ARG defaults.

interface Instr {
  cmd: string;
  args: string;
  line: number;
}
interface Stage {
  index: number;
  name: string | undefined;
  /** FROM argument with variables resolved: an image reference or an earlier stage's name. */
  from: string;
  instrs: Instr[];
  /** ARG values visible in this stage (declared here; defaults from the global ARGs). */
  args: Map<string, string>;
}

function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines are dropped, even inside a continuation.
    if (trimmed.startsWith('#')) return;
    if (!buf && !trimmed) return;
    if (!buf) start = i + 1;
    if (trimmed.endsWith('\\')) {
      buf += `${trimmed.slice(0, -1)} `;
      return;
    }
    buf += trimmed;
    out.push({ text: buf.trim(), line: start });
    buf = '';
  });
  if (buf) out.push({ text: buf.trim(), line: start });
  return out;
}

function substitute(s: string, vars: Map<string, string>): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a?: string, b?: string) => {
    const v = vars.get((a ?? b)!);
    return v === undefined ? whole : v;
  });
}

function parseArg(args: string): [string, string | undefined] {
  const eq = args.indexOf('=');
  if (eq < 0) return [args.trim(), undefined];
  return [args.slice(0, eq).trim(), args.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')];
}

function parseDockerfile(text: string): { globalArgs: Map<string, string>; stages: Stage[] } {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const { text: l, line } of logicalLines(text)) {
    const m = /^(\S+)\s*(.*)$/.exec(l);
    if (!m) continue;
    const cmd = m[1]!.toUpperCase();
    const args = m[2] ?? '';
    const current = stages.at(-1);
    if (cmd === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`line ${line}: cannot read FROM ${args}`);
      stages.push({ index: stages.length, name: f[2], from: substitute(f[1]!, globalArgs), instrs: [], args: new Map() });
      continue;
    }
    if (!current) {
      if (cmd !== 'ARG') throw new Error(`line ${line}: only ARG may come before the first FROM (got ${cmd})`);
      const [k, v] = parseArg(args);
      if (v !== undefined) globalArgs.set(k, v);
      continue;
    }
    if (cmd === 'ARG') {
      const [k, v] = parseArg(args);
      const value = v ?? globalArgs.get(k);
      if (value !== undefined) current.args.set(k, value);
    }
    current.instrs.push({ cmd, args, line });
  }
  return { globalArgs, stages };
}

interface Copy {
  cmd: string;
  from: string | undefined;
  sources: string[];
  dest: string;
  line: number;
}

function parseCopy(instr: Instr): Copy {
  let rest = instr.args.trim();
  let from: string | undefined;
  for (;;) {
    const flag = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest);
    if (!flag) break;
    if (flag[1] === 'from') from = flag[2];
    rest = rest.slice(flag[0].length);
  }
  const parts: string[] = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  if (parts.length < 2) throw new Error(`line ${instr.line}: ${instr.cmd} needs a source and a destination`);
  return { cmd: instr.cmd, from, sources: parts.slice(0, -1), dest: parts.at(-1)!, line: instr.line };
}

/** WORKDIR in effect before instruction `upto` of the stage (following FROM stage chains). */
function workdirOf(stages: Stage[], stage: Stage, upto = stage.instrs.length): string {
  const parent = stages.find((s) => s.index < stage.index && s.name === stage.from);
  let wd = parent ? workdirOf(stages, parent) : '/';
  for (const i of stage.instrs.slice(0, upto)) {
    if (i.cmd === 'WORKDIR') wd = path.posix.resolve(wd, i.args.trim());
  }
  return wd;
}

/** The chain of stages a stage builds on, itself first. */
function lineage(stages: Stage[], stage: Stage): Stage[] {
  const parent = stages.find((s) => s.index < stage.index && s.name === stage.from);
  return parent ? [stage, ...lineage(stages, parent)] : [stage];
}

const baseImage = (stages: Stage[], stage: Stage): string => lineage(stages, stage).at(-1)!.from;

/** Exec-form JSON array of CMD/ENTRYPOINT/HEALTHCHECK CMD; shell form is refused. */
function execForm(args: string, what: string): string[] {
  const t = args.trim();
  if (!t.startsWith('[')) throw new Error(`${what} must use the exec (JSON) form so signals reach node: ${t}`);
  return JSON.parse(t) as string[];
}

// ---------------------------------------------------------------------------------------------
// .dockerignore, with Docker's rules: glob per path segment, `**`, a match on a parent directory
// excludes what is below it, `!` re-includes, the last matching pattern wins.

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function dockerignored(rel: string, patterns: string[]): boolean {
  const parts = path.posix.normalize(rel).replace(/^\.\//, '').split('/');
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = path.posix.normalize((negate ? raw.slice(1) : raw).trim()).replace(/^\/+/, '');
    const re = globToRegExp(p);
    for (let n = parts.length; n >= 1; n--) {
      if (re.test(parts.slice(0, n).join('/'))) {
        ignored = !negate;
        break;
      }
    }
  }
  return ignored;
}

const dockerignorePatterns = (): string[] =>
  read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

// ---------------------------------------------------------------------------------------------

const dockerfile = read('Dockerfile');
const { globalArgs, stages } = parseDockerfile(dockerfile);
const final = stages.at(-1)!;
const finalWorkdir = workdirOf(stages, final);
const copiesIn = (stage: Stage): Copy[] => stage.instrs.filter((i) => i.cmd === 'COPY' || i.cmd === 'ADD').map(parseCopy);
const runsIn = (stage: Stage): string[] => stage.instrs.filter((i) => i.cmd === 'RUN').map((i) => substitute(i.args, stage.args));
const tsconfigBuild = JSON.parse(read('tsconfig.build.json')) as { extends?: string; compilerOptions?: { rootDir?: string; outDir?: string } };
const outDir = path.posix.normalize(tsconfigBuild.compilerOptions?.outDir ?? 'dist');
const rootDir = path.posix.normalize(tsconfigBuild.compilerOptions?.rootDir ?? 'src');

/** Absolute in-image path of a COPY destination (relative ones are under the WORKDIR then). */
function destPaths(stage: Stage): { copy: Copy; dest: string }[] {
  const out: { copy: Copy; dest: string }[] = [];
  stage.instrs.forEach((instr, idx) => {
    if (instr.cmd !== 'COPY' && instr.cmd !== 'ADD') return;
    const copy = parseCopy(instr);
    out.push({ copy, dest: path.posix.resolve(workdirOf(stages, stage, idx), copy.dest) });
  });
  return out;
}

/** Where a copied source ends up: the destination itself, or destination/<basename> for a directory destination. */
function landing(copy: Copy, dest: string, src: string): string {
  return copy.sources.length > 1 || copy.dest.endsWith('/') ? path.posix.join(dest, path.posix.basename(src)) : dest;
}

describe('Dockerfile: stages', () => {
  it('is multi-stage with named build stages and a runtime stage last', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    for (const s of stages.slice(0, -1)) expect(s.name, `stage ${s.index} needs an AS name`).toBeTruthy();
    const names = stages.map((s) => s.name).filter(Boolean);
    expect(new Set(names).size).toBe(names.length);
  });

  it('every FROM image has an explicit tag that is not "latest" and a digest (or is an earlier stage)', () => {
    for (const s of stages) {
      if (stages.some((p) => p.index < s.index && p.name === s.from)) continue;
      expect(s.from, `FROM ${s.from} still has an unresolved variable`).not.toMatch(/\$/);
      const m = /^[^@]+?(?::([^/:@]+))?(@sha256:[0-9a-f]{64})?$/.exec(s.from);
      expect(m?.[1], `FROM ${s.from} needs a tag`).toBeTruthy();
      expect(m?.[1]).not.toBe('latest');
      expect(m?.[2], `FROM ${s.from} needs a digest`).toBeTruthy();
    }
  });

  it('npm runs no install scripts but better-sqlite3\'s', () => {
    const runs = stages.flatMap(runsIn).join('\n');
    for (const ci of runs.match(/npm ci\b[^\n&]*/g) ?? []) expect(ci).toContain('--ignore-scripts');
    expect(runs.match(/npm (?:rebuild|install)\b[^\n&]*/g)).toEqual(['npm rebuild better-sqlite3']);
  });

  it('builds node_modules and the runtime on the same base image (same libc and Node ABI for better-sqlite3)', () => {
    const nodeModules = destPaths(final).find(({ dest }) => dest === path.posix.join(finalWorkdir, 'node_modules'));
    expect(nodeModules, 'the runtime stage must copy node_modules').toBeTruthy();
    const from = stages.find((s) => s.name === nodeModules!.copy.from);
    expect(from, 'node_modules must come from a build stage').toBeTruthy();
    expect(baseImage(stages, from!)).toBe(final.from);
    expect(final.from).toMatch(/^node:20[.\w-]*-(bookworm|bullseye|trixie)-slim(@|$)|^node:20[.\w-]*-alpine/);
    // Only production dependencies in the image.
    const runs = lineage(stages, from!).flatMap(runsIn).join('\n');
    expect(runs).toMatch(/npm ci\b[^\n]*--omit=dev|npm prune\b[^\n]*--omit=dev/);
  });
});

describe('Dockerfile: what it copies', () => {
  const patterns = dockerignorePatterns();

  it('every local COPY/ADD source exists in the repository and is not excluded by .dockerignore', () => {
    const local = stages.flatMap((s) => copiesIn(s).filter((c) => !c.from));
    expect(local.length).toBeGreaterThan(0);
    for (const c of local) {
      expect(c.cmd, `line ${c.line}: use COPY (ADD fetches URLs and unpacks archives)`).toBe('COPY');
      for (const src of c.sources) {
        expect(src, `line ${c.line}: ${src} must stay inside the build context`).not.toMatch(/^\/|\.\.|^[a-z]+:\/\//);
        expect(fs.existsSync(path.join(ROOT, src)), `line ${c.line}: ${src} does not exist`).toBe(true);
        expect(dockerignored(src, patterns), `line ${c.line}: ${src} is excluded by .dockerignore`).toBe(false);
      }
    }
  });

  it('every COPY --from names an earlier stage and copies something that stage produces', () => {
    for (const s of stages) {
      for (const c of copiesIn(s).filter((x) => x.from)) {
        const src = stages.find((p) => p.name === c.from);
        expect(src, `line ${c.line}: no stage named ${c.from}`).toBeTruthy();
        expect(src!.index, `line ${c.line}: stage ${c.from} must come before`).toBeLessThan(s.index);
        const wd = workdirOf(stages, src!);
        const runs = lineage(stages, src!).flatMap(runsIn);
        for (const raw of c.sources) {
          const p = path.posix.resolve(wd, raw);
          const rel = path.posix.relative(wd, p);
          if (!rel.startsWith('..') && rel === outDir) {
            expect(runs.some((r) => /\bnpm run build\b/.test(r)), `line ${c.line}: ${c.from} never runs npm run build`).toBe(true);
          } else if (!rel.startsWith('..') && rel === 'node_modules') {
            expect(runs.some((r) => /\bnpm (ci|install)\b/.test(r)), `line ${c.line}: ${c.from} never installs node_modules`).toBe(true);
          } else {
            // An absolute path a RUN writes: named there itself, or under a named directory (DESTDIR=/out).
            const tokens = runs.flatMap((r) => r.split(/\s+/)).map((t) => t.replace(/^[A-Z_]+=/, '').replace(/^["']|["';]+$/g, ''));
            const made = tokens.some((t) => t.startsWith('/') && t.length > 1 && (p === t || p.startsWith(`${t}/`)));
            expect(made, `line ${c.line}: nothing in stage ${c.from} writes ${p}`).toBe(true);
          }
        }
      }
    }
  });

  it('the stage that runs npm run build has what the build reads: package files, tsconfigs, src', () => {
    const build = stages.find((s) => runsIn(s).some((r) => /\bnpm run build\b/.test(r)));
    expect(build).toBeTruthy();
    const wd = workdirOf(stages, build!);
    const copied = lineage(stages, build!)
      .flatMap((s) => destPaths(s).filter(({ copy }) => !copy.from).flatMap(({ copy, dest }) => copy.sources.map((src) => ({ src, at: landing(copy, dest, src) }))));
    const has = (file: string) => copied.some(({ src, at }) => path.posix.normalize(src) === file && at === path.posix.join(wd, file));
    const tsconfigs = ['tsconfig.build.json'];
    if (tsconfigBuild.extends) tsconfigs.push(path.posix.normalize(tsconfigBuild.extends));
    for (const f of ['package.json', 'package-lock.json', ...tsconfigs, rootDir]) expect(has(f), `${f} is not copied to ${wd}/${f}`).toBe(true);
  });

  it('package-lock.json is copied before every npm ci', () => {
    for (const s of stages) {
      s.instrs.forEach((instr, idx) => {
        if (instr.cmd !== 'RUN' || !/\bnpm ci\b/.test(instr.args)) return;
        const before = [...lineage(stages, s).slice(1).flatMap(copiesIn), ...s.instrs.slice(0, idx).filter((i) => i.cmd === 'COPY').map(parseCopy)];
        expect(before.some((c) => !c.from && c.sources.includes('package-lock.json')), `line ${instr.line}: npm ci without package-lock.json`).toBe(true);
      });
    }
  });
});

describe('Dockerfile: the runtime stage', () => {
  const dests = destPaths(final);
  const landed = dests.flatMap(({ copy, dest }) => copy.sources.map((src) => ({ copy, src, at: landing(copy, dest, src) })));

  it('runs node on the compiled src/main.ts, under tini, as root', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts?: Record<string, string> };
    expect(pkg.scripts?.build, 'package.json needs a build script').toBeTruthy();
    const cmd = final.instrs.filter((i) => i.cmd === 'CMD').at(-1);
    expect(cmd, 'the runtime stage needs a CMD').toBeTruthy();
    const argv = execForm(cmd!.args, 'CMD');
    expect(argv[0]).toBe('node');
    const entry = argv.find((a) => a.endsWith('.js'));
    expect(entry).toBe(`${outDir}/main.js`);
    // dist/X.js is tsc's output for src/X.ts (tsconfig.build.json: rootDir src, outDir dist).
    const source = path.join(ROOT, rootDir, path.posix.relative(outDir, entry!).replace(/\.js$/, '.ts'));
    expect(fs.existsSync(source), `${entry} has no source ${path.relative(ROOT, source)}`).toBe(true);
    // ...and it is in the image: dist comes from the stage that built it.
    expect(landed.some(({ at }) => at === path.posix.join(finalWorkdir, outDir))).toBe(true);

    const entrypoint = final.instrs.filter((i) => i.cmd === 'ENTRYPOINT').at(-1);
    if (entrypoint) {
      const ep = execForm(entrypoint.args, 'ENTRYPOINT');
      expect(ep[0]).toBe('/usr/bin/tini');
      expect(runsIn(final).join('\n')).toMatch(/apt-get install[^\n]*\btini\b/);
    }
    expect(final.instrs.some((i) => i.cmd === 'USER' && !/^(root|0)(:|$)/.test(i.args.trim())), 'it must run as root').toBe(false);
  });

  it('has the files the app reads next to dist at run time (locales, package.json)', () => {
    expect(landed.some(({ src, at }) => src === 'package.json' && at === path.posix.join(finalWorkdir, 'package.json'))).toBe(true);
    // Every path a module resolves from its own location (import.meta.url) must exist in the image:
    // src/bot/i18n.ts -> dist/bot/../../locales = <WORKDIR>/locales.
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else if (e.name.endsWith('.ts')) {
          const text = fs.readFileSync(full, 'utf8');
          const re = /import\.meta\.url\)\s*\)\s*,\s*'([^']+)'\s*\)|new URL\(\s*'([^']+)'\s*,\s*import\.meta\.url\s*\)/g;
          for (const m of text.matchAll(re)) {
            const rel = path.posix.relative(path.join(ROOT, rootDir), full).split(path.sep).join('/');
            const compiledDir = path.posix.join(finalWorkdir, outDir, path.posix.dirname(rel));
            found.push(path.posix.resolve(compiledDir, (m[1] ?? m[2])!));
          }
        }
      }
    };
    walk(path.join(ROOT, rootDir));
    expect(found, 'expected at least the locales directory').toContain(path.posix.join(finalWorkdir, 'locales'));
    for (const p of found) {
      if (p === path.posix.join(finalWorkdir, outDir) || p.startsWith(path.posix.join(finalWorkdir, outDir) + '/')) continue;
      const copied = landed.some(({ at }) => p === at || p.startsWith(`${at}/`));
      expect(copied, `${p} is read at run time but nothing is copied there`).toBe(true);
    }
    expect((fs.readdirSync(path.join(ROOT, 'locales'), { recursive: true }) as string[]).some((f) => f.endsWith('.ftl'))).toBe(true);
  });

  it('puts awg, awg-quick and amneziawg-go on PATH and installs what awg-quick and NAT need', () => {
    for (const bin of ['awg', 'awg-quick', 'amneziawg-go']) {
      expect(
        landed.some(({ copy, src, at }) => copy.from && path.posix.basename(src) === bin && at === `/usr/bin/${bin}`),
        `/usr/bin/${bin} is not copied from a build stage`,
      ).toBe(true);
    }
    const apt = runsIn(final).join('\n');
    for (const pkg of ['iproute2', 'iptables']) expect(apt).toMatch(new RegExp(`apt-get install[^\\n]*\\b${pkg}\\b`));
    expect(apt).toMatch(/--no-install-recommends/);
    expect(apt).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
  });

  it('keeps state on volumes: DATA_DIR=/data and VPN_CONFIG_DIR=/etc/amnezia/amneziawg', () => {
    const env = new Map<string, string>();
    for (const i of final.instrs.filter((x) => x.cmd === 'ENV')) {
      for (const m of i.args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) env.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
    }
    expect(env.get('DATA_DIR')).toBe('/data');
    expect(env.get('VPN_CONFIG_DIR')).toBe('/etc/amnezia/amneziawg');
    const volumes = final.instrs.filter((i) => i.cmd === 'VOLUME').flatMap((i) => execForm(i.args, 'VOLUME'));
    expect(volumes.sort()).toEqual(['/data', '/etc/amnezia/amneziawg']);
    const config = read('src/config.ts');
    for (const name of ['DATA_DIR', 'VPN_CONFIG_DIR']) expect(config, `src/config.ts no longer reads ${name}`).toContain(`${name}:`);
  });
});

describe('Dockerfile: upstream sources are pinned', () => {
  const clones = stages.flatMap((s) => runsIn(s).flatMap((r) => [...r.matchAll(/git clone ([^;&|]*)/g)].map((m) => ({ stage: s, args: m[1]!, run: r }))));

  it('clones amneziawg-go and amneziawg-tools', () => {
    const repos = clones.map((c) => /https:\/\/github\.com\/([\w.-]+\/[\w.-]+?)(?:\.git)?(?:\s|$)/.exec(c.args)?.[1]);
    expect(repos).toEqual(expect.arrayContaining(['amnezia-vpn/amneziawg-go', 'amnezia-vpn/amneziawg-tools']));
  });

  it('every git clone checks out a version tag, never a branch, and verifies the commit', () => {
    expect(clones.length).toBeGreaterThan(0);
    for (const { stage, args, run } of clones) {
      const ref = /--branch[= ]"?([^\s"]+)"?/.exec(args)?.[1];
      expect(ref, `git clone ${args} needs --branch <tag>`).toBeTruthy();
      expect(ref).not.toMatch(/\$/); // resolved from the stage's ARGs
      expect(ref).not.toMatch(/^(master|main|latest|HEAD|dev|develop)$/);
      expect(ref, `${ref} is not a version tag`).toMatch(/^v?\d+(\.\d+)+$/);
      // The commit the tag pointed to is pinned too (40 hex digits) and compared with HEAD.
      const commitArg = [...stage.args.entries()].find(([k, v]) => /_COMMIT$/.test(k) && run.includes(v) && /^[0-9a-f]{40}$/.test(v));
      expect(commitArg, `${ref}: no *_COMMIT arg (40 hex digits) checked in the same RUN`).toBeTruthy();
      expect(run).toMatch(/git rev-parse HEAD/);
    }
  });

  it('documents the pinned versions as global ARGs', () => {
    for (const k of ['AMNEZIAWG_GO_VERSION', 'AMNEZIAWG_TOOLS_VERSION', 'AMNEZIAWG_GO_COMMIT', 'AMNEZIAWG_TOOLS_COMMIT']) {
      expect(globalArgs.get(k), `global ARG ${k}`).toBeTruthy();
    }
  });

  it('installs awg-quick with the Makefile variables amneziawg-tools uses', () => {
    const tools = clones.find((c) => c.args.includes('amneziawg-tools'));
    expect(tools).toBeTruthy();
    expect(tools!.run).toMatch(/make -C src\b[^;]*\binstall\b/);
    expect(tools!.run).toMatch(/\bWITH_WGQUICK=yes\b/);
    expect(tools!.run).toMatch(/\bDESTDIR=\S+/);
  });
});

// Under CI=true a missing or changed shared folder fails this file.
const sharedAwg = gateOn(amneziawgBinaries());

describe.skipIf(!sharedAwg)(`Dockerfile: the pins are those of the AmneziaWG binaries the tests run on (${AMNEZIAWG_DIR})`, () => {
  const UPSTREAMS = [
    { repo: 'amnezia-vpn/amneziawg-go', arg: 'AMNEZIAWG_GO', bin: 'amneziawg-go', prints: 'amneziawg-go' },
    { repo: 'amnezia-vpn/amneziawg-tools', arg: 'AMNEZIAWG_TOOLS', bin: 'awg', prints: 'amneziawg-tools' },
  ];

  it("the folder's README names a tag and commit per upstream, and the Dockerfile's ARGs pin the same", () => {
    const pins = sharedPins();
    for (const u of UPSTREAMS) {
      expect(pins.get(u.repo), `${u.repo} in ${AMNEZIAWG_DIR}/README.md`).toBeDefined();
      expect({ tag: globalArgs.get(`${u.arg}_VERSION`), commit: globalArgs.get(`${u.arg}_COMMIT`) }, u.repo).toEqual(pins.get(u.repo));
    }
  });

  it("each binary's --version names the Dockerfile's tag", async () => {
    for (const u of UPSTREAMS) {
      const first = (await run([path.join(AMNEZIAWG_BIN, u.bin), '--version'])).stdout.split('\n')[0];
      expect(first).toMatch(new RegExp(`^${u.prints} ${globalArgs.get(`${u.arg}_VERSION`)!.replaceAll('.', '\\.')}( |$)`));
    }
  });
});

describe('Dockerfile: HEALTHCHECK', () => {
  const hc = final.instrs.find((i) => i.cmd === 'HEALTHCHECK');
  const argv = hc ? execForm(hc.args.replace(/^(--[a-z-]+=\S+\s+)*CMD\s+/, ''), 'HEALTHCHECK CMD') : [];
  const script = argv[0] === 'node' && argv[1] === '-e' ? argv[2] : undefined;
  let server: http.Server | undefined;
  let port = 0;
  let status = 200;
  /** METRICS_TOKEN of the app behind the stand-in. */
  let token: string | null = null;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const authorized = token === null || req.headers.authorization === `Bearer ${token}`;
      res.writeHead(req.url !== '/healthz' ? 404 : authorized ? status : 401).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  const probe = (env: Record<string, string | undefined>): Promise<number | null> =>
    new Promise((resolve, reject) => {
      const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH };
      for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
      const child = spawn(process.execPath, ['-e', script!], { env: childEnv, stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });

  it('exists, runs `node -e` (no curl in the slim image) and uses the app settings', () => {
    expect(hc, 'the runtime stage needs a HEALTHCHECK').toBeTruthy();
    expect(hc!.args).toMatch(/--interval=\d+s/);
    expect(hc!.args).toMatch(/--timeout=\d+s/);
    expect(hc!.args).toMatch(/--start-period=\d+s/);
    expect(script).toBeTruthy();
    expect(script).toContain('/healthz');
    const config = read('src/config.ts');
    // The app's HTTP server settings and their defaults, as the healthcheck assumes them.
    expect(config).toMatch(/WEBHOOK_PORT: int\([^)]*\)\.default\(8080\)/);
    expect(config).toMatch(/HTTP_HOST: [^\n]*\.default\('127\.0\.0\.1'\)/);
    expect(script).toMatch(/process\.env\.WEBHOOK_PORT\s*\|\|\s*8080/);
  });

  it('exits 0 on 200, 1 on 503 and 1 when nothing listens', async () => {
    status = 200;
    expect(await probe({ WEBHOOK_PORT: String(port) })).toBe(0);
    expect(await probe({ WEBHOOK_PORT: String(port), HTTP_HOST: '0.0.0.0' })).toBe(0);
    expect(await probe({ WEBHOOK_PORT: String(port), HTTP_HOST: '127.0.0.1' })).toBe(0);
    status = 503;
    expect(await probe({ WEBHOOK_PORT: String(port) })).toBe(1);
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await probe({ WEBHOOK_PORT: String(closedPort) })).toBe(1);
  }, 30_000);

  it('sends METRICS_TOKEN as a bearer token when the app wants one', async () => {
    status = 200;
    token = 'healthcheck-token-0123456789';
    try {
      expect(await probe({ WEBHOOK_PORT: String(port) })).toBe(1);
      expect(await probe({ WEBHOOK_PORT: String(port), METRICS_TOKEN: 'another-token-0123456789' })).toBe(1);
      expect(await probe({ WEBHOOK_PORT: String(port), METRICS_TOKEN: token })).toBe(0);
    } finally {
      token = null;
    }
  }, 30_000);
});

describe('.dockerignore', () => {
  const patterns = dockerignorePatterns();

  it('keeps secrets, state and host-built artifacts out of the build context', () => {
    for (const p of ['node_modules', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node', 'dist', 'dist/main.js', 'data', 'data/bot.db', '.env', '.git', 'coverage', 'amneziawg/awg0.conf']) {
      expect(dockerignored(p, patterns), `${p} should be ignored`).toBe(true);
    }
  });

  it('the matcher follows Docker rules (parent directories, negation, last match wins)', () => {
    expect(dockerignored('a/b/c', ['a'])).toBe(true);
    expect(dockerignored('a/b', ['a', '!a/b'])).toBe(false);
    expect(dockerignored('x.log', ['*.log'])).toBe(true);
    expect(dockerignored('d/x.log', ['*.log'])).toBe(false);
    expect(dockerignored('d/x.log', ['**/*.log'])).toBe(true);
  });
});
