import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  awgInterfaceLines,
  formatHValue,
  generateAwgParams,
  parseHValue,
  validateAwgParams,
} from '../../src/vpn/params.js';
import type { AwgParams, AwgProtocol, HValue } from '../../src/vpn/types.js';
import { mulberry32, replay } from '../support/seeded-random.js';

const protocols: AwgProtocol[] = [1, 2];

function hBounds(h: HValue): [number, number] {
  return typeof h === 'number' ? [h, h] : [h.min, h.max];
}

function checkInstallerRanges(p: AwgParams): void {
  expect(p.jc).toBeGreaterThanOrEqual(4);
  expect(p.jc).toBeLessThanOrEqual(6);
  expect(p.jmin).toBeGreaterThanOrEqual(10);
  expect(p.jmax).toBeLessThanOrEqual(1280);
  for (const s of [p.s1, p.s2]) {
    expect(s).toBeGreaterThanOrEqual(15);
    expect(s).toBeLessThanOrEqual(149);
  }
  if (p.protocol === 1) {
    expect(p.s3).toBeUndefined();
    expect(p.s4).toBeUndefined();
    for (const h of [p.h1, p.h2, p.h3, p.h4]) expect(typeof h).toBe('number');
  } else {
    expect(p.s3).toBeLessThanOrEqual(63);
    expect(p.s4).toBeLessThanOrEqual(19);
    const bounds = [p.h1, p.h2, p.h3, p.h4].map(hBounds);
    // ascending and non-overlapping
    for (let i = 1; i < 4; i++) expect(bounds[i]![0]).toBeGreaterThan(bounds[i - 1]![1]);
    expect(bounds[0]![0]).toBeGreaterThanOrEqual(5);
  }
  for (const k of ['i1', 'i2', 'i3', 'i4', 'i5'] as const) expect(p[k]).toBeUndefined();
}

describe('generateAwgParams', () => {
  for (const protocol of protocols) {
    it(`protocol ${protocol}: valid for many seeded PRNGs`, () => {
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          const p = generateAwgParams(protocol, mulberry32(seed));
          expect(validateAwgParams(p)).toEqual([]);
          checkInstallerRanges(p);
        }),
        { numRuns: 2000 },
      );
    });

    it(`protocol ${protocol}: valid even for adversarial random sources`, () => {
      fc.assert(
        fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (values) => {
          const p = generateAwgParams(protocol, replay(values));
          expect(validateAwgParams(p)).toEqual([]);
          checkInstallerRanges(p);
        }),
        { numRuns: 1000 },
      );
      for (const r of [() => 0, (max: number) => max - 1]) {
        expect(validateAwgParams(generateAwgParams(protocol, r))).toEqual([]);
      }
    });

    it(`protocol ${protocol}: valid with the default crypto random`, () => {
      for (let i = 0; i < 3000; i++) {
        const p = generateAwgParams(protocol);
        const problems = validateAwgParams(p);
        if (problems.length) expect.fail(`${JSON.stringify(p)}: ${problems.join('; ')}`);
      }
      checkInstallerRanges(generateAwgParams(protocol));
    });
  }

  it('is deterministic for a given random source', () => {
    expect(generateAwgParams(2, mulberry32(42))).toEqual(generateAwgParams(2, mulberry32(42)));
  });

  it('throws if random() misbehaves rather than producing undefined values', () => {
    expect(() => generateAwgParams(1, (max) => max)).toThrow(/out of range/);
  });
});

const v1: AwgParams = {
  protocol: 1,
  jc: 5,
  jmin: 10,
  jmax: 50,
  s1: 40,
  s2: 80,
  h1: 1000,
  h2: 2000,
  h3: 3000,
  h4: 4000,
};

const v2: AwgParams = {
  protocol: 2,
  jc: 5,
  jmin: 10,
  jmax: 50,
  s1: 40,
  s2: 80,
  s3: 20,
  s4: 10,
  h1: { min: 100, max: 200 },
  h2: { min: 300, max: 400 },
  h3: 500,
  h4: { min: 600, max: 2 ** 31 - 1 },
};

