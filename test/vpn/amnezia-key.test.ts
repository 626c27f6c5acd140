import { describe, expect, it } from 'vitest';
import { amneziaKey, splitEndpoint } from '../../src/vpn/amnezia-key.js';
import { generateImitation } from '../../src/vpn/imitation.js';
import { generateKeyPair, generatePresharedKey } from '../../src/vpn/keys.js';
import { generateAwgParams } from '../../src/vpn/params.js';
import { renderClientConfig } from '../../src/vpn/render.js';
import { decodeVpnKey } from '../support/vpn-key.js';

describe('AmneziaVPN vpn:// key', () => {
  for (const protocol of [1, 2] as const) {
    it(`protocol ${protocol}: decodes back to JSON whose every field matches the .conf`, () => {
      const client = generateKeyPair();
      const server = generateKeyPair();
      const psk = generatePresharedKey();
      // Protocol 2 with imitation packets: a DNS query as I1, a QUIC Initial as I3 (I2, I4, I5 unset).
      const awg = protocol === 1 ? generateAwgParams(1) : { ...generateAwgParams(2), i1: generateImitation('dns', 1452).values.i1!, i3: generateImitation('quic', 1452).values.i1! };
      const conf = renderClientConfig({
        flavor: 'amneziawg', privateKey: client.privateKey, ip: '10.8.0.7', dns: ['9.9.9.9', '149.112.112.112'], awg,
        serverPublicKey: server.publicKey, presharedKey: psk, endpoint: 'vpn.example.com:4443', allowedIps: ['0.0.0.0/0', '::/0'],
      });
      const key = amneziaKey({
        conf, host: 'vpn.example.com', port: 4443, dns: ['9.9.9.9', '149.112.112.112'], description: 'AndreyVPN <test>',
        clientIp: '10.8.0.7', clientPrivateKey: client.privateKey, clientPublicKey: client.publicKey,
        serverPublicKey: server.publicKey, presharedKey: psk, allowedIps: ['0.0.0.0/0', '::/0'], awg,
      });
      expect(key).toMatch(/^vpn:\/\/[A-Za-z0-9_-]+$/); // base64url, no padding
      const json = decodeVpnKey(key);
      const container = protocol === 2 ? 'amnezia-awg2' : 'amnezia-awg';
      expect(json).toMatchObject({ hostName: 'vpn.example.com', description: 'AndreyVPN <test>', dns1: '9.9.9.9', dns2: '149.112.112.112', defaultContainer: container });
      const c = json.containers[0];
      expect(c.container).toBe(container);
      expect(c.awg).toMatchObject({ port: '4443', transport_proto: 'udp' });
      expect(c.awg.protocol_version).toBe(protocol === 2 ? '2' : undefined);
      const last = JSON.parse(c.awg.last_config);
      expect(last.config).toBe(conf);
      expect(last).toMatchObject({
        hostName: 'vpn.example.com', port: 4443, client_ip: '10.8.0.7', client_priv_key: client.privateKey, client_pub_key: client.publicKey,
        server_pub_key: server.publicKey, psk_key: psk, persistent_keep_alive: '25', allowed_ips: ['0.0.0.0/0', '::/0'], clientId: client.publicKey,
      });
      // Every AWG parameter in the key equals the .conf's line, in the container and in last_config.
      const confValue = (k: string) => new RegExp(`^${k} = (.+)$`, 'm').exec(conf)?.[1];
      const names = ['Jc', 'Jmin', 'Jmax', 'S1', 'S2', 'H1', 'H2', 'H3', 'H4', ...(protocol === 2 ? ['S3', 'S4', 'I1', 'I3'] : [])];
      for (const k of names) {
        expect(confValue(k), k).toBeDefined();
        expect(c.awg[k], k).toBe(confValue(k));
        expect(last[k], k).toBe(confValue(k));
      }
      // Unset packets are absent everywhere, not empty strings (the app would send empty datagrams).
      for (const k of ['I2', 'I4', 'I5', ...(protocol === 1 ? ['S3', 'S4', 'I1', 'I3'] : [])]) {
        expect(confValue(k), k).toBeUndefined();
        expect(c.awg[k], k).toBeUndefined();
        expect(last[k], k).toBeUndefined();
      }
    });
  }

  it('splits endpoints', () => {
    expect(splitEndpoint('vpn.example.com:51820')).toEqual({ host: 'vpn.example.com', port: 51820 });
    expect(splitEndpoint('[2001:db8::1]:443')).toEqual({ host: '2001:db8::1', port: 443 });
  });
});
