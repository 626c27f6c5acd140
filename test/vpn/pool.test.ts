import { describe, expect, it } from 'vitest';
import {
  clientAddress,
  intToIp,
  ipToInt,
  nextFreeIp,
  parseSubnet,
  poolCapacity,
  serverAddress,
  serverAddressWithPrefix,
} from '../../src/vpn/pool.js';

describe('ipToInt / intToIp', () => {
  it('round-trips edge addresses', () => {
    for (const ip of ['0.0.0.0', '10.8.0.1', '192.168.255.254', '255.255.255.255']) {
      expect(intToIp(ipToInt(ip))).toBe(ip);
    }
    expect(ipToInt('255.255.255.255')).toBe(0xffffffff);
    expect(ipToInt('10.8.0.1')).toBe(0x0a080001);
  });

  it('rejects malformed addresses', () => {
    for (const bad of ['', '10.8.0', '10.8.0.1.2', '10.8.0.256', '10.08.0.1', '10.8.0.-1', 'a.b.c.d', '10.8.0.1 ', '1e1.0.0.1']) {
      expect(() => ipToInt(bad), bad).toThrow(/Invalid IPv4/);
    }
    expect(() => intToIp(-1)).toThrow();
    expect(() => intToIp(2 ** 32)).toThrow();
    expect(() => intToIp(1.5)).toThrow();
  });
});

describe('parseSubnet', () => {
  it('parses valid subnets', () => {
    expect(parseSubnet('10.8.0.0/24')).toEqual({ network: ipToInt('10.8.0.0'), prefix: 24, size: 256 });
    expect(parseSubnet('10.8.0.0/16')).toEqual({ network: ipToInt('10.8.0.0'), prefix: 16, size: 65536 });
    expect(parseSubnet('10.8.0.4/30')).toEqual({ network: ipToInt('10.8.0.4'), prefix: 30, size: 4 });
  });

  it('rejects host bits, suggesting the network', () => {
    expect(() => parseSubnet('10.8.0.1/24')).toThrow(/host bits.*10\.8\.0\.0\/24/);
  });

  it('rejects bad input', () => {
    for (const bad of ['', '10.8.0.0', '10.8.0.0/', '10.8.0.0/33', '10.8.0.0/024', '10.8.0.0/-1', '10.8.0/24', 'fd00::/64', '10.8.0.0/24/1']) {
      expect(() => parseSubnet(bad), bad).toThrow();
    }
  });

  it('rejects /31 and /32 as too small', () => {
    expect(() => parseSubnet('10.8.0.0/31')).toThrow(/too small/);
    expect(() => parseSubnet('10.8.0.1/32')).toThrow(/too small/);
  });
});

describe('server address', () => {
  it('is the first host', () => {
    expect(serverAddress('10.8.0.0/24')).toBe('10.8.0.1');
    expect(serverAddressWithPrefix('10.8.0.0/24')).toBe('10.8.0.1/24');
    expect(serverAddressWithPrefix('172.16.0.0/12')).toBe('172.16.0.1/12');
  });
});

describe('nextFreeIp', () => {
  it('/24: starts after the server, skips used, never hands out broadcast', () => {
    expect(nextFreeIp('10.8.0.0/24', [])).toBe('10.8.0.2');
    expect(nextFreeIp('10.8.0.0/24', ['10.8.0.2', '10.8.0.3', '10.8.0.5'])).toBe('10.8.0.4');
    const all = Array.from({ length: 252 }, (_, i) => `10.8.0.${i + 2}`); // .2 … .253
    expect(nextFreeIp('10.8.0.0/24', all)).toBe('10.8.0.254');
    expect(nextFreeIp('10.8.0.0/24', [...all, '10.8.0.254'])).toBeNull();
    expect(poolCapacity('10.8.0.0/24')).toBe(253);
  });

  it('/30: exactly one client address', () => {
    expect(poolCapacity('10.8.0.4/30')).toBe(1);
    expect(nextFreeIp('10.8.0.4/30', [])).toBe('10.8.0.6');
    expect(nextFreeIp('10.8.0.4/30', ['10.8.0.6'])).toBeNull();
  });

  it('ignores the server address and addresses outside the subnet in `used`', () => {
    expect(nextFreeIp('10.8.0.0/24', ['10.8.0.1', '10.9.0.2'])).toBe('10.8.0.2');
  });

  it('/16 with ~60k used is fast and exact', () => {
    const used: string[] = [];
    const network = ipToInt('10.8.0.0');
    for (let n = network + 2; n < network + 2 + 60_000; n++) used.push(intToIp(n));
    const t0 = performance.now();
    expect(nextFreeIp('10.8.0.0/16', used)).toBe(intToIp(network + 2 + 60_000));
    expect(performance.now() - t0).toBeLessThan(500);
    expect(poolCapacity('10.8.0.0/16')).toBe(65533);
  });

  it('/16 exhaustion returns null; a hole is found', () => {
    const network = ipToInt('10.8.0.0');
    const used = new Set<string>();
    for (let n = network + 2; n <= network + 65534; n++) used.add(intToIp(n));
    expect(nextFreeIp('10.8.0.0/16', used)).toBeNull();
    used.delete('10.8.200.17');
    expect(nextFreeIp('10.8.0.0/16', used)).toBe('10.8.200.17');
  });

  it('throws on garbage in `used` instead of risking a duplicate', () => {
    expect(() => nextFreeIp('10.8.0.0/24', ['10.8.0.2/32'])).toThrow(/Invalid IPv4/);
  });
});

describe('clientAddress', () => {
  it('counts from the address after the server; null past the end of the pool', () => {
    expect(clientAddress('10.8.0.0/24', 0)).toBe('10.8.0.2');
    expect(clientAddress('10.8.0.0/24', 252)).toBe('10.8.0.254');
    expect(clientAddress('10.8.0.0/24', 253)).toBeNull();
    expect(clientAddress('10.8.0.4/30', 0)).toBe('10.8.0.6');
    expect(clientAddress('10.8.0.4/30', 1)).toBeNull();
  });
});
