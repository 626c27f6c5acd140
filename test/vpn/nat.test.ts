import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { natRules, parseDefaultRoute } from '../../src/vpn/nat.js';
import { VpnService } from '../../src/vpn/service.js';
import type { VpnSettings } from '../../src/vpn/types.js';
import { openTestDatabase } from '../support/database.js';
import { FakeWg } from '../support/fake-wg.js';

describe('NAT rules', () => {
  it('masquerade the subnet out of the WAN interface and undo exactly that', () => {
    const r = natRules('10.8.0.0/24', 'awg0', 'eth0');
    expect(r.postUp).toBe(
      'iptables -t nat -A POSTROUTING -s 10.8.0.0/24 -o eth0 -j MASQUERADE; iptables -A FORWARD -i awg0 -j ACCEPT; iptables -A FORWARD -o awg0 -j ACCEPT',
    );
    expect(r.postDown).toBe(r.postUp.replaceAll(' -A ', ' -D '));
    const bad: [string, string, string][] = [['10.8.0.0/24; rm -rf /', 'awg0', 'eth0'], ['10.8.0.0/24', 'awg0', 'eth0 && reboot'], ['10.8.0.0/24', '$(x)', 'eth0']];
    for (const [subnet, iface, wan] of bad) expect(() => natRules(subnet, iface, wan)).toThrow();
  });

  it('finds the default route interface', () => {
    expect(parseDefaultRoute('default via 203.0.113.1 dev ens3 proto dhcp src 203.0.113.7 metric 100\n')).toBe('ens3');
    expect(parseDefaultRoute('')).toBeNull();
    expect(parseDefaultRoute('10.0.0.0/8 dev eth1\n')).toBeNull();
  });

  it('the server config gets PostUp/PostDown from the default route, VPN_WAN_INTERFACE, or the admin\'s own lines', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-nat-'));
    const { db, close } = await openTestDatabase(dir);
    const base: VpnSettings = {
      node: 'wg0', flavor: 'wireguard', iface: 'wg0', configDir: path.join(dir, 'conf'), endpoint: 'x:1', port: 51820,
      subnet: '10.8.0.0/24', dns: [], allowedIps: ['0.0.0.0/0'], awgProtocol: 1, nat: true,
    };
    const conf = async (settings: VpnSettings, wg = new FakeWg()) => {
      const vpn = new VpnService(db, wg, settings, pino({ level: 'silent' }));
      await vpn.start();
      return fs.readFile(vpn.confPath, 'utf8');
    };
    try {
      expect(await conf(base)).toMatch(/^PostUp = iptables -t nat -A POSTROUTING -s 10\.8\.0\.0\/24 -o eth0 -j MASQUERADE; .*$/m);
      expect(await conf({ ...base, wanInterface: 'ens5' })).toContain('-o ens5 -j MASQUERADE');
      expect(await conf({ ...base, postUp: 'echo up', postDown: 'echo down' })).toMatch(/^PostUp = echo up\nPostDown = echo down$/m);
      expect(await conf({ ...base, nat: false })).not.toContain('PostUp');
      const noRoute = new FakeWg();
      noRoute.defaultRoute = null;
      expect(await conf(base, noRoute)).not.toContain('PostUp');
    } finally {
      await close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
