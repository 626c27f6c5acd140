import { describe, expect, it } from 'vitest';
import { DumpParseError, parseDump } from '../../src/vpn/dump.js';

const key = (n: number) => Buffer.alloc(32, n).toString('base64');
const PRIV = key(1);
const PUB = key(2);
const line = (...fields: (string | number)[]) => fields.join('\t');

const peerA = line(key(10), key(11), '203.0.113.5:40000', '10.8.0.2/32', 1732650000, 123456, 7890, 'off');
const peerB = line(key(12), '(none)', '(none)', '(none)', 0, 0, 0, 25);
const peerC = line(key(13), key(14), '[2001:db8::1]:51820', '10.8.0.3/32,fd00::3/128', 1732650100, 2 ** 40, 0, 'off');

const awg1Extras = [5, 10, 50, 40, 80, 1000, 2000, 3000, 4000];
const awg2Extras = [4, 12, 700, 33, 120, 21, 7, '5-9000', '9001-50000', 60000, '70000-2147483647',
  '<r 2><b 0x8580 00>', '(null)', '<t> <rc 8>', '(null)', '(null)'];

describe('parseDump', () => {
  const ifaceCases: [string, (string | number)[]][] = [
    ['plain wg (4 fields)', []],
    ['AWG 1.0 (13 fields)', awg1Extras],
    ['AWG 2.0 (20 fields, I values with spaces, (null), H ranges)', awg2Extras],
    ['27 fields', [...awg2Extras, 'a', 'b', 'c', 'd', 'e', 'f', 'g']],
    ['29 fields', [...awg2Extras, 'a', 'b', 'c', 'd', 'e', 'f', 'g', '(null)', '0']],
  ];
  for (const [name, extras] of ifaceCases) {
    it(`interface line: ${name}`, () => {
      const text = [line(PRIV, PUB, 51820, ...extras, 'off'), peerA, peerB].join('\n') + '\n';
      expect(text.split('\n')[0]!.split('\t')).toHaveLength(4 + extras.length);
      const dump = parseDump(text);
      expect(dump.iface).toEqual({ privateKey: PRIV, publicKey: PUB, listenPort: 51820, fwmark: 'off', extra: extras.map(String) });
      expect(dump.peers).toHaveLength(2);
    });
  }

  it('keeps I values with spaces intact', () => {
    const dump = parseDump(line(PRIV, PUB, 51820, ...awg2Extras, '0x1234'));
    expect(dump.iface.extra[11]).toBe('<r 2><b 0x8580 00>');
    expect(dump.iface.extra[13]).toBe('<t> <rc 8>');
    expect(dump.iface.fwmark).toBe('0x1234');
  });

  it('parses peers, including (none) fields and several allowed IPs', () => {
    const dump = parseDump([line(PRIV, PUB, 51820, 'off'), peerA, peerB, peerC].join('\n'));
    expect(dump.peers).toEqual([
      { publicKey: key(10), presharedKey: key(11), endpoint: '203.0.113.5:40000', allowedIps: ['10.8.0.2/32'],
        latestHandshake: 1732650000, rx: 123456, tx: 7890, keepalive: null },
      { publicKey: key(12), presharedKey: null, endpoint: null, allowedIps: [],
        latestHandshake: null, rx: 0, tx: 0, keepalive: 25 },
      { publicKey: key(13), presharedKey: key(14), endpoint: '[2001:db8::1]:51820', allowedIps: ['10.8.0.3/32', 'fd00::3/128'],
        latestHandshake: 1732650100, rx: 2 ** 40, tx: 0, keepalive: null },
    ]);
  });

  it('a counter of 16 digits (past the quick check, still a safe integer) is read exactly', () => {
    const dump = parseDump([line(PRIV, PUB, 51820, 'off'), line(key(10), '(none)', '(none)', '10.8.0.2/32', 1, 2 ** 52, 2 ** 53 - 1, 25)].join('\n'));
    expect(dump.peers[0]).toMatchObject({ rx: 2 ** 52, tx: 2 ** 53 - 1, keepalive: 25, latestHandshake: 1 });
  });

  it('treats (null) like (none)', () => {
    const dump = parseDump([line(PRIV, PUB, 0, 'off'), line(key(10), '(null)', '(null)', '(null)', 0, 1, 2, '(null)')].join('\n'));
    expect(dump.peers[0]).toMatchObject({ presharedKey: null, endpoint: null, allowedIps: [], keepalive: null });
  });

  it('an interface without keys yields empty strings, not garbage', () => {
    const dump = parseDump(line('(none)', '(none)', 0, 'off') + '\n');
    expect(dump.iface).toMatchObject({ privateKey: '', publicKey: '', listenPort: 0 });
    expect(dump.peers).toEqual([]);
  });

  const iface = line(PRIV, PUB, 51820, 'off');
  const peer = (patch: Partial<Record<number, string | number>>) => {
    const f: (string | number)[] = [key(10), key(11), '(none)', '10.8.0.2/32', 0, 1, 2, 'off'];
    for (const [i, v] of Object.entries(patch)) f[Number(i)] = v!;
    return line(...f);
  };
  const malformed: [string, string, number, RegExp][] = [
    ['empty input', '', 1, /empty/],
    ['only a newline', '\n', 1, /empty/],
    ['short interface line', line(PRIV, PUB, 51820), 1, /at least 4/],
    ['space-separated interface line', `${PRIV} ${PUB} 51820 off`, 1, /at least 4/],
    ['bad interface key', line('nope', PUB, 51820, 'off'), 1, /private-key/],
    ['bad port', line(PRIV, PUB, 'x', 'off'), 1, /listen-port/],
    ['port out of range', line(PRIV, PUB, 70000, 'off'), 1, /listen-port/],
    ['bad fwmark', line(PRIV, PUB, 51820, 'on'), 1, /fwmark/],
    ['peer with 7 fields', `${iface}\n${line(key(10), '(none)', '(none)', '(none)', 0, 0, 0)}`, 2, /7 fields, expected 8/],
    ['peer with 9 fields', `${iface}\n${peerA}\textra`, 2, /9 fields/],
    ['non-numeric rx', `${iface}\n${peer({ 5: 'abc' })}`, 2, /rx/],
    ['negative tx', `${iface}\n${peer({ 6: -5 })}`, 2, /tx/],
    ['fractional counter', `${iface}\n${peer({ 5: '1.5' })}`, 2, /rx/],
    ['unsafe counter', `${iface}\n${peer({ 5: '99999999999999999999' })}`, 2, /rx/],
    ['negative handshake', `${iface}\n${peer({ 4: -1 })}`, 2, /latest-handshake/],
    ['bad keepalive', `${iface}\n${peer({ 7: 'sometimes' })}`, 2, /persistent-keepalive/],
    ['invalid peer key', `${iface}\n${peer({ 0: 'abc' })}`, 2, /public-key/],
    ['invalid psk', `${iface}\n${peer({ 1: key(11).slice(1) })}`, 2, /preshared-key/],
    ['blank line in the middle', `${iface}\n\n${peerA}\n`, 2, /1 fields/],
    ['error on a later line', `${iface}\n${peerA}\n${peerB}\n${peer({ 6: 'x' })}\n`, 4, /tx/],
  ];
  for (const [name, text, lineNo, reason] of malformed) {
    it(`throws DumpParseError: ${name}`, () => {
      let err: unknown;
      try {
        parseDump(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DumpParseError);
      const e = err as DumpParseError;
      expect(e.line).toBe(lineNo);
      expect(e.reason).toMatch(reason);
      expect(e.message).toContain(`line ${lineNo}`);
    });
  }

  it('never puts a private key into the error message', () => {
    const secret = key(99).slice(0, 43) + 'x';
    try {
      parseDump(line(secret, PUB, 51820, 'off'));
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).not.toContain(secret);
    }
  });
});
