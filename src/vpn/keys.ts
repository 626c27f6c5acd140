import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { WG_KEY_RE } from './patterns.js';
import type { KeyPair } from './types.js';

// PKCS#8 DER header for an X25519 private key; the raw 32-byte scalar follows it.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export function isWgKey(s: string): boolean {
  return WG_KEY_RE.test(s);
}

export function generateKeyPair(): KeyPair {
  const der = generateKeyPairSync('x25519').privateKey.export({ format: 'der', type: 'pkcs8' });
  const k = Buffer.from(der.subarray(der.length - 32));
  // Clamp like `wg genkey` so stored keys are byte-identical to what the CLI would produce.
  k[0] = k[0]! & 248;
  k[31] = (k[31]! & 127) | 64;
  const privateKey = k.toString('base64');
  return { privateKey, publicKey: publicKeyFromPrivate(privateKey) };
}

export function publicKeyFromPrivate(privateKeyB64: string): string {
  // The key itself must never end up in an error message or log.
  if (!isWgKey(privateKeyB64)) {
    throw new Error('Invalid WireGuard private key: expected 32 bytes in base64 (44 characters)');
  }
  const raw = Buffer.from(privateKeyB64, 'base64');
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, raw]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - 32).toString('base64');
}

export function generatePresharedKey(): string {
  return randomBytes(32).toString('base64');
}
