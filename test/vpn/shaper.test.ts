import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/vpn/argv.js';
import { batchInput, classMinor, effectiveSpeed, ifbCommands, ifbName, parseSpeedMbit, peerCommands, setupCommands, teardownCommands, UNLIMITED } from '../../src/vpn/shaper.js';

describe('shaper: tc argv for per-peer speed limits', () => {
  it('the IFB device: ifb-<iface>, or a stable hash when that would pass 15 characters', () => {
    expect(ifbName('wg0')).toBe('ifb-wg0');
    expect(ifbName('abcdefghijk')).toBe('ifb-abcdefghijk');
    const long = ifbName('abcdefghijkl');
    expect(long).toMatch(/^ifb-[0-9a-f]{11}$/);
    expect(ifbName('abcdefghijkl')).toBe(long);
    expect(ifbName('abcdefghijkm')).not.toBe(long);
    expect(() => ifbName('-wg0')).toThrow(InvalidArgumentError);
    expect(ifbCommands('wg0')).toEqual({
      add: [
        ['ip', 'link', 'add', 'ifb-wg0', 'type', 'ifb'],
        ['ip', 'link', 'set', 'dev', 'ifb-wg0', 'up'],
      ],
      remove: ['ip', 'link', 'del', 'ifb-wg0'],
    });
  });

  it('class ids are the offset in the subnet; outside it is refused, past 0xffff is not shaped', () => {
    expect(classMinor('10.8.0.0/24', '10.8.0.2')).toBe(2);
    expect(classMinor('10.8.0.0/16', '10.8.1.5')).toBe(0x105);
    expect(classMinor('10.0.0.0/8', '10.0.255.255')).toBe(0xffff);
    expect(classMinor('10.0.0.0/8', '10.1.0.0')).toBeNull();
    expect(() => classMinor('10.8.0.0/24', '10.9.0.2')).toThrow(InvalidArgumentError);
    expect(() => classMinor('10.8.0.0/24', '10.8.0.0')).toThrow(InvalidArgumentError);
    expect(() => classMinor('10.8.0.0/24', '10.8.0.2 ')).toThrow(InvalidArgumentError);
  });

  it('setup: HTB roots without a default class, a 256-bucket hash table keyed on the last byte, the ingress redirected to the IFB', () => {
    expect(setupCommands('wg0', '10.8.0.0/24')).toEqual([
      ['qdisc', 'replace', 'dev', 'wg0', 'root', 'handle', '1:', 'htb'],
      ['filter', 'add', 'dev', 'wg0', 'parent', '1:', 'prio', '10', 'handle', '2:', 'protocol', 'ip', 'u32', 'divisor', '256'],
      ['filter', 'add', 'dev', 'wg0', 'parent', '1:', 'prio', '10', 'handle', '800::1', 'protocol', 'ip', 'u32', 'ht', '800::', 'match', 'ip', 'dst', '10.8.0.0/24', 'hashkey', 'mask', '0x000000ff', 'at', '16', 'link', '2:'],
      ['qdisc', 'replace', 'dev', 'wg0', 'handle', 'ffff:', 'ingress'],
      ['filter', 'add', 'dev', 'wg0', 'parent', 'ffff:', 'prio', '1', 'handle', '800::1', 'protocol', 'ip', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', 'ifb-wg0'],
      ['qdisc', 'replace', 'dev', 'ifb-wg0', 'root', 'handle', '1:', 'htb'],
      ['filter', 'add', 'dev', 'ifb-wg0', 'parent', '1:', 'prio', '10', 'handle', '2:', 'protocol', 'ip', 'u32', 'divisor', '256'],
      ['filter', 'add', 'dev', 'ifb-wg0', 'parent', '1:', 'prio', '10', 'handle', '800::1', 'protocol', 'ip', 'u32', 'ht', '800::', 'match', 'ip', 'src', '10.8.0.0/24', 'hashkey', 'mask', '0x000000ff', 'at', '12', 'link', '2:'],
    ]);
    expect(teardownCommands('wg0')).toEqual([
      ['qdisc', 'del', 'dev', 'wg0', 'root'],
      ['qdisc', 'del', 'dev', 'wg0', 'ingress'],
    ]);
  });

  it('a peer: class and filter per limited direction (download by destination, upload by source), ids from its address', () => {
    expect(peerCommands('wg0', '10.8.0.0/16', '10.8.1.5', UNLIMITED, { downKbit: 8000, upKbit: 4000 })).toEqual([
      ['class', 'replace', 'dev', 'wg0', 'parent', '1:', 'classid', '1:105', 'htb', 'rate', '8000kbit', 'ceil', '8000kbit'],
      ['filter', 'replace', 'dev', 'wg0', 'parent', '1:', 'prio', '10', 'handle', '2:5:2', 'protocol', 'ip', 'u32', 'ht', '2:5:', 'match', 'ip', 'dst', '10.8.1.5/32', 'flowid', '1:105'],
      ['class', 'replace', 'dev', 'ifb-wg0', 'parent', '1:', 'classid', '1:105', 'htb', 'rate', '4000kbit', 'ceil', '4000kbit'],
      ['filter', 'replace', 'dev', 'ifb-wg0', 'parent', '1:', 'prio', '10', 'handle', '2:5:2', 'protocol', 'ip', 'u32', 'ht', '2:5:', 'match', 'ip', 'src', '10.8.1.5/32', 'flowid', '1:105'],
    ]);
  });

  it('only what changes: an unchanged direction sends nothing, one that becomes unlimited deletes filter then class', () => {
    const from = { downKbit: 8000, upKbit: 4000 };
    expect(peerCommands('wg0', '10.8.0.0/24', '10.8.0.9', from, from)).toEqual([]);
    expect(peerCommands('wg0', '10.8.0.0/24', '10.8.0.9', from, { downKbit: 8000, upKbit: null })).toEqual([
      ['filter', 'del', 'dev', 'ifb-wg0', 'parent', '1:', 'prio', '10', 'handle', '2:9:1', 'protocol', 'ip', 'u32'],
      ['class', 'del', 'dev', 'ifb-wg0', 'classid', '1:9'],
    ]);
    expect(peerCommands('wg0', '10.8.0.0/24', '10.8.0.9', from, { downKbit: 20000, upKbit: 4000 })).toEqual([
      ['class', 'replace', 'dev', 'wg0', 'parent', '1:', 'classid', '1:9', 'htb', 'rate', '20000kbit', 'ceil', '20000kbit'],
      ['filter', 'replace', 'dev', 'wg0', 'parent', '1:', 'prio', '10', 'handle', '2:9:1', 'protocol', 'ip', 'u32', 'ht', '2:9:', 'match', 'ip', 'dst', '10.8.0.9/32', 'flowid', '1:9'],
    ]);
    expect(peerCommands('wg0', '10.0.0.0/8', '10.1.0.0', UNLIMITED, from)).toEqual([]);
    expect(() => peerCommands('wg0', '10.8.0.0/24', '10.8.0.9', UNLIMITED, { downKbit: 0, upKbit: null })).toThrow(InvalidArgumentError);
    expect(() => peerCommands('wg0', '10.8.0.0/24', '10.8.0.9', UNLIMITED, { downKbit: 1.5, upKbit: null })).toThrow(InvalidArgumentError);
  });

  it('batch input: one command a line; a word tc would split or read as a comment is refused', () => {
    expect(batchInput([['qdisc', 'del', 'dev', 'wg0', 'root'], ['class', 'del', 'dev', 'wg0', 'classid', '1:9']])).toBe('qdisc del dev wg0 root\nclass del dev wg0 classid 1:9\n');
    for (const bad of ['a b', 'x\nqdisc del dev eth0 root', '#', '"q"', '']) expect(() => batchInput([['qdisc', bad]])).toThrow(InvalidArgumentError);
  });

  it('DEFAULT_SPEED_MBIT: both ways, down/up, 0 = unlimited; nonsense refused', () => {
    expect(parseSpeedMbit('20')).toEqual({ downKbit: 20_000, upKbit: 20_000 });
    expect(parseSpeedMbit(' 20 / 5 ')).toEqual({ downKbit: 20_000, upKbit: 5000 });
    expect(parseSpeedMbit('0.5/0')).toEqual({ downKbit: 500, upKbit: null });
    expect(parseSpeedMbit('0')).toEqual(UNLIMITED);
    for (const bad of ['', 'fast', '-1', '20/', '20/5/1', '1e3', '99999']) expect(parseSpeedMbit(bad)).toBeNull();
  });

  it('a user without a speed of their own gets the default; 0 is unlimited whatever the default', () => {
    const def = { downKbit: 20_000, upKbit: 5000 };
    expect(effectiveSpeed({ speed_down_kbit: null, speed_up_kbit: null }, def)).toEqual(def);
    expect(effectiveSpeed({ speed_down_kbit: 0, speed_up_kbit: 0 }, def)).toEqual(UNLIMITED);
    expect(effectiveSpeed({ speed_down_kbit: 8000, speed_up_kbit: 0 }, def)).toEqual({ downKbit: 8000, upKbit: null });
    expect(effectiveSpeed({ speed_down_kbit: null, speed_up_kbit: null }, UNLIMITED)).toEqual(UNLIMITED);
  });
});
