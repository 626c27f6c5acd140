import { describe, expect, it } from 'vitest';
import { generateAwgParams } from '../../src/vpn/params.js';
import { clientConfigFileName, renderClientConfig, renderServerConfig } from '../../src/vpn/render.js';
import type { AwgParams, ClientSpec, ServerSpec } from '../../src/vpn/types.js';

const key = (n: number) => Buffer.alloc(32, n).toString('base64');
const K = { serverPriv: key(1), serverPub: key(2), clientPriv: key(3), clientPub: key(4), psk: key(5), psk2: key(6), pub2: key(7) };

const awg1: AwgParams = { protocol: 1, jc: 5, jmin: 10, jmax: 50, s1: 40, s2: 80, h1: 1000, h2: 2000, h3: 3000, h4: 4000 };
const awg2: AwgParams = {
  protocol: 2, jc: 4, jmin: 12, jmax: 700, s1: 33, s2: 120, s3: 21, s4: 7,
  h1: { min: 5, max: 9000 }, h2: { min: 9001, max: 50000 }, h3: 60000, h4: { min: 70000, max: 2147483647 },
  i1: '<r 2><b 0x8580>',
};

const server = (flavor: ServerSpec['flavor'], awg?: AwgParams): ServerSpec => ({
  flavor, privateKey: K.serverPriv, address: '10.8.0.1/24', listenPort: 51820, awg,
});
const peers = [
  { publicKey: K.clientPub, presharedKey: K.psk, ip: '10.8.0.2' },
  { publicKey: K.pub2, presharedKey: K.psk2, ip: '10.8.0.3' },
];
const client = (flavor: ClientSpec['flavor'], awg?: AwgParams): ClientSpec => ({
  flavor, privateKey: K.clientPriv, ip: '10.8.0.2', dns: ['1.1.1.1', '1.0.0.1'], mtu: 1280, awg,
  serverPublicKey: K.serverPub, presharedKey: K.psk, endpoint: 'vpn.example.com:51820', allowedIps: ['0.0.0.0/0', '::/0'],
});

// Just enough of wg-quick's grammar to catch stray whitespace, empty values or bad keys.
function parseConf(text: string): { section: string; entries: [string, string][] }[] {
  expect(text.endsWith('\n')).toBe(true);
  expect(text.endsWith('\n\n')).toBe(false);
  const sections: { section: string; entries: [string, string][] }[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    expect(line).toMatch(/^(\[Interface\]|\[Peer\]|[A-Za-z0-9]+ = .+|)$/);
    if (line.startsWith('[')) sections.push({ section: line, entries: [] });
    else if (line !== '') {
      const [k, v] = line.split(' = ', 2) as [string, string];
      expect(v).toBe(v.trim());
      sections.at(-1)!.entries.push([k, v]);
    }
  }
  return sections;
}

const AWG_KEYS = /^(Jc|Jmin|Jmax|S[1-4]|H[1-4]|I[1-5])$/;
const SERVER_ONLY = /^(Table|PreUp|PostUp|PreDown|PostDown|SaveConfig|ListenPort|FwMark)$/;

describe('renderServerConfig', () => {
  it('amneziawg protocol 1: exact text', () => {
    expect(renderServerConfig(server('amneziawg', awg1), peers)).toBe(
      `[Interface]
PrivateKey = ${K.serverPriv}
Address = 10.8.0.1/24
ListenPort = 51820
Jc = 5
Jmin = 10
Jmax = 50
S1 = 40
S2 = 80
H1 = 1000
H2 = 2000
H3 = 3000
H4 = 4000

[Peer]
PublicKey = ${K.clientPub}
PresharedKey = ${K.psk}
AllowedIPs = 10.8.0.2/32

[Peer]
PublicKey = ${K.pub2}
PresharedKey = ${K.psk2}
AllowedIPs = 10.8.0.3/32
`,
    );
  });

  it('wireguard: exact text, no AWG keys even if params are present', () => {
    const expected = `[Interface]
PrivateKey = ${K.serverPriv}
Address = 10.8.0.1/24
ListenPort = 51820

[Peer]
PublicKey = ${K.clientPub}
PresharedKey = ${K.psk}
AllowedIPs = 10.8.0.2/32
`;
    expect(renderServerConfig(server('wireguard'), peers.slice(0, 1))).toBe(expected);
    expect(renderServerConfig(server('wireguard', awg1), peers.slice(0, 1))).toBe(expected);
  });

  it('no peers: interface only', () => {
    const text = renderServerConfig(server('amneziawg', awg2), []);
    const parsed = parseConf(text);
    expect(parsed.map((s) => s.section)).toEqual(['[Interface]']);
    expect(parsed[0]!.entries.map(([k]) => k)).toEqual([
      'PrivateKey', 'Address', 'ListenPort', 'Jc', 'Jmin', 'Jmax', 'S1', 'S2', 'S3', 'S4', 'H1', 'H2', 'H3', 'H4', 'I1',
    ]);
    expect(text).toContain('H1 = 5-9000\n');
    expect(text).toContain('I1 = <r 2><b 0x8580>\n');
  });

  it('has no server-only keys besides ListenPort', () => {
    const parsed = parseConf(renderServerConfig(server('amneziawg', awg2), peers));
    const keys = parsed.flatMap((s) => s.entries.map(([k]) => k));
    expect(keys.filter((k) => SERVER_ONLY.test(k))).toEqual(['ListenPort']);
  });

  it('refuses amneziawg without or with invalid params', () => {
    expect(() => renderServerConfig(server('amneziawg'), peers)).toThrow(/AWG parameters/);
    expect(() => renderServerConfig(server('amneziawg', { ...awg1, s2: 96 }), peers)).toThrow(/padded sizes/);
  });

  it('refuses values that would inject lines', () => {
    expect(() => renderServerConfig(server('wireguard'), [{ ...peers[0]!, ip: '10.8.0.2\nPostUp = evil' }])).toThrow(/AllowedIPs/);
  });
});

