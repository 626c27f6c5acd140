import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDump } from '../../src/vpn/dump.js';
import { generateKeyPair, generatePresharedKey } from '../../src/vpn/keys.js';
import { formatHValue, generateAwgParams } from '../../src/vpn/params.js';
import { renderClientConfig, renderServerConfig } from '../../src/vpn/render.js';
import type { AwgParams, HValue, KeyPair } from '../../src/vpn/types.js';
import { amneziawgGate } from '../support/amneziawg.js';
import { capturedToServer, tcpdumpGate } from '../support/capture.js';
import { NetnsLab, run } from '../support/netns.js';

// The real AmneziaWG (the shared amneziawg-go, awg, awg-quick) between two namespaces, with
// configs the repository renders from parameters it generates. Per protocol: the obfuscation is
// live (on the wire no packet is a WireGuard message, and a client whose H1 differs from the
// server's never completes a handshake), and parseDump reads what `awg show <if> dump` prints.

const ready = (await amneziawgGate()) && tcpdumpGate();

/** Set on the protocol-2 interfaces: values with spaces, and I3, I5 left unset (`(null)` in the dump). */
const I_VALUES = { i1: '<b 0xc0ffee00> <r 24> <t>', i2: '<r 16>', i4: '<b 0x0102> <rc 8>' } as const;
/** The packets they make: 4 bytes, 24 random, a 4-byte timestamp; 16 random; 2 bytes, 8 random characters. */
const I_SIZES = [32, 16, 10];

const interval = (h: HValue): [number, number] => (typeof h === 'number' ? [h, h] : [h.min, h.max]);
const inH = (v: number, h: HValue) => v >= interval(h)[0] && v <= interval(h)[1];

/** The smallest valid H value outside all of `p`'s H values and ranges: no message type of the server's. */
function foreignH(p: AwgParams): number {
  for (let v = 5; ; v++) if (![p.h1, p.h2, p.h3, p.h4].some((h) => inH(v, h))) return v;
}

