import fs from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDump } from '../../src/vpn/dump.js';
import { generateImitation, imitationPacketSize, type ImitationPreset, maxImitationBytes } from '../../src/vpn/imitation.js';
import { formatHValue, generateAwgParams } from '../../src/vpn/params.js';
import { renderClientConfig, renderServerConfig } from '../../src/vpn/render.js';
import type { AwgParams } from '../../src/vpn/types.js';
import { amneziawgGate } from '../support/amneziawg.js';
import { capturedToServer, tcpdumpGate } from '../support/capture.js';
import { mulberry32 } from '../support/seeded-random.js';
import { parseDnsQuery } from '../support/imitation-wire.js';
import { NetnsLab, wgKeyPair } from '../support/netns.js';

// Imitation packets on real amneziawg-go: every generated value is taken by `awg set`, and a client
// with each preset gets a tunnel whose first packet on the wire is the imitation, before the
// handshake initiation (a capture on the server's side of the link).

const ready = (await amneziawgGate()) && tcpdumpGate();

describe.skipIf(!ready)('imitation packets on real AmneziaWG', () => {
  let lab: NetnsLab;
  beforeAll(async () => {
    lab = await NetnsLab.create();
  }, 30_000);
  afterAll(async () => {
    await lab?.cleanup();
  }, 60_000);

  it('amneziawg-go takes every generated parameter set, with every preset, as `awg set` and shows it back in its dump', async () => {
    const iface = `avg${lab.suffix}`;
    lab.trackInterface(iface);
    await lab.exec(lab.serverNs, ['amneziawg-go', iface]); // daemonizes once the interface exists
    const awg = (argv: string[]) => lab.exec(lab.serverNs, ['awg', ...argv]);
    const { privateKey } = await wgKeyPair();
    await fs.writeFile(path.join(lab.tmpDir, 'key'), `${privateKey}\n`, { mode: 0o600 });
    await awg(['set', iface, 'private-key', path.join(lab.tmpDir, 'key'), 'listen-port', '0']);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.constantFrom<1 | 2>(1, 2), fc.constantFrom<ImitationPreset>('dns', 'quic'), fc.constantFrom(undefined, 1280, 1420), async (seed, protocol, preset, mtu) => {
        runs++;
        const p: AwgParams = { ...generateAwgParams(protocol, mulberry32(seed)), ...(protocol === 2 ? generateImitation(preset, maxImitationBytes(mtu), mulberry32(seed ^ 0x5bd1e995)).values : {}) };
        const args = ['jc', p.jc, 'jmin', p.jmin, 'jmax', p.jmax, 's1', p.s1, 's2', p.s2, 'h1', formatHValue(p.h1), 'h2', formatHValue(p.h2), 'h3', formatHValue(p.h3), 'h4', formatHValue(p.h4)];
        if (protocol === 2) args.push('s3', p.s3!, 's4', p.s4!, 'i1', p.i1!);
        await awg(['set', iface, ...args.map(String)]);
        // The 20-field line: keys, port, jc jmin jmax s1–s4 h1–h4 i1–i5, fwmark.
        const extra = parseDump((await awg(['show', iface, 'dump'])).stdout).iface.extra;
        expect(extra.slice(0, 3)).toEqual([p.jc, p.jmin, p.jmax].map(String));
        expect(extra.slice(3, 5)).toEqual([p.s1, p.s2].map(String));
        if (protocol === 2) {
          expect(extra.slice(5, 7)).toEqual([p.s3, p.s4].map(String));
          expect(extra.slice(7, 11)).toEqual([p.h1, p.h2, p.h3, p.h4].map(formatHValue));
          expect(extra[11]).toBe(p.i1);
        } else {
          expect(extra.slice(7, 11)).toEqual([p.h1, p.h2, p.h3, p.h4].map(String));
        }
      }),
      { numRuns: 120 },
    );
    expect(runs).toBe(120);
  }, 120_000);

  for (const preset of ['off', 'dns', 'quic'] as const) {
    it(`${preset}: a client pings through; on the wire its imitation packet (if any), then the junk, then the handshake initiation`, async () => {
      const tag = preset.slice(0, 1);
      const [serverIf, clientIf] = [`av${tag}s${lab.suffix}`, `av${tag}c${lab.suffix}`];
      const port = 20000 + Math.floor(Math.random() * 30000);
      const net = `10.${100 + Math.floor(Math.random() * 90)}.${Math.floor(Math.random() * 256)}`;
      const [server, client] = [await wgKeyPair(), await wgKeyPair()];
      const psk = (await wgKeyPair()).privateKey;
      const params = generateAwgParams(2);
      const imitation = generateImitation(preset, maxImitationBytes(undefined));
      await lab.wgQuickUp('amneziawg', lab.serverNs, renderServerConfig({ flavor: 'amneziawg', privateKey: server.privateKey, address: `${net}.1/24`, listenPort: port, awg: params }, [{ publicKey: client.publicKey, presharedKey: psk, ip: `${net}.2` }]), serverIf);
      const conf = renderClientConfig({
        flavor: 'amneziawg', privateKey: client.privateKey, ip: `${net}.2`, dns: [], awg: { ...params, ...imitation.values },
        serverPublicKey: server.publicKey, presharedKey: psk, endpoint: `${lab.serverIp}:${port}`, allowedIps: [`${net}.1/32`],
      });
      const packets = await capturedToServer(lab, port, async () => {
        await lab.bringUpClient('amneziawg', conf, clientIf);
        expect(await lab.ping(lab.clientNs, `${net}.1`, 3)).toBe(true);
      });
      await lab.wgQuickDown(lab.clientNs, clientIf);
      await lab.wgQuickDown(lab.serverNs, serverIf);

      // The imitation (if any), Jc junk packets, then the initiation: 148 bytes padded by S1.
      const before = preset === 'off' ? 0 : 1;
      expect(packets[before + params.jc]?.length).toBe(148 + params.s1);
      for (const junk of packets.slice(before, before + params.jc)) {
        expect(junk.length).toBeGreaterThanOrEqual(params.jmin);
        expect(junk.length).toBeLessThanOrEqual(params.jmax);
      }
      if (preset === 'off') return;
      const first = packets[0]!;
      expect(first.length).toBe(imitationPacketSize(imitation.values.i1!));
      if (preset === 'dns') {
        const q = parseDnsQuery(first);
        expect(`${q.name} · ${q.type}`).toBe(imitation.detail);
      } else {
        expect(first[0]! & 0xf0).toBe(0xc0);
        expect(first.readUInt32BE(1)).toBe(1);
      }
    }, 60_000);
  }
});
