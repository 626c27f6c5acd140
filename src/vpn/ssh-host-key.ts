import { createHash } from 'node:crypto';
import type { ServerHostKeyAlgorithm } from 'ssh2';

// An SSH node's host key is pinned in its row: the connection is refused unless the node shows that key.

/** The host key refused: not the pinned one. */
export class HostKeyMismatchError extends Error {
  constructor(pinned: string, seen: string) {
    super(`host key mismatch: the server presented ${seen}, the pinned one is ${pinned}; refusing to connect`);
    this.name = 'HostKeyMismatchError';
  }
}

export interface HostKeyPin {
  /** `SHA256:<unpadded base64>` of the key blob, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** The host key algorithms to ask for, when the pin names the key type. */
  algorithms?: ServerHostKeyAlgorithm[];
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** Key type (in a .pub line) → the host key algorithms that make the server present that key. */
const ALGORITHMS = new Map<string, ServerHostKeyAlgorithm[]>([
  ['ssh-ed25519', ['ssh-ed25519']],
  ['ecdsa-sha2-nistp256', ['ecdsa-sha2-nistp256']],
  ['ecdsa-sha2-nistp384', ['ecdsa-sha2-nistp384']],
  ['ecdsa-sha2-nistp521', ['ecdsa-sha2-nistp521']],
  ['ssh-rsa', ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']],
]);
/** `ssh-keygen -lf` names the type in parentheses; ECDSA's curve follows from the bits before it. */
const keygenType = (type: string, bits: string): string => (type === 'ECDSA' ? `ecdsa-sha2-nistp${bits}` : type === 'RSA' ? 'ssh-rsa' : 'ssh-ed25519');

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The type name inside an SSH public key blob (a uint32 length, then the name). */
export function blobType(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  return len <= 64 && blob.length >= 4 + len ? blob.subarray(4, 4 + len).toString('latin1') : '';
}

/**
 * Accepts, from the node (`/etc/ssh/ssh_host_ed25519_key.pub`):
 * - the public key line `ssh-ed25519 AAAA… [comment]` (also pins the key type), or
 * - the fingerprint `SHA256:…`, bare or as the whole line `ssh-keygen -lf <pub>` prints
 *   (`256 SHA256:… comment (ED25519)`; the type in parentheses pins the key type).
 * Without a type the server offers its preferred host key (ed25519 on a default OpenSSH),
 * so a bare fingerprint should be that key's.
 */
export function parseHostKeyPin(text: string): HostKeyPin {
  const s = text.trim();
  const words = s.split(/\s+/);
  const [first = '', second = ''] = words;
  const lineAlgorithms = ALGORITHMS.get(first);
  if (lineAlgorithms) {
    const blob = /^[A-Za-z0-9+/]+={0,2}$/.test(second) ? Buffer.from(second, 'base64') : Buffer.alloc(0);
    if (blobType(blob) !== first) throw new Error(`host key: ${JSON.stringify(s.slice(0, 80))} is not a valid ${first} public key`);
    return { fingerprint: fingerprintOf(blob), algorithms: lineAlgorithms };
  }
  const fp = words.find((w) => w.startsWith('SHA256:'));
  if (!fp || !FINGERPRINT.test(fp)) {
    throw new Error('host key: expected "ssh-ed25519 AAAA…" (the .pub line) or "SHA256:…" (ssh-keygen -lf <the .pub>)');
  }
  const type = /\((ED25519|RSA|ECDSA)\)$/.exec(s)?.[1];
  if (!type) return { fingerprint: fp };
  const algorithms = ALGORITHMS.get(keygenType(type, first));
  if (!algorithms) throw new Error(`host key: cannot tell the ${type} key size from ${JSON.stringify(s.slice(0, 80))}`);
  return { fingerprint: fp, algorithms };
}
