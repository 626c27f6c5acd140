import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DumpParseError, parseDump } from '../../src/vpn/dump.js';
import { generateAwgParams } from '../../src/vpn/params.js';
import { renderClientConfig, renderServerConfig } from '../../src/vpn/render.js';
import type { DumpPeer } from '../../src/vpn/types.js';

const wgKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
// Interface-line extras as AWG prints them: anything but tabs and newlines, (null) included.
const extraField = fc.oneof(fc.constant('(null)'), fc.nat().map(String), fc.string({ unit: fc.constantFrom('<', '>', ' ', 'r', 'b', '0', 'x', '1', '-', '9') }).filter((s) => s.length > 0));

const peer: fc.Arbitrary<DumpPeer> = fc.record({
  publicKey: wgKey,
  presharedKey: fc.option(wgKey, { nil: null }),
  endpoint: fc.option(fc.tuple(ipv4, fc.integer({ min: 1, max: 65535 })).map(([ip, port]) => `${ip}:${port}`), { nil: null }),
  allowedIps: fc.array(ipv4.map((ip) => `${ip}/32`), { maxLength: 3 }),
  latestHandshake: fc.option(fc.integer({ min: 1, max: 2 ** 33 }), { nil: null }),
  rx: fc.maxSafeNat(),
  tx: fc.maxSafeNat(),
  keepalive: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }),
});

function printDump(priv: string, pub: string, port: number, extras: string[], fwmark: string, peers: DumpPeer[]): string {
  const lines = [[priv, pub, port, ...extras, fwmark].join('\t')];
  for (const p of peers) {
    lines.push(
      [p.publicKey, p.presharedKey ?? '(none)', p.endpoint ?? '(none)', p.allowedIps.join(',') || '(none)', p.latestHandshake ?? 0, p.rx, p.tx, p.keepalive ?? 'off'].join('\t'),
    );
  }
  return `${lines.join('\n')}\n`;
}

describe('property: dump parser', () => {
  it('reads back exactly what any tools version prints, whatever the interface line length', () => {
    fc.assert(
      fc.property(wgKey, wgKey, fc.integer({ min: 0, max: 65535 }), fc.array(extraField, { maxLength: 30 }), fc.constantFrom('off', '0x1234', '51820'), fc.array(peer, { maxLength: 20 }), (priv, pub, port, extras, fwmark, peers) => {
        const d = parseDump(printDump(priv, pub, port, extras, fwmark, peers));
        expect(d.iface).toEqual({ privateKey: priv, publicKey: pub, listenPort: port, fwmark, extra: extras });
        expect(d.peers).toEqual(peers);
      }),
      { numRuns: 500 },
    );
  });

  it('on arbitrary input it either parses or throws DumpParseError, never garbage', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('\t', '\n', 'a', '=', '1', '(none)', ' ', '-', 'A'.repeat(43) + '=') }), (text) => {
        try {
          const d = parseDump(text);
          for (const p of d.peers) {
            expect(Number.isSafeInteger(p.rx) && p.rx >= 0 && Number.isSafeInteger(p.tx) && p.tx >= 0).toBe(true);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(DumpParseError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('property: config rendering', () => {
  const line = /^(\[Interface\]|\[Peer\]|[A-Za-z0-9]+ = [^\r\n]+|)$/;
  it('every line is `Key = Value`, server and client agree on S1–S4/H1–H4, and nothing can inject a line', () => {
    fc.assert(
      fc.property(fc.constantFrom(1 as const, 2 as const), fc.infiniteStream(fc.nat()), wgKey, wgKey, wgKey, fc.array(ipv4, { minLength: 1, maxLength: 3 }), (protocol, stream, priv, spub, psk, dns) => {
        const it = stream[Symbol.iterator]();
        const awg = generateAwgParams(protocol, (max) => it.next().value % max);
        const client = renderClientConfig({ flavor: 'amneziawg', privateKey: priv, ip: '10.8.0.2', dns, awg, serverPublicKey: spub, presharedKey: psk, endpoint: 'vpn.example.com:51820', allowedIps: ['0.0.0.0/0'] });
        const server = renderServerConfig({ flavor: 'amneziawg', privateKey: priv, address: '10.8.0.1/24', listenPort: 51820, awg }, [{ publicKey: spub, presharedKey: psk, ip: '10.8.0.2' }]);
        for (const text of [client, server]) for (const l of text.trimEnd().split('\n')) expect(l).toMatch(line);
        const shared = (t: string) => t.split('\n').filter((l) => /^(S[1-4]|H[1-4]) = /.test(l));
        expect(shared(client)).toEqual(shared(server));
        expect(shared(client).length).toBe(protocol === 1 ? 6 : 8);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const endpoint = `${a}\n${b}`;
        expect(() => renderClientConfig({ flavor: 'wireguard', privateKey: 'k', ip: '10.8.0.2', dns: [], serverPublicKey: 'p', presharedKey: 'q', endpoint, allowedIps: ['0.0.0.0/0'] })).toThrow();
      }),
      { numRuns: 200 },
    );
  });
});
