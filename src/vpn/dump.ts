import { isWgKey } from './keys.js';
import { WG_KEY_PATTERN } from './patterns.js';
import type { Dump, DumpInterface, DumpPeer } from './types.js';

export class DumpParseError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`wg dump line ${line}: ${reason}`);
    this.name = 'DumpParseError';
  }
}

const PEER_FIELDS = 8;

function isNone(s: string): boolean {
  return s === '(none)' || s === '(null)';
}

function splitLines(text: string): string[] {
  if (text.trim() === '') throw new DumpParseError(1, 'empty dump');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function counter(value: string, what: string, line: number): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new DumpParseError(line, `${what} is not a non-negative integer: ${JSON.stringify(value)}`);
  return n;
}

function key(value: string, what: string, line: number): string {
  if (!isWgKey(value)) throw new DumpParseError(line, `${what} is not a valid key`);
  return value;
}

// The field count of this line grows with every tools release (4 for wg, 13/20/27/29 for awg
// versions), so only the ends are fixed: keys and port first, fwmark last.
function parseInterface(fields: string[], line: number): DumpInterface {
  if (fields.length < 4) throw new DumpParseError(line, `interface line has ${fields.length} fields, expected at least 4`);
  const [privateKey, publicKey, port] = fields as [string, string, string];
  const fwmark = fields.at(-1)!;
  if (!/^(off|[0-9]+|0x[0-9a-fA-F]+)$/.test(fwmark)) throw new DumpParseError(line, `bad fwmark ${JSON.stringify(fwmark)}`);
  const listenPort = counter(port, 'listen-port', line);
  if (listenPort > 65535) throw new DumpParseError(line, `listen-port ${listenPort} out of range`);
  return {
    // An interface without a key prints (none); the type has no null here, so use ''.
    privateKey: isNone(privateKey) ? '' : key(privateKey, 'private-key', line),
    publicKey: isNone(publicKey) ? '' : key(publicKey, 'public-key', line),
    listenPort,
    fwmark,
    extra: fields.slice(3, -1),
  };
}

function parsePeer(fields: string[], line: number): DumpPeer {
  if (fields.length !== PEER_FIELDS) {
    throw new DumpParseError(line, `peer line has ${fields.length} fields, expected ${PEER_FIELDS}`);
  }
  const [publicKey, psk, endpoint, allowed, handshake, rx, tx, keepalive] = fields as [
    string, string, string, string, string, string, string, string,
  ];
  const latest = counter(handshake, 'latest-handshake', line);
  return {
    publicKey: key(publicKey, 'public-key', line),
    presharedKey: isNone(psk) ? null : key(psk, 'preshared-key', line),
    endpoint: isNone(endpoint) || endpoint === '' ? null : endpoint,
    allowedIps: isNone(allowed) || allowed === '' ? [] : allowed.split(',').map((s) => s.trim()),
    latestHandshake: latest === 0 ? null : latest,
    rx: counter(rx, 'rx', line),
    tx: counter(tx, 'tx', line),
    keepalive: keepalive === 'off' || isNone(keepalive) ? null : counter(keepalive, 'persistent-keepalive', line),
  };
}

// The usual peer line, checked and split by one regex (a monitor tick parses thousands): public
// key, preshared key or (none), endpoint, allowed IPs, handshake, rx, tx, keepalive. Any other
// line goes through parsePeer, which accepts the rarer forms and names what is wrong.
const PEER_LINE = new RegExp(`^(${WG_KEY_PATTERN})\t(\\(none\\)|${WG_KEY_PATTERN})\t([^\t]*)\t([^\t]*)\t([0-9]{1,15})\t([0-9]{1,15})\t([0-9]{1,15})\t(off|[0-9]{1,5})$`);

function parsePeerLine(line: string, n: number): DumpPeer {
  const m = PEER_LINE.exec(line);
  if (!m) return parsePeer(line.split('\t'), n);
  const [, publicKey, psk, endpoint, allowed, handshake, rx, tx, keepalive] = m as unknown as [string, string, string, string, string, string, string, string, string];
  const latest = Number(handshake);
  return {
    publicKey,
    presharedKey: psk === '(none)' ? null : psk,
    endpoint: isNone(endpoint) || endpoint === '' ? null : endpoint,
    allowedIps: isNone(allowed) || allowed === '' ? [] : allowed.split(',').map((s) => s.trim()),
    latestHandshake: latest === 0 ? null : latest,
    rx: Number(rx),
    tx: Number(tx),
    keepalive: keepalive === 'off' ? null : Number(keepalive),
  };
}

/** Parses `wg show <if> dump` (or `awg show <if> dump`). */
export function parseDump(text: string): Dump {
  const lines = splitLines(text);
  // I1..I5 values contain spaces, so only tabs separate fields.
  const iface = parseInterface(lines[0]!.split('\t'), 1);
  const peers: DumpPeer[] = [];
  for (let i = 1; i < lines.length; i++) peers.push(parsePeerLine(lines[i]!, i + 1));
  return { iface, peers };
}

/** The address of a dump endpoint, without its port: "1.2.3.4:5" → "1.2.3.4", "[2001:db8::1]:5" → "2001:db8::1". */
export function endpointAddress(endpoint: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(endpoint);
  if (bracketed) return bracketed[1]!;
  const colon = endpoint.lastIndexOf(':');
  return colon > 0 && endpoint.indexOf(':') === colon ? endpoint.slice(0, colon) : endpoint;
}
