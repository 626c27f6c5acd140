import { randomInt } from 'node:crypto';
import { IMITATION_KEYS, imitationProblem } from './imitation.js';
import type { AwgParams, AwgProtocol, HValue, RandomInt } from './types.js';

const H_MIN = 5; // 1..4 are plain WireGuard's message types
const H_MAX = 2 ** 31 - 1;
const MAX_PACKET = 1280;
// Unpadded sizes of init, response, cookie and transport messages (S1..S4 pad them).
const BASE_SIZES = [148, 92, 64, 32] as const;
const S_MAX = BASE_SIZES.map((base) => MAX_PACKET - base); // S1 ≤ 1132, S2 ≤ 1188, …

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/**
 * Follows the Amnezia installer: Jc 4–6, small Jmin, Jmax well under 1280, S1/S2 in 15–149,
 * S3 0–63, S4 0–19, all S and padded sizes distinct, H as distinct numbers (protocol 1) or
 * ascending non-overlapping ranges from 5 (protocol 2).
 *
 * I1–I5 are not part of these: they are the deployment's imitation packets (imitation.ts).
 *
 * Candidates are drawn from explicit lists instead of retrying on collision, so a poor `random`
 * (even one that always returns 0) still terminates with valid parameters.
 */
export function generateAwgParams(protocol: AwgProtocol, random: RandomInt = randomInt): AwgParams {
  const pick = (values: number[]): number => {
    const v = values[random(values.length)];
    if (v === undefined) throw new Error('random() returned a value out of range');
    return v;
  };

  const jc = pick(range(4, 6));
  const jmin = pick(range(10, 50));
  const jmax = Math.min(MAX_PACKET, jmin + pick(range(20, 1000)));

  const sRanges: [number, number][] =
    protocol === 1 ? [[15, 149], [15, 149]] : [[15, 149], [15, 149], [0, 63], [0, 19]];
  const s: number[] = [];
  const sizes: number[] = [];
  sRanges.forEach(([lo, hi], i) => {
    const base = BASE_SIZES[i]!;
    const v = pick(range(lo, hi).filter((c) => !s.includes(c) && !sizes.includes(base + c)));
    s.push(v);
    sizes.push(base + v);
  });

  const common = { jc, jmin, jmax, s1: s[0]!, s2: s[1]! };
  if (protocol === 1) {
    const [h1, h2, h3, h4] = distinctInts(4, random);
    return { protocol, ...common, h1: h1!, h2: h2!, h3: h3!, h4: h4! };
  }
  const b = distinctInts(8, random).sort((x, y) => x - y);
  const r = (i: number): HValue => ({ min: b[2 * i]!, max: b[2 * i + 1]! });
  return { protocol, ...common, s3: s[2]!, s4: s[3]!, h1: r(0), h2: r(1), h3: r(2), h4: r(3) };
}

function distinctInts(count: number, random: RandomInt): number[] {
  const out: number[] = [];
  while (out.length < count) {
    let v = H_MIN + random(H_MAX - H_MIN + 1);
    while (out.includes(v)) v = v >= H_MAX ? H_MIN : v + 1;
    out.push(v);
  }
  return out;
}

