import { describe, expect, it } from 'vitest';
import { shippedNodeOptions } from '../../bench/bot.js';
import { parseOptions, PHASES } from '../../bench/options.js';
import { flatEnough, fmtMs, nearCeiling, quantile, renderTable, summarize, tenTimesFaster, tickCheap } from '../../bench/stats.js';

// The pure parts of `npm run bench` (the rest needs root and network namespaces): kept compiling and right here.
describe('bench: statistics, targets, table, flags', () => {
  it('quantiles interpolate between ranks; p50 and p95 of a known set', () => {
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(summarize(Array.from({ length: 101 }, (_, i) => i))).toEqual({ n: 101, p50: 50, p95: 95 });
    expect(() => quantile([], 0.5)).toThrow();
    expect([fmtMs(0.421), fmtMs(42.12), fmtMs(421.2), fmtMs(4210)]).toEqual(['0.42 ms', '42.1 ms', '421 ms', '4.21 s']);
  });

  it('targets of issue 8', () => {
    expect([flatEnough(10, 15), flatEnough(10, 15.1)]).toEqual([true, false]);
    expect([tenTimesFaster(10, 100), tenTimesFaster(10, 99)]).toEqual([true, false]);
    expect([tickCheap(20, 10), tickCheap(20.1, 10)]).toEqual([true, false]);
    expect([nearCeiling(38_333, 1000, 30), nearCeiling(38_400, 1000, 30)]).toEqual([true, false]);
  });

  it('the table is Markdown, one row per result, verdicts spelled out, pipes escaped', () => {
    const t = renderTable([
      { measurement: 'm', case: 'a|b', value: '1 ms', target: '≤ 2×', met: true },
      { measurement: 'm', case: 'c', value: '3 ms', met: false },
      { measurement: 'm', case: 'd', value: '4 ms' },
    ]).split('\n');
    expect(t).toHaveLength(5);
    expect(t[2]).toBe('| m | a\\|b | 1 ms |  |  | ≤ 2× | met |');
    expect(t[3]).toContain('**MISSED**');
    expect(t[4]!.endsWith('|  |  |  |  |')).toBe(true);
  });

  it('flags: full sizes by default, --quick small ones, sizes and phases checked', () => {
    const full = parseOptions([]);
    expect(full).toMatchObject({ phases: [...PHASES], peerSizes: [10, 1000, 5000], monitorSizes: [1000, 5000, 10_000], startUsers: 1000, dbUsers: 10_000, startupPeers: 5000, broadcastUsers: 1000, floodLimit: 30 });
    const quick = parseOptions(['--quick', '--only', 'peer,broadcast', '--peer-sizes', '50,5']);
    expect(quick).toMatchObject({ quick: true, phases: ['peer', 'broadcast'], peerSizes: [5, 50] });
    expect(quick.monitorSizes.at(-1)).toBeLessThan(full.monitorSizes.at(-1)!);
    expect(() => parseOptions(['--only', 'nope'])).toThrow(/unknown phase/);
    expect(() => parseOptions(['--peer-sizes', '10,x'])).toThrow(/peer-sizes/);
    expect(() => parseOptions(['--rounds', '0'])).toThrow(/rounds/);
    expect(() => parseOptions(['--bogus'])).toThrow();
  });

  it('bots run with the node options of `npm start`', () => {
    expect(shippedNodeOptions('npm run build && node --max-old-space-size=256 --max-semi-space-size=8 dist/main.js')).toEqual(['--max-old-space-size=256', '--max-semi-space-size=8']);
    expect(shippedNodeOptions('node dist/main.js')).toEqual([]);
    expect(() => shippedNodeOptions('tsx src/main.ts')).toThrow(/dist\/main\.js/);
  });
});
