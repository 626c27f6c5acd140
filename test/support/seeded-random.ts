import type { RandomInt } from '../../src/vpn/types.js';

/** A repeatable RandomInt from a seed (mulberry32), for property tests over generators. */
export function mulberry32(seed: number): RandomInt {
  let a = seed >>> 0;
  return (max) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * max);
  };
}

/** Replays a fixed sequence: lets fast-check try adversarial "random" sources (all zeros, repeats). */
export function replay(values: number[]): RandomInt {
  let i = 0;
  return (max) => values[i++ % values.length]! % max;
}
