import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { checkConfPath, checkIface, checkIPv4, checkKey, checkPath, InvalidArgumentError, shellCommand, shellQuote, vpnCommands } from '../../src/vpn/argv.js';
import { parseIfindex } from '../../src/vpn/runner.js';
import { generateKeyPair, generatePresharedKey } from '../../src/vpn/keys.js';

// The shells run in a scratch directory: a broken quoter would let `>name` create files.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'avpn-quote-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** What `shell -c <command>` sees as argv, when command = shellCommand(['printf', '%s\0', ...words]). */
function parsedBy(shell: 'sh' | 'bash', words: string[]): Promise<string[]> {
  const command = shellCommand(['printf', '%s\\0', ...words]);
  return new Promise((resolve, reject) => {
    execFile(shell, ['-c', command], { encoding: 'buffer', timeout: 5000, cwd: scratch }, (err, stdout) => {
      if (err) return reject(err);
      const parts = stdout.toString('utf8').split('\0');
      parts.pop(); // after the last NUL
      resolve(words.length === 0 ? [] : parts);
    });
  });
}

// Harmless payloads: with a broken quoter they must show up as a wrong parse, not do damage.
const HOSTILE = [
  "'; echo pwned #",
  "it's",
  "''",
  "\\'",
  "'\\''",
  '$(id)',
  '`id`',
  '"$HOME"',
  '${PATH}',
  "$'\\x41'",
  'a\nb',
  '\n',
  'tab\there',
  ' ',
  '',
  '*',
  '~',
  '~root',
  '-e',
  '--',
  '!',
  '!!',
  '#',
  'a;b|c&d',
  '>/dev/null </dev/null',
  '\\',
  '%s%n',
  'ünïcødé ✓ 🐙',
  '\r\x1b[31m',
];

