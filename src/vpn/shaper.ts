import { createHash } from 'node:crypto';
import { checkIface, checkIPv4, InvalidArgumentError } from './argv.js';
import { intToIp, ipToInt, parseSubnet } from './pool.js';
import type { Speed } from './types.js';
import type { StoredSpeed } from '../db/speeds.js';

// Per-peer speed limits with tc, as pure argv generators (shaping.ts runs them). Download: HTB
// classes on the VPN interface's egress. Upload: the interface's ingress is redirected (mirred) to
// an IFB device, whose egress has the same HTB classes matched by source address. Filters sit in a
// u32 hash table keyed on the address's last byte, so a packet is matched in O(1) whatever the
// number of peers. Class and filter ids derive from the peer's address, so every command is
// idempotent and a peer's shaping is removed without reading anything back.

export const UNLIMITED: Speed = { downKbit: null, upKbit: null };

const ROOT = '1:';
/** The u32 hash table that holds the per-peer filters (256 buckets: the address's last byte). */
const TABLE = '2:';
const PRIO = '10';
/** Highest HTB class minor id: addresses further than this into the subnet are not shaped. */
const MAX_MINOR = 0xffff;
/** tc's own limit on a rate (32-bit bytes per second) is far above this; kept sane for typos. */
export const MAX_KBIT = 10_000_000;

/** The IFB device that carries the upload of `iface`: `ifb-<iface>`, or a hash of it when that is over 15 characters. */
export function ifbName(iface: string): string {
  checkIface(iface);
  const readable = `ifb-${iface}`;
  return readable.length <= 15 ? readable : `ifb-${createHash('sha256').update(iface).digest('hex').slice(0, 11)}`;
}

/** The peer's offset in the subnet: its HTB class minor id; null when it does not fit one (past 65535 into a big subnet). */
export function classMinor(subnet: string, ip: string): number | null {
  const { network, size } = parseSubnet(subnet);
  const host = ipToInt(checkIPv4(ip)) - network;
  if (host <= 0 || host >= size) throw new InvalidArgumentError(`address in ${subnet}`, ip);
  return host <= MAX_MINOR ? host : null;
}

function rate(kbit: number): string {
  if (!Number.isInteger(kbit) || kbit <= 0 || kbit > MAX_KBIT) throw new InvalidArgumentError('rate (kbit/s)', String(kbit));
  return `${kbit}kbit`;
}

/** Where a peer's filter lives: bucket = last byte, node = the rest of the offset + 1 (u32 node ids start at 1). */
function filterHandle(minor: number): string {
  return `2:${(minor & 0xff).toString(16)}:${((minor >> 8) + 1).toString(16)}`;
}

interface Side {
  dev: string;
  /** u32 offset of the address the side matches on: 16 = destination (download), 12 = source (upload). */
  at: 16 | 12;
  match: 'dst' | 'src';
}

function sides(iface: string): { down: Side; up: Side } {
  return { down: { dev: checkIface(iface), at: 16, match: 'dst' }, up: { dev: ifbName(iface), at: 12, match: 'src' } };
}

/**
 * `ip` commands (argv) that create the IFB device and bring it up. `add` fails when it exists:
 * the caller removes it first (teardown) so the device is always fresh.
 */
export function ifbCommands(iface: string): { add: string[][]; remove: string[] } {
  const ifb = ifbName(iface);
  return {
    add: [
      ['ip', 'link', 'add', ifb, 'type', 'ifb'],
      ['ip', 'link', 'set', 'dev', ifb, 'up'],
    ],
    remove: ['ip', 'link', 'del', ifb],
  };
}

/** tc commands (each an argv without `tc`) that remove all shaping of `iface`; each fails harmlessly when absent. */
export function teardownCommands(iface: string): string[][] {
  const dev = checkIface(iface);
  return [
    ['qdisc', 'del', 'dev', dev, 'root'],
    ['qdisc', 'del', 'dev', dev, 'ingress'],
  ];
}