export function validateAwgParams(p: AwgParams): string[] {
  const errors: string[] = [];
  const int = (name: string, v: unknown, lo: number, hi: number): boolean => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi) return true;
    errors.push(`${name} must be an integer in ${lo}..${hi}, got ${String(v)}`);
    return false;
  };

  if (p.protocol !== 1 && p.protocol !== 2) {
    errors.push(`protocol must be 1 or 2, got ${String(p.protocol)}`);
    return errors;
  }

  int('Jc', p.jc, 1, 128);
  const jOk = int('Jmin', p.jmin, 0, MAX_PACKET) && int('Jmax', p.jmax, 1, MAX_PACKET);
  if (jOk && p.jmin >= p.jmax) errors.push(`Jmin (${p.jmin}) must be less than Jmax (${p.jmax})`);

  const sValues: [string, number | undefined][] = [
    ['S1', p.s1],
    ['S2', p.s2],
  ];
  if (p.protocol === 1) {
    if (p.s3 !== undefined) errors.push('S3 is not allowed with protocol 1');
    if (p.s4 !== undefined) errors.push('S4 is not allowed with protocol 1');
  } else {
    sValues.push(['S3', p.s3], ['S4', p.s4]);
  }
  const sOk = sValues.map(([name, v], i) => int(name, v, 0, S_MAX[i]!)).every(Boolean);
  if (sOk) {
    for (let i = 0; i < sValues.length; i++) {
      for (let j = i + 1; j < sValues.length; j++) {
        const [ni, vi] = sValues[i]!;
        const [nj, vj] = sValues[j]!;
        if (BASE_SIZES[i]! + vi! === BASE_SIZES[j]! + vj!) {
          errors.push(`padded sizes must differ: ${BASE_SIZES[i]}+${ni} = ${BASE_SIZES[j]}+${nj} = ${BASE_SIZES[i]! + vi!}`);
        }
        // Protocol 2 follows the installer in keeping the S values themselves distinct too.
        if (p.protocol === 2 && vi === vj) errors.push(`${ni} and ${nj} must differ (both ${vi})`);
      }
    }
  }

  const hs: [string, HValue][] = [
    ['H1', p.h1],
    ['H2', p.h2],
    ['H3', p.h3],
    ['H4', p.h4],
  ];
  const intervals: [string, number, number][] = [];
  for (const [name, h] of hs) {
    if (typeof h === 'number') {
      if (int(name, h, H_MIN, H_MAX)) intervals.push([name, h, h]);
    } else if (typeof h === 'object' && h !== null) {
      if (p.protocol === 1) {
        errors.push(`${name} must be a single number with protocol 1 (ranges need protocol 2)`);
        continue;
      }
      const ok = int(`${name} min`, h.min, H_MIN, H_MAX) && int(`${name} max`, h.max, H_MIN, H_MAX);
      if (!ok) continue;
      if (h.min > h.max) errors.push(`${name} range ${formatHValue(h)} has min greater than max`);
      else intervals.push([name, h.min, h.max]);
    } else {
      errors.push(`${name} must be a number or a {min, max} range`);
    }
  }
  for (let i = 0; i < intervals.length; i++) {
    for (let j = i + 1; j < intervals.length; j++) {
      const [na, aMin, aMax] = intervals[i]!;
      const [nb, bMin, bMax] = intervals[j]!;
      if (aMin <= bMax && bMin <= aMax) {
        errors.push(aMin === aMax && bMin === bMax ? `${na} and ${nb} must differ` : `${na} and ${nb} overlap`);
      }
    }
  }

  for (const key of IMITATION_KEYS) {
    const v = p[key];
    if (v === undefined) continue;
    const name = key.toUpperCase();
    if (p.protocol === 1) errors.push(`${name} is not allowed with protocol 1`);
    else {
      // Also guards the config file: the grammar leaves no room for a newline that would inject keys.
      const problem = typeof v === 'string' ? imitationProblem(v, Number.POSITIVE_INFINITY) : 'is not a string';
      if (problem) errors.push(`${name} ${problem}`);
    }
  }

  return errors;
}

export function formatHValue(h: HValue): string {
  return typeof h === 'number' ? String(h) : `${h.min}-${h.max}`;
}

export function parseHValue(s: string): HValue {
  const m = /^\s*([0-9]+)(?:-([0-9]+))?\s*$/.exec(s);
  if (!m) throw new Error(`Invalid H value: ${JSON.stringify(s)}`);
  const min = Number(m[1]);
  if (m[2] === undefined) return min;
  return { min, max: Number(m[2]) };
}

export function awgInterfaceLines(p: AwgParams): string[] {
  const lines = [`Jc = ${p.jc}`, `Jmin = ${p.jmin}`, `Jmax = ${p.jmax}`, `S1 = ${p.s1}`, `S2 = ${p.s2}`];
  if (p.s3 !== undefined) lines.push(`S3 = ${p.s3}`);
  if (p.s4 !== undefined) lines.push(`S4 = ${p.s4}`);
  lines.push(
    `H1 = ${formatHValue(p.h1)}`,
    `H2 = ${formatHValue(p.h2)}`,
    `H3 = ${formatHValue(p.h3)}`,
    `H4 = ${formatHValue(p.h4)}`,
  );
  for (const key of IMITATION_KEYS) {
    const v = p[key];
    if (v !== undefined) lines.push(`${key.toUpperCase()} = ${v}`);
  }
  return lines;
}
