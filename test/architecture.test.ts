import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The layers of src/, read from the import graph: a lower layer never imports a higher one.

const SRC = path.resolve(import.meta.dirname, '../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

interface Module {
  file: string;
  /** src/ files it imports (type-only imports included: they tie the code together as much). */
  local: string[];
  /** Packages it imports. */
  packages: string[];
}

function readGraph(): Map<string, Module> {
  const graph = new Map<string, Module>();
  for (const abs of sourceFiles(SRC)) {
    const file = path.relative(SRC, abs);
    const local: string[] = [];
    const packages: string[] = [];
    for (const m of fs.readFileSync(abs, 'utf8').matchAll(IMPORT_RE)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) local.push(path.relative(SRC, path.resolve(path.dirname(abs), spec.replace(/\.js$/, '.ts'))));
      else packages.push(spec);
    }
    graph.set(file, { file, local, packages });
  }
  return graph;
}

/** Strongly connected components of more than one file (or a file importing itself). */
function cycles(graph: Map<string, Module>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!.local.filter((f) => graph.has(f))) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)!.local.includes(v)) found.push(scc);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

const area = (file: string) => (file.includes('/') ? file.split('/')[0]! : file.replace(/\.ts$/, ''));

/** What each lower area may import from src/; everything above them is free to import them. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  db: ['db'],
  vpn: ['vpn', 'db'],
  'use-cases': ['use-cases', 'vpn', 'db'],
  monitor: ['monitor', 'use-cases', 'vpn', 'db'],
};

/** Only the Telegram side talks grammY: the bot, the outbox and broadcast senders, the webhook, the composition root and the log's error serializer. */
const GRAMMY_AREAS = new Set(['bot', 'outbox', 'broadcast', 'http', 'app', 'logger']);

const graph = readGraph();

describe('the shape of src/', () => {
  it('reads the graph it checks (a test that saw nothing would pass)', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('use-cases/access.ts')?.local).toContain('vpn/fleet.ts');
  });

  it('finds a cycle where there is one', () => {
    const m = (file: string, ...local: string[]): [string, Module] => [file, { file, local, packages: [] }];
    expect(cycles(new Map([m('a.ts', 'b.ts'), m('b.ts', 'c.ts'), m('c.ts', 'a.ts'), m('d.ts', 'a.ts')])).map((c) => c.sort())).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('has no import cycles', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('no lower layer imports a higher one', () => {
    const wrong = [...graph.values()].flatMap((m) => {
      const allowed = MAY_IMPORT[area(m.file)];
      return allowed ? m.local.filter((f) => !allowed.includes(area(f))).map((f) => `${m.file} → ${f}`) : [];
    });
    expect(wrong).toEqual([]);
  });

  it('only the Telegram side imports grammY', () => {
    const wrong = [...graph.values()].filter((m) => !GRAMMY_AREAS.has(area(m.file)) && m.packages.some((p) => p === 'grammy' || p.startsWith('grammy/') || p.startsWith('@grammyjs/')));
    expect(wrong.map((m) => m.file)).toEqual([]);
  });

  it('every file is small enough to read in one sitting (300 lines at most)', () => {
    const long = sourceFiles(SRC)
      .map((f) => ({ file: path.relative(SRC, f), lines: fs.readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > 300);
    expect(long).toEqual([]);
  });
});