for (const protocol of [1, 2] as const) {
  describe.skipIf(!ready)(`AmneziaWG protocol ${protocol} on the real binaries`, () => {
    const awg: AwgParams = { ...generateAwgParams(protocol), ...(protocol === 2 ? I_VALUES : {}) };
    const server = generateKeyPair();
    const port = 20_000 + randomInt(30_000);
    const net = `10.${100 + randomInt(100)}.${randomInt(256)}`;
    const peers: { name: string; keys: KeyPair; psk: string; ip: string }[] = ['good', 'foreign'].map((name, i) => ({
      name,
      keys: generateKeyPair(),
      psk: generatePresharedKey(),
      ip: `${net}.${i + 2}`,
    }));
    const [good, foreign] = peers as [(typeof peers)[number], (typeof peers)[number]];
    let lab: NetnsLab;
    let serverIf: string;

    const clientConf = (peer: typeof good, params: AwgParams) =>
      renderClientConfig({
        flavor: 'amneziawg', privateKey: peer.keys.privateKey, ip: peer.ip, dns: [], awg: params,
        serverPublicKey: server.publicKey, presharedKey: peer.psk, endpoint: `${lab.serverIp}:${port}`, allowedIps: [`${net}.1/32`],
      });

    /**
     * The first handshake as the client sends it: the I packets that are set (protocol 2), Jc junk
     * packets, then the initiation, padded by S1 bytes, its message type right after the padding.
     */
    function firstHandshake(payloads: Buffer[]) {
      const count = protocol === 2 ? I_SIZES.length : 0;
      const init = payloads[count + awg.jc];
      return { iPackets: payloads.slice(0, count), junk: payloads.slice(count, count + awg.jc), init, type: init?.length === 148 + awg.s1 ? init.readUInt32LE(awg.s1) : undefined };
    }

    beforeAll(async () => {
      lab = await NetnsLab.create();
      serverIf = `avas${lab.suffix}`;
      const text = renderServerConfig(
        { flavor: 'amneziawg', privateKey: server.privateKey, address: `${net}.1/24`, listenPort: port, awg },
        peers.map((p) => ({ publicKey: p.keys.publicKey, presharedKey: p.psk, ip: p.ip })),
      );
      await lab.wgQuickUp('amneziawg', lab.serverNs, text, serverIf);
    }, 60_000);

    afterAll(async () => {
      await lab?.cleanup();
    }, 60_000);

    it("a client with the server's parameters pings through; on the wire its handshake is the I packets, Jc junk packets, then the initiation padded by S1 and typed H1", async () => {
      const clientIf = `avag${lab.suffix}`;
      const payloads = await capturedToServer(lab, port, async () => {
        await lab.bringUpClient('amneziawg', clientConf(good, awg), clientIf);
        expect(await lab.ping(lab.clientNs, `${net}.1`, 3)).toBe(true);
      });
      await lab.wgQuickDown(lab.clientNs, clientIf);

      const { iPackets, junk, init, type } = firstHandshake(payloads);
      expect(iPackets.map((p) => p.length)).toEqual(protocol === 2 ? I_SIZES : []);
      if (protocol === 2) expect(iPackets[0]!.subarray(0, 4).toString('hex')).toBe('c0ffee00');
      expect(junk.map((p) => p.length >= awg.jmin && p.length <= awg.jmax)).toEqual(Array(awg.jc).fill(true));
      expect(init?.length).toBe(148 + awg.s1);
      expect(inH(type!, awg.h1), `type ${type} in H1 ${formatHValue(awg.h1)}`).toBe(true);
      // WireGuard's own handshake initiation (148 bytes, type 1) never appears.
      expect(payloads.filter((p) => p.length === 148 && p.readUInt32LE(0) === 1)).toEqual([]);
    }, 60_000);

    it("a client whose H1 differs from the server's reaches the server but never completes a handshake", async () => {
      const clientIf = `avaf${lab.suffix}`;
      const h1 = foreignH(awg);
      const payloads = await capturedToServer(lab, port, async () => {
        await lab.bringUpClient('amneziawg', clientConf(foreign, { ...awg, h1 }), clientIf);
        // An answer would take milliseconds; the pings wait 2 s each.
        expect(await lab.ping(lab.clientNs, `${net}.1`, 2)).toBe(false);
      });
      const handshakes = async (ns: string, iface: string) =>
        (await lab.exec(ns, ['awg', 'show', iface, 'latest-handshakes'])).stdout.trim().split('\n').map((l) => l.split('\t'));
      expect(await handshakes(lab.clientNs, clientIf)).toEqual([[server.publicKey, '0']]);
      expect(await handshakes(lab.serverNs, serverIf)).toContainEqual([foreign.keys.publicKey, '0']);
      await lab.wgQuickDown(lab.clientNs, clientIf);
      // The initiation did arrive, typed with the foreign H1.
      expect(firstHandshake(payloads).type).toBe(h1);
    }, 60_000);

    it('parseDump reads the real `awg show <if> dump`: keys, port, every parameter in order, I values with their spaces, (null), both peers', async () => {
      const text = (await run(['awg', 'show', serverIf, 'dump'])).stdout;
      const lines = text.trimEnd().split('\n');
      expect(lines[0]!.split('\t')).toHaveLength(20);
      if (protocol === 2) expect(lines[0]).toContain(`\t${I_VALUES.i1}\t`);

      const dump = parseDump(text);
      const s34 = protocol === 2 ? [awg.s3, awg.s4] : [0, 0];
      const iValues = (['i1', 'i2', 'i3', 'i4', 'i5'] as const).map((k) => awg[k] ?? '(null)');
      expect(dump.iface).toEqual({
        privateKey: server.privateKey,
        publicKey: server.publicKey,
        listenPort: port,
        fwmark: 'off',
        extra: [awg.jc, awg.jmin, awg.jmax, awg.s1, awg.s2, ...s34, ...[awg.h1, awg.h2, awg.h3, awg.h4].map(formatHValue), ...iValues].map(String),
      });
      if (protocol === 2) expect(iValues).toEqual([I_VALUES.i1, I_VALUES.i2, '(null)', I_VALUES.i4, '(null)']);

      const byKey = new Map(dump.peers.map((p) => [p.publicKey, p]));
      expect(dump.peers).toHaveLength(2);
      const g = byKey.get(good.keys.publicKey)!;
      expect(g).toMatchObject({ presharedKey: good.psk, allowedIps: [`${good.ip}/32`], keepalive: null });
      expect(g.endpoint).toMatch(new RegExp(`^${lab.clientIp.replaceAll('.', '\\.')}:\\d+$`));
      expect(g.latestHandshake).toBeGreaterThan(Date.now() / 1000 - 120);
      expect(g.rx).toBeGreaterThan(0);
      expect(g.tx).toBeGreaterThan(0);
      expect(byKey.get(foreign.keys.publicKey)).toEqual({
        publicKey: foreign.keys.publicKey, presharedKey: foreign.psk, endpoint: null, allowedIps: [`${foreign.ip}/32`],
        latestHandshake: null, rx: 0, tx: 0, keepalive: null,
      });
    }, 30_000);
  });
}
