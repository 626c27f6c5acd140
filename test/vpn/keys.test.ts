import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, generatePresharedKey, isWgKey, publicKeyFromPrivate } from '../../src/vpn/keys.js';

const hasWg = spawnSync('wg', ['--version']).error === undefined;
if (!hasWg && process.env.CI === 'true') throw new Error('`wg` (wireguard-tools) must be installed in CI');

// Keys travel on stdin only: argv is visible to every process on the machine.
function wg(args: string[], input?: string): string {
  return execFileSync('wg', args, { input, encoding: 'utf8' }).trim();
}

describe('isWgKey', () => {
  it('accepts canonical 32-byte base64', () => {
    expect(isWgKey(Buffer.alloc(32, 7).toString('base64'))).toBe(true);
    expect(isWgKey(generatePresharedKey())).toBe(true);
  });

  it('rejects everything else', () => {
    const good = Buffer.alloc(32, 7).toString('base64');
    for (const bad of [
      '',
      good.slice(0, 43),
      good + '=',
      Buffer.alloc(31).toString('base64'),
      Buffer.alloc(33).toString('base64'),
      good.replace(/^./, '!'),
      good.slice(0, 42) + 'B=', // non-zero spare bits: not what wg would print
      Buffer.alloc(32, 0xff).toString('base64url') + '=',
      ` ${good}`,
      `${good}\n`,
    ]) {
      expect(isWgKey(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('generateKeyPair', () => {
  it('produces clamped private keys and distinct pairs', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { privateKey, publicKey } = generateKeyPair();
      expect(isWgKey(privateKey)).toBe(true);
      expect(isWgKey(publicKey)).toBe(true);
      const k = Buffer.from(privateKey, 'base64');
      expect(k[0]! & 7).toBe(0);
      expect(k[31]! & 128).toBe(0);
      expect(k[31]! & 64).toBe(64);
      expect(publicKeyFromPrivate(privateKey)).toBe(publicKey);
      seen.add(privateKey);
    }
    expect(seen.size).toBe(50);
  });

  it('generates distinct preshared keys', () => {
    const a = generatePresharedKey();
    expect(isWgKey(a)).toBe(true);
    expect(generatePresharedKey()).not.toBe(a);
  });
});

describe('publicKeyFromPrivate', () => {
  it('matches a known X25519 vector (RFC 7748 section 6.1)', () => {
    const priv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    const pub = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex');
    expect(publicKeyFromPrivate(priv.toString('base64'))).toBe(pub.toString('base64'));
  });

  it('throws a clear error without echoing the key', () => {
    const secret = 'not-a-key-' + 'x'.repeat(30);
    expect(() => publicKeyFromPrivate(secret)).toThrow(/32 bytes/);
    try {
      publicKeyFromPrivate(secret);
    } catch (e) {
      expect((e as Error).message).not.toContain(secret);
    }
    expect(() => publicKeyFromPrivate(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
  });
});

describe.skipIf(!hasWg)('agreement with the real wg binary', () => {
  it('our public keys equal `wg pubkey` for generated keys', () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicKey } = generateKeyPair();
      expect(wg(['pubkey'], privateKey + '\n')).toBe(publicKey);
    }
  });

  it('publicKeyFromPrivate equals `wg pubkey` for `wg genkey` output', () => {
    for (let i = 0; i < 20; i++) {
      const privateKey = wg(['genkey']);
      expect(publicKeyFromPrivate(privateKey)).toBe(wg(['pubkey'], privateKey + '\n'));
    }
  });

  it('unclamped keys give the same public key as wg (X25519 clamps internally)', () => {
    const raw = Buffer.alloc(32, 0xff).toString('base64');
    expect(publicKeyFromPrivate(raw)).toBe(wg(['pubkey'], raw + '\n'));
  });
});
