import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateImitation, imitationPacketSize, imitationProblem, maxImitationBytes } from '../../src/vpn/imitation.js';
import { parseDnsQuery, packetOf } from '../support/imitation-wire.js';
import { replay } from '../support/seeded-random.js';

describe('imitation packet tags', () => {
  it('counts the bytes each tag puts on the wire', () => {
    expect(imitationPacketSize('<b 0xc0ffee00>')).toBe(4);
    expect(imitationPacketSize('<b 0xC0FFEE00> <r 24>\t<t>')).toBe(32);
    expect(imitationPacketSize('<rc 8><rd 4><r 2><b 0x01>')).toBe(15);
    expect(imitationPacketSize('  <t>  ')).toBe(4);
  });

  it.each([
    ['', /no tags/],
    ['   ', /no tags/],
    ['hello', /text outside a tag at character 1/],
    ['<r 2> x', /text outside a tag at character 6/],
    ['<r 2>\nPostUp = rm -rf /', /text outside a tag/],
    ['<r\n2>', /text outside a tag at character 1/],
    ['<c>', /<c> .*no longer accepted/],
    ['<d>', /unknown tag <d>/],
    ['<b 0xabc>', /even number of hex digits/],
    ['<b abcd>', /needs 0x/],
    ['<b 0x>', /needs 0x/],
    ['<b 0xzz>', /hex digits/],
    ['<r 0>', /length from 1/],
    ['<r -1>', /length from 1/],
    ['<r>', /length from 1/],
    ['<rc 1.5>', /length from 1/],
    ['<t 4>', /<t> takes no argument/],
    ['<b 0x01 0x02>', /takes one argument/],
    ['<r 2', /text outside a tag/],
    [`<b 0x${'00'.repeat(2600)}>`, /longer than 5120/],
  ])('refuses %j', (spec, expected) => {
    expect(() => imitationPacketSize(spec)).toThrow(expected);
    expect(imitationProblem(spec, 10_000)).toMatch(expected);
  });

  it('a packet must fit the path MTU: the tunnel MTU plus 32 bytes', () => {
    expect(maxImitationBytes(undefined)).toBe(1452);
    expect(maxImitationBytes(1280)).toBe(1312);
    expect(imitationProblem('<r 1312>', maxImitationBytes(1280))).toBeNull();
    expect(imitationProblem('<r 1300><b 0x0102030405060708090a0b0c0d>', maxImitationBytes(1280))).toMatch(/1313-byte packet, more than the 1312/);
  });
});

describe('generated presets', () => {
  it('off sends nothing', () => {
    expect(generateImitation('off', 1452).values).toEqual({});
  });

  it('dns: I1 is a well-formed DNS query for a popular name (fresh transaction id per packet), whatever the random source', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (values) => {
        const { values: v, detail } = generateImitation('dns', 1452, replay(values));
        expect(Object.keys(v)).toEqual(['i1']);
        expect(v.i1).toMatch(/^<r 2><b 0x[0-9a-f]+>$/);
        const q = parseDnsQuery(packetOf(v.i1!));
        expect(q.flags).toBe(0x0100); // a standard query, recursion desired
        expect(['A', 'HTTPS']).toContain(q.type);
        expect(q.name).toMatch(/^[a-z0-9.-]+\.[a-z]{2,}$/);
        expect(detail).toBe(`${q.name} · ${q.type}`);
        expect(imitationProblem(v.i1!, 1452)).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('quic: I1 is a QUIC v1 long-header Initial of a client size (≥ 1200 bytes) whose Length field matches, within the MTU', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), fc.constantFrom(undefined, 1280, 1420, 1500), (values, mtu) => {
        const max = maxImitationBytes(mtu);
        const { values: v } = generateImitation('quic', max, replay(values));
        const p = packetOf(v.i1!);
        expect(p.length).toBe(imitationPacketSize(v.i1!));
        expect(p.length).toBeGreaterThanOrEqual(1200);
        expect(p.length).toBeLessThanOrEqual(Math.min(max, 1252));
        expect(p[0]! & 0xf0).toBe(0xc0); // long header, fixed bit, type Initial
        expect(p.readUInt32BE(1)).toBe(1);
        const dcid = p[5]!;
        expect([8, 16, 20]).toContain(dcid);
        const scid = p[6 + dcid]!;
        let at = 7 + dcid + scid;
        expect(p[at++]).toBe(0); // no token
        const length = p.readUInt16BE(at) & 0x3fff;
        expect(p[at]! & 0xc0).toBe(0x40); // a 2-byte varint
        expect(at + 2 + length).toBe(p.length);
      }),
      { numRuns: 300 },
    );
  });

  it('no two deployments share the same bytes', () => {
    for (const preset of ['dns', 'quic'] as const) {
      const seen = new Set(Array.from({ length: 50 }, () => packetOf(generateImitation(preset, 1452).values.i1!).toString('hex')));
      expect(seen.size).toBe(50);
    }
  });
});
