import { isIPv4 } from 'node:net';
import path from 'node:path';
import { IFACE_RE, WG_KEY_RE } from './patterns.js';
import type { VpnFlavor, WirePeer } from './types.js';

// The argv of every VPN command, shared by the local runner (spawn, no shell) and the SSH
// runner (one command string parsed by the node's shell). Every value is validated here, so
// neither runner can be handed an option-looking interface name or a path with a newline.

export class InvalidArgumentError extends Error {
  constructor(what: string, value: string) {
    super(`invalid ${what}: ${JSON.stringify(value.slice(0, 100))}`);
    this.name = 'InvalidArgumentError';
  }
}

// Absolute (so never option-like), no control characters. Spaces and quotes are fine: the
// local runner uses no shell and the SSH runner quotes every word.
const PATH = /^\/[^\x00-\x1f\x7f]{0,4095}$/;

export function checkIface(iface: string): string {
  // '.' and '..' would walk /sys/class/net.
  if (!IFACE_RE.test(iface) || iface.startsWith('-') || iface === '.' || iface === '..') throw new InvalidArgumentError('interface name', iface);
  return iface;
}

export function checkKey(key: string, what = 'key'): string {
  if (!WG_KEY_RE.test(key)) throw new InvalidArgumentError(what, key);
  return key;
}

export function checkIPv4(ip: string): string {
  if (!isIPv4(ip)) throw new InvalidArgumentError('IPv4 address', ip);
  return ip;
}

export function checkPath(p: string): string {
  if (!PATH.test(p) || p.split('/').includes('..')) throw new InvalidArgumentError('path', p);
  return p;
}

/** A *-quick config: `<iface>.conf`, the interface name being what *-quick derives from it. */
export function checkConfPath(p: string): string {
  checkPath(p);
  const base = path.posix.basename(p);
  if (!base.endsWith('.conf')) throw new InvalidArgumentError('config path (must be <iface>.conf)', p);
  checkIface(base.slice(0, -'.conf'.length));
  return p;
}

/** POSIX single-quoting: the shell reads the result back as exactly `s`. */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new InvalidArgumentError('shell word (contains NUL)', s);
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A command line that a POSIX shell parses back into exactly this argv. */
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('shellCommand: empty argv');
  return argv.map(shellQuote).join(' ');
}

export type VpnCommands = ReturnType<typeof vpnCommands>;

/** argv builders for one flavor (`wg`/`wg-quick` or `awg`/`awg-quick`). */
export function vpnCommands(flavor: VpnFlavor) {
  const bin = flavor === 'amneziawg' ? 'awg' : 'wg';
  return {
    dump: (iface: string) => [bin, 'show', checkIface(iface), 'dump'],
    /** The preshared key itself never goes in argv: `pskFile` holds it. */
    setPeer: (iface: string, p: WirePeer, pskFile: string) => {
      checkKey(p.presharedKey, 'preshared key');
      return [bin, 'set', checkIface(iface), 'peer', checkKey(p.publicKey, 'public key'), 'preshared-key', checkPath(pskFile), 'allowed-ips', `${checkIPv4(p.ip)}/32`];
    },
    removePeer: (iface: string, publicKey: string) => [bin, 'set', checkIface(iface), 'peer', checkKey(publicKey, 'public key'), 'remove'],
    /** `file` holds `[Peer]` sections (preshared keys in it): many peers in one call. */
    addConf: (iface: string, file: string) => [bin, 'addconf', checkIface(iface), checkPath(file)],
    up: (confPath: string) => [`${bin}-quick`, 'up', checkConfPath(confPath)],
    defaultRoute: () => ['ip', '-4', 'route', 'show', 'default'],
    ifindexFile: (iface: string) => path.posix.join('/sys/class/net', checkIface(iface), 'ifindex'),
    /** Where `up` sends the output of *-quick and of the daemon it leaves running. */
    upLogFile: (logDir: string, confPath: string) => path.posix.join(checkPath(logDir), `${path.posix.basename(checkConfPath(confPath), '.conf')}-quick.log`),
  };
}