describe('validateAwgParams', () => {
  it('accepts valid fixtures', () => {
    expect(validateAwgParams(v1)).toEqual([]);
    expect(validateAwgParams(v2)).toEqual([]);
    expect(validateAwgParams({ ...v2, i1: '<r 2><b 0x858000010001>', i2: '<t><rc 8> <rd 4>' })).toEqual([]);
    // Wide but legal limits.
    expect(validateAwgParams({ ...v1, jc: 128, jmin: 0, jmax: 1280, s1: 1132, s2: 1000 })).toEqual([]);
    expect(validateAwgParams({ ...v1, s1: 1000, s2: 1188 })).toEqual([]);
  });

  const cases: [string, AwgParams, RegExp][] = [
    ['Jc zero', { ...v1, jc: 0 }, /Jc/],
    ['Jc too big', { ...v1, jc: 129 }, /Jc/],
    ['Jc fractional', { ...v1, jc: 4.5 }, /Jc/],
    ['Jmin = Jmax', { ...v1, jmin: 50, jmax: 50 }, /Jmin.*less than Jmax/],
    ['Jmin > Jmax', { ...v1, jmin: 60, jmax: 50 }, /Jmin.*less than Jmax/],
    ['Jmax > 1280', { ...v1, jmax: 1281 }, /Jmax/],
    ['negative Jmin', { ...v1, jmin: -1 }, /Jmin/],
    ['S1 > 1132', { ...v1, s1: 1133 }, /S1/],
    ['S2 > 1188', { ...v1, s2: 1189 }, /S2/],
    ['negative S', { ...v1, s1: -1 }, /S1/],
    ['S1+56 = S2', { ...v1, s1: 20, s2: 76 }, /padded sizes.*S1.*S2/],
    ['p2: S2/S3 padded collide', { ...v2, s2: 30, s3: 58 }, /padded sizes.*S2.*S3/],
    ['p2: S values equal', { ...v2, s3: 10, s4: 10 }, /S3 and S4 must differ/],
    ['p2: S3 missing', { ...v2, s3: undefined }, /S3/],
    ['p2: S4 missing', { ...v2, s4: undefined }, /S4/],
    ['p1: S3 set', { ...v1, s3: 20 }, /S3 is not allowed/],
    ['p1: S4 set', { ...v1, s4: 10 }, /S4 is not allowed/],
    ['H below 5', { ...v1, h1: 4 }, /H1/],
    ['H above 2^31-1', { ...v1, h2: 2 ** 31 }, /H2/],
    ['H duplicate', { ...v1, h3: 1000 }, /H1 and H3 must differ/],
    ['p1: H range', { ...v1, h1: { min: 10, max: 20 } }, /H1.*protocol 1/],
    ['p2: overlapping ranges', { ...v2, h2: { min: 150, max: 400 } }, /H1 and H2 overlap/],
    ['p2: number inside range', { ...v2, h3: 350 }, /H2 and H3 overlap/],
    ['p2: ranges touching at an end', { ...v2, h2: { min: 200, max: 400 } }, /H1 and H2 overlap/],
    ['p2: inverted range', { ...v2, h1: { min: 200, max: 100 } }, /H1.*min greater than max/],
    ['p2: range below 5', { ...v2, h1: { min: 1, max: 90 } }, /H1 min/],
    ['p1: I1 set', { ...v1, i1: '<r 16>' }, /I1 is not allowed/],
    ['p2: I junk text', { ...v2, i2: 'hello' }, /I2 has text outside a tag/],
    ['p2: I unknown tag', { ...v2, i3: '<x 1>' }, /I3 unknown tag <x>/],
    ['p2: I counter tag', { ...v2, i3: '<b 0x01><c>' }, /I3 <c> .* no longer accepted/],
    ['p2: I newline injection', { ...v2, i1: '<r 2>\nPostUp = rm -rf /' }, /I1 has text outside a tag/],
    ['p2: I empty', { ...v2, i5: '' }, /I5 has no tags/],
    ['bad protocol', { ...v1, protocol: 3 as AwgProtocol }, /protocol/],
  ];
  for (const [name, params, expected] of cases) {
    it(`catches ${name}`, () => {
      const problems = validateAwgParams(params);
      expect(problems.some((p) => expected.test(p)), problems.join(' | ')).toBe(true);
    });
  }
});

describe('H values', () => {
  it('formats and parses', () => {
    expect(formatHValue(123)).toBe('123');
    expect(formatHValue({ min: 100, max: 200 })).toBe('100-200');
    expect(parseHValue('123')).toBe(123);
    expect(parseHValue('100-200')).toEqual({ min: 100, max: 200 });
  });

  it('round-trips generated values', () => {
    for (const protocol of protocols) {
      const p = generateAwgParams(protocol);
      for (const h of [p.h1, p.h2, p.h3, p.h4]) expect(parseHValue(formatHValue(h))).toEqual(h);
    }
  });

  it('rejects malformed input', () => {
    for (const bad of ['', '-', '1-', '-1', '1-2-3', 'abc', '1.5', '0x10', '(null)']) {
      expect(() => parseHValue(bad), bad).toThrow(/Invalid H value/);
    }
  });
});

describe('awgInterfaceLines', () => {
  it('protocol 1: Jc…H4 in order', () => {
    expect(awgInterfaceLines(v1)).toEqual([
      'Jc = 5',
      'Jmin = 10',
      'Jmax = 50',
      'S1 = 40',
      'S2 = 80',
      'H1 = 1000',
      'H2 = 2000',
      'H3 = 3000',
      'H4 = 4000',
    ]);
  });

  it('protocol 2: adds S3, S4, ranges and only the defined I values', () => {
    expect(awgInterfaceLines({ ...v2, i1: '<r 2><b 0x8580>', i3: '<t>' })).toEqual([
      'Jc = 5',
      'Jmin = 10',
      'Jmax = 50',
      'S1 = 40',
      'S2 = 80',
      'S3 = 20',
      'S4 = 10',
      'H1 = 100-200',
      'H2 = 300-400',
      'H3 = 500',
      'H4 = 600-2147483647',
      'I1 = <r 2><b 0x8580>',
      'I3 = <t>',
    ]);
  });
});