/** tc commands that build the empty structure on a clean interface and a fresh IFB device. */
export function setupCommands(iface: string, subnet: string): string[][] {
  const { network, prefix } = parseSubnet(subnet);
  const cidr = `${intToIp(network)}/${prefix}`;
  const { down, up } = sides(iface);
  const tree = (s: Side) => [
    // No default class: unclassified traffic (unlimited peers) goes out unshaped.
    ['qdisc', 'replace', 'dev', s.dev, 'root', 'handle', ROOT, 'htb'],
    ['filter', 'add', 'dev', s.dev, 'parent', ROOT, 'prio', PRIO, 'handle', TABLE, 'protocol', 'ip', 'u32', 'divisor', '256'],
    ['filter', 'add', 'dev', s.dev, 'parent', ROOT, 'prio', PRIO, 'handle', '800::1', 'protocol', 'ip', 'u32', 'ht', '800::', 'match', 'ip', s.match, cidr, 'hashkey', 'mask', '0x000000ff', 'at', String(s.at), 'link', TABLE],
  ];
  return [
    ...tree(down),
    ['qdisc', 'replace', 'dev', down.dev, 'handle', 'ffff:', 'ingress'],
    ['filter', 'add', 'dev', down.dev, 'parent', 'ffff:', 'prio', '1', 'handle', '800::1', 'protocol', 'ip', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', up.dev],
    ...tree(up),
  ];
}

/**
 * tc commands that take the peer at `ip` from the shaping `from` (what the node has; UNLIMITED
 * when nothing) to `to`: a class and a filter set per direction that changes to a limit, both
 * deleted per direction that becomes unlimited, nothing for a direction that stays the same.
 */
export function peerCommands(iface: string, subnet: string, ip: string, from: Speed, to: Speed): string[][] {
  const minor = classMinor(subnet, ip);
  if (minor === null) return [];
  const { down, up } = sides(iface);
  const classid = `1:${minor.toString(16)}`;
  const handle = filterHandle(minor);
  const bucket = `2:${(minor & 0xff).toString(16)}:`;
  const out: string[][] = [];
  for (const [s, was, kbit] of [
    [down, from.downKbit, to.downKbit],
    [up, from.upKbit, to.upKbit],
  ] as const) {
    if (kbit === was) continue;
    if (kbit === null) {
      // The filter first: a class is not deleted while a filter points at it.
      out.push(['filter', 'del', 'dev', s.dev, 'parent', ROOT, 'prio', PRIO, 'handle', handle, 'protocol', 'ip', 'u32'], ['class', 'del', 'dev', s.dev, 'classid', classid]);
      continue;
    }
    const r = rate(kbit);
    out.push(
      ['class', 'replace', 'dev', s.dev, 'parent', ROOT, 'classid', classid, 'htb', 'rate', r, 'ceil', r],
      ['filter', 'replace', 'dev', s.dev, 'parent', ROOT, 'prio', PRIO, 'handle', handle, 'protocol', 'ip', 'u32', 'ht', bucket, 'match', 'ip', s.match, `${checkIPv4(ip)}/32`, 'flowid', classid],
    );
  }
  return out;
}

const TOKEN_RE = /^[A-Za-z0-9_=+.:/-]+$/;

/** `tc -batch` input: one command a line. Every word is checked to be one plain token, so tc reads back exactly these argvs. */
export function batchInput(commands: readonly (readonly string[])[]): string {
  for (const argv of commands) for (const w of argv) if (!TOKEN_RE.test(w)) throw new InvalidArgumentError('tc word', w);
  return commands.map((argv) => `${argv.join(' ')}\n`).join('');
}

/** A speed in kbit/s from DEFAULT_SPEED_MBIT-style text: `20` (both ways) or `20/5` (down/up); 0 = unlimited. */
export function parseSpeedMbit(text: string): Speed | null {
  const m = /^\s*(\d{1,5}(?:\.\d{1,3})?)\s*(?:\/\s*(\d{1,5}(?:\.\d{1,3})?)\s*)?$/.exec(text);
  if (!m) return null;
  const kbit = (s: string) => {
    const n = Math.round(Number(s) * 1000);
    return n === 0 ? null : n;
  };
  const down = kbit(m[1]!);
  const up = m[2] === undefined ? down : kbit(m[2]);
  if ((down ?? 0) > MAX_KBIT || (up ?? 0) > MAX_KBIT) return null;
  return { downKbit: down, upKbit: up };
}

export function sameSpeed(a: Speed, b: Speed): boolean {
  return a.downKbit === b.downKbit && a.upKbit === b.upKbit;
}

/** The speed a user's stored columns give: null = `fallback` (DEFAULT_SPEED_MBIT), 0 = unlimited. */
export function effectiveSpeed(stored: StoredSpeed, fallback: Speed): Speed {
  const pick = (own: number | null, def: number | null) => (own === null ? def : own === 0 ? null : own);
  return { downKbit: pick(stored.speed_down_kbit, fallback.downKbit), upKbit: pick(stored.speed_up_kbit, fallback.upKbit) };
}
