// The real AmneziaWG binaries the amneziawg tests run on (amneziawg-go, awg, awg-quick), from the
// shared folder beside the repository (its README.md names the upstream tags and commits).
//
//   const awg = await amneziawgGate(); // throws when CI=true and anything is missing
//   describe.skipIf(!awg)('…', () => { … run(['awg', 'show', …]) … });
//
// The gate puts the folder's bin/ first on PATH, so the bots, awg-quick and sshd sessions this
// process starts find awg and amneziawg-go there.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gateOn, realPartsAvailable } from './netns.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** AMNEZIAWG_DIR, else `<repo>/../shared/amneziawg`. */
export const AMNEZIAWG_DIR = path.resolve(process.env.AMNEZIAWG_DIR ?? path.join(ROOT, '..', 'shared', 'amneziawg'));
export const AMNEZIAWG_BIN = path.join(AMNEZIAWG_DIR, 'bin');
/** Every one of them must be listed in SHA256SUMS: an emptied list must not pass. */
const REQUIRED = ['bin/amneziawg-go', 'bin/awg', 'bin/awg-quick'];

/** Whether the shared folder is there and every file of its SHA256SUMS has that checksum. */
export function amneziawgBinaries(dir = AMNEZIAWG_DIR): { ok: boolean; missing: string[] } {
  const sums = path.join(dir, 'SHA256SUMS');
  let text: string;
  try {
    text = fs.readFileSync(sums, 'utf8');
  } catch (e) {
    return { ok: false, missing: [`${sums} (${(e as Error).message}; set AMNEZIAWG_DIR to the shared amneziawg folder)`] };
  }
  const missing: string[] = [];
  const listed = new Set<string>();
  for (const line of text.split('\n').filter((l) => l.trim())) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) {
      missing.push(`a readable line in ${sums} (got ${JSON.stringify(line.slice(0, 80))})`);
      continue;
    }
    const [, want, rel] = m as unknown as [string, string, string];
    listed.add(rel);
    const file = path.join(dir, rel);
    let got: string;
    try {
      got = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    } catch (e) {
      missing.push(`${file} (${(e as Error).message})`);
      continue;
    }
    if (got !== want) missing.push(`${file} with SHA-256 ${want} (it is ${got})`);
  }
  for (const rel of REQUIRED) if (!listed.has(rel)) missing.push(`${rel} in ${sums}`);
  return { ok: missing.length === 0, missing };
}

/** Puts `bin` first on PATH, once. */
function preferOnPath(bin: string): void {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d && d !== bin);
  process.env.PATH = [bin, ...dirs].join(path.delimiter);
}

/**
 * true when the real-tunnel parts (realPartsAvailable) and the checked shared binaries are here;
 * then their bin/ leads PATH. Otherwise false, or under CI=true an error naming what is missing.
 */
export async function amneziawgGate(dir = AMNEZIAWG_DIR): Promise<boolean> {
  const parts = await realPartsAvailable();
  const binaries = amneziawgBinaries(dir);
  const ok = gateOn({ ok: parts.ok && binaries.ok, missing: [...parts.missing, ...binaries.missing] });
  if (ok) preferOnPath(path.join(dir, 'bin'));
  return ok;
}

/** The table of the shared README: upstream repository (`amnezia-vpn/amneziawg-go`) → the tag and commit its binaries come from. */
export function sharedPins(dir = AMNEZIAWG_DIR): Map<string, { tag: string; commit: string }> {
  const pins = new Map<string, { tag: string; commit: string }>();
  for (const line of fs.readFileSync(path.join(dir, 'README.md'), 'utf8').split('\n')) {
    // | `bin/…` | owner/repo (license…) | tag | commit |
    const [, , upstream = '', tag = '', commit = ''] = line.split('|').map((c) => c.trim());
    const repo = /^([\w.-]+\/[\w.-]+)(?:\s|$)/.exec(upstream)?.[1];
    if (repo && /^v\d+(\.\d+)+$/.test(tag) && /^[0-9a-f]{40}$/.test(commit)) pins.set(repo, { tag, commit });
  }
  return pins;
}
