import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPair, generatePresharedKey } from '../../src/vpn/keys.js';
import { generateAwgParams } from '../../src/vpn/params.js';
import { renderQrPng } from '../../src/vpn/qr.js';
import { renderClientConfig } from '../../src/vpn/render.js';
import type { AwgParams, ClientSpec } from '../../src/vpn/types.js';

const hasZbar = spawnSync('zbarimg', ['--version']).error === undefined;
if (!hasZbar && process.env.CI === 'true') throw new Error('`zbarimg` (zbar-tools) must be installed in CI');

const dir = mkdtempSync(join(tmpdir(), 'vpn-qr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function decode(png: Buffer, name: string): string {
  const file = join(dir, `${name}.png`);
  writeFileSync(file, png);
  const out = execFileSync('zbarimg', ['--raw', '-q', file], { encoding: 'utf8' });
  expect(out.endsWith('\n')).toBe(true);
  return out.slice(0, -1);
}

function config(flavor: ClientSpec['flavor'], awg?: AwgParams): string {
  return renderClientConfig({
    flavor,
    privateKey: generateKeyPair().privateKey,
    ip: '10.8.123.234',
    dns: ['1.1.1.1', '1.0.0.1'],
    mtu: 1280,
    awg,
    serverPublicKey: generateKeyPair().publicKey,
    presharedKey: generatePresharedKey(),
    endpoint: 'vpn-server.example.com:51820',
    allowedIps: ['0.0.0.0/0', '::/0'],
  });
}

describe('renderQrPng', () => {
  it('returns a PNG', async () => {
    const png = await renderQrPng('hello');
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  });

  describe.skipIf(!hasZbar)('decodes back to the exact text with zbarimg', () => {
    const cases: [string, () => string][] = [
      ['wireguard', () => config('wireguard')],
      ['amneziawg protocol 1', () => config('amneziawg', generateAwgParams(1))],
      ['amneziawg protocol 2', () => config('amneziawg', generateAwgParams(2))],
      [
        'amneziawg protocol 2 with a long I1 (~700+ bytes)',
        () => config('amneziawg', { ...generateAwgParams(2), i1: `<r 2><b 0x${'85'.repeat(100)}>` }),
      ],
    ];
    for (const [name, make] of cases) {
      it(name, async () => {
        const text = make();
        const png = await renderQrPng(text);
        expect(decode(png, name.replace(/\W+/g, '_'))).toBe(text);
      });
    }

    it('the long case really is long', () => {
      const text = config('amneziawg', { ...generateAwgParams(2), i1: `<r 2><b 0x${'85'.repeat(100)}>` });
      expect(text.length).toBeGreaterThan(650);
    });
  });
});