describe('renderClientConfig', () => {
  it('amneziawg protocol 2: exact text', () => {
    expect(renderClientConfig(client('amneziawg', awg2))).toBe(
      `[Interface]
PrivateKey = ${K.clientPriv}
Address = 10.8.0.2/32
DNS = 1.1.1.1, 1.0.0.1
MTU = 1280
Jc = 4
Jmin = 12
Jmax = 700
S1 = 33
S2 = 120
S3 = 21
S4 = 7
H1 = 5-9000
H2 = 9001-50000
H3 = 60000
H4 = 70000-2147483647
I1 = <r 2><b 0x8580>

[Peer]
PublicKey = ${K.serverPub}
PresharedKey = ${K.psk}
Endpoint = vpn.example.com:51820
AllowedIPs = 0.0.0.0/0, ::/0
PersistentKeepalive = 25
`,
    );
  });

  it('wireguard: exact text without MTU and without AWG keys', () => {
    const { mtu: _mtu, ...noMtu } = client('wireguard', awg1);
    expect(renderClientConfig(noMtu)).toBe(
      `[Interface]
PrivateKey = ${K.clientPriv}
Address = 10.8.0.2/32
DNS = 1.1.1.1, 1.0.0.1

[Peer]
PublicKey = ${K.serverPub}
PresharedKey = ${K.psk}
Endpoint = vpn.example.com:51820
AllowedIPs = 0.0.0.0/0, ::/0
PersistentKeepalive = 25
`,
    );
  });

  it('amneziawg protocol 1 has every one of Jc…H4 and nothing of protocol 2', () => {
    const parsed = parseConf(renderClientConfig(client('amneziawg', awg1)));
    const awgKeys = parsed[0]!.entries.map(([k]) => k).filter((k) => AWG_KEYS.test(k));
    expect(awgKeys).toEqual(['Jc', 'Jmin', 'Jmax', 'S1', 'S2', 'H1', 'H2', 'H3', 'H4']);
  });

  it('never contains server-only keys', () => {
    for (const c of [client('amneziawg', awg1), client('amneziawg', awg2), client('wireguard')]) {
      const keys = parseConf(renderClientConfig(c)).flatMap((s) => s.entries.map(([k]) => k));
      expect(keys.filter((k) => SERVER_ONLY.test(k))).toEqual([]);
    }
  });

  it('omits DNS when none is configured', () => {
    expect(renderClientConfig({ ...client('wireguard'), dns: [] })).not.toContain('DNS');
  });

  it('rejects empty AllowedIPs and missing AWG params', () => {
    expect(() => renderClientConfig({ ...client('wireguard'), allowedIps: [] })).toThrow(/AllowedIPs/);
    expect(() => renderClientConfig(client('amneziawg'))).toThrow(/AWG parameters/);
  });

  it('server and client configs from generated params parse cleanly', () => {
    for (const protocol of [1, 2] as const) {
      for (let i = 0; i < 50; i++) {
        const awg = generateAwgParams(protocol);
        const s = parseConf(renderServerConfig(server('amneziawg', awg), peers));
        const c = parseConf(renderClientConfig(client('amneziawg', awg)));
        expect(s.map((x) => x.section)).toEqual(['[Interface]', '[Peer]', '[Peer]']);
        expect(c.map((x) => x.section)).toEqual(['[Interface]', '[Peer]']);
        // S1–S4 and H1–H4 must match between the two sides.
        const pick = (entries: [string, string][]) => entries.filter(([k]) => /^[SH][1-4]$/.test(k));
        expect(pick(c[0]!.entries)).toEqual(pick(s[0]!.entries));
      }
    }
  });
});

describe('clientConfigFileName', () => {
  const TUNNEL = /^[a-zA-Z0-9_=+.-]{1,15}\.conf$/;
  it('produces valid tunnel names', () => {
    const cases: [string, string][] = [
      ['iPhone', 'andreyvpn-iphon.conf'],
      ['pc', 'andreyvpn-pc.conf'],
      ['Ноутбук', 'andreyvpn-noutb.conf'],
      ['', 'andreyvpn.conf'],
      ['🙂🙂', 'andreyvpn.conf'],
      ['../../etc', 'andreyvpn-etc.conf'],
      ['a b', 'andreyvpn-a-b.conf'],
      ['con', 'andreyvpn-con.conf'],
    ];
    for (const [input, expected] of cases) expect(clientConfigFileName(input), input).toBe(expected);
  });

  it('always fits the 15-char tunnel name rule', () => {
    for (const name of ['x'.repeat(100), 'a.b.c.d.e.f', '---', 'Мой телефон №2', 'über phone', '\n\t', 'a/b\\c:d']) {
      const file = clientConfigFileName(name);
      expect(file, name).toMatch(TUNNEL);
      expect(file).not.toMatch(/[-.]\.conf$/);
    }
  });
});