describe('shellQuote / shellCommand', () => {
  it('single-quotes every word; a quote inside becomes \'\\\'\'', () => {
    expect(shellQuote('wg0')).toBe("'wg0'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
    expect(shellCommand(['wg', 'show', 'wg0', 'dump'])).toBe("'wg' 'show' 'wg0' 'dump'");
  });

  it('refuses NUL (no argv can carry it) and an empty argv', () => {
    expect(() => shellQuote('a\0b')).toThrow(InvalidArgumentError);
    expect(() => shellCommand([])).toThrow();
  });

  it.each(['sh', 'bash'] as const)('%s parses hostile words back exactly, each as one word', async (shell) => {
    expect(await parsedBy(shell, HOSTILE)).toEqual(HOSTILE);
    for (const w of HOSTILE) expect(await parsedBy(shell, [w])).toEqual([w]);
  });

  it('property: any words round-trip through sh', async () => {
    const meta = fc.constantFrom("'", '"', '\\', '$', '`', '(', ')', ';', '&', '|', '<', '>', '*', '?', '[', ']', '{', '}', '~', '#', '!', ' ', '\t', '\n', '%', '-', '=');
    const char = fc.oneof(meta, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
    const word = fc.string({ unit: char, maxLength: 20 }).filter((s) => !s.includes('\0') && Buffer.from(s).toString() === s);
    await fc.assert(
      fc.asyncProperty(fc.array(word, { minLength: 1, maxLength: 5 }), async (words) => {
        expect(await parsedBy('sh', words)).toEqual(words);
      }),
      { numRuns: 150 },
    );
  });
});

describe('argument validation', () => {
  it('interface names: wg-quick\'s rule, never option-like or a path step', () => {
    for (const ok of ['wg0', 'awg0', 'a', 'wg_x=+.-1', 'x'.repeat(15)]) expect(checkIface(ok)).toBe(ok);
    for (const bad of ['', '-h', '.', '..', 'x'.repeat(16), 'wg 0', 'wg0;id', 'wg/0', 'wg0\n', "wg'0", 'wg$0']) {
      expect(() => checkIface(bad), bad).toThrow(InvalidArgumentError);
    }
  });

  it('keys: 32 bytes of standard base64 only', () => {
    const { publicKey } = generateKeyPair();
    expect(checkKey(publicKey)).toBe(publicKey);
    expect(checkKey(generatePresharedKey())).toBeTruthy();
    for (const bad of ['', publicKey.slice(1), `${publicKey}\n`, `${publicKey} `, publicKey.replace(/=$/, ''), `${publicKey.slice(0, 42)}B=`, `-${publicKey.slice(1)}`, publicKey.replace(/.$/, '\'')]) {
      expect(() => checkKey(bad), bad).toThrow(InvalidArgumentError);
    }
  });

  it('IPv4 addresses and absolute paths', () => {
    expect(checkIPv4('10.8.0.2')).toBe('10.8.0.2');
    for (const bad of ['', '10.8.0', '10.8.0.256', '10.8.0.2/32', '::1', '10.8.0.2 ', '$(id)']) expect(() => checkIPv4(bad), bad).toThrow(InvalidArgumentError);
    for (const ok of ['/etc/wireguard/wg0.conf', "/srv/my data/it's", '/']) expect(checkPath(ok)).toBe(ok);
    for (const bad of ['', 'relative/x', '-rf', '/a/../etc', '/a\nb', '/a\0b', '/a\rb']) expect(() => checkPath(bad), JSON.stringify(bad)).toThrow(InvalidArgumentError);
    expect(checkConfPath('/etc/wireguard/wg0.conf')).toBe('/etc/wireguard/wg0.conf');
    for (const bad of ['/etc/wireguard/wg0', '/etc/wireguard/.conf', '/etc/x/-x.conf', '/etc/x/sixteen-chars-xx.conf']) expect(() => checkConfPath(bad), bad).toThrow(InvalidArgumentError);
  });

  it('parseIfindex: a positive integer, null for no file or an empty one, an error otherwise', () => {
    expect(parseIfindex('7\n')).toBe(7);
    expect(parseIfindex(null)).toBeNull();
    expect(parseIfindex('')).toBeNull();
    expect(() => parseIfindex('x')).toThrow(/unexpected ifindex/);
  });
});

describe('vpnCommands', () => {
  const { publicKey } = generateKeyPair();
  const presharedKey = generatePresharedKey();

  it('builds the argv of each flavor; the preshared key is only ever a file name', () => {
    const wg = vpnCommands('wireguard');
    const awg = vpnCommands('amneziawg');
    expect(wg.dump('wg0')).toEqual(['wg', 'show', 'wg0', 'dump']);
    expect(awg.dump('awg0')).toEqual(['awg', 'show', 'awg0', 'dump']);
    const set = awg.setPeer('awg0', { publicKey, presharedKey, ip: '10.8.0.2' }, '/run/x/psk-1');
    expect(set).toEqual(['awg', 'set', 'awg0', 'peer', publicKey, 'preshared-key', '/run/x/psk-1', 'allowed-ips', '10.8.0.2/32']);
    expect(set.join(' ')).not.toContain(presharedKey);
    expect(wg.removePeer('wg0', publicKey)).toEqual(['wg', 'set', 'wg0', 'peer', publicKey, 'remove']);
    expect(awg.up('/etc/amnezia/amneziawg/awg0.conf')).toEqual(['awg-quick', 'up', '/etc/amnezia/amneziawg/awg0.conf']);
    expect(wg.ifindexFile('wg0')).toBe('/sys/class/net/wg0/ifindex');
    expect(wg.upLogFile('/var/log/x', '/etc/wireguard/wg0.conf')).toBe('/var/log/x/wg0-quick.log');
  });

  it('refuses bad values before anything runs', () => {
    const wg = vpnCommands('wireguard');
    expect(() => wg.dump('-h')).toThrow(InvalidArgumentError);
    expect(() => wg.setPeer('wg0', { publicKey, presharedKey: 'x\nallowed-ips 0.0.0.0/0', ip: '10.8.0.2' }, '/run/x/p')).toThrow(/preshared key/);
    expect(() => wg.setPeer('wg0', { publicKey, presharedKey, ip: '10.8.0.2/0' }, '/run/x/p')).toThrow(/IPv4/);
    expect(() => wg.removePeer('wg0', `${publicKey} remove`)).toThrow(/public key/);
    expect(() => wg.up('wg0.conf')).toThrow(/path/);
  });
});
