import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, createRunner, run } from '../../src/vpn/runner.js';
import { generateKeyPair, generatePresharedKey } from '../../src/vpn/keys.js';

// Stand-in binaries on PATH record what they were given, so we can check what a real `wg`
// would have seen: the argv (what `ps` shows) and the files it was pointed at.
describe('runner: how the binaries are called', () => {
  let dir: string;
  let oldPath: string | undefined;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-runner-'));
    await fs.mkdir(path.join(dir, 'bin'));
    const log = path.join(dir, 'calls.log');
    await fs.writeFile(
      path.join(dir, 'bin', 'wg'),
      `#!/bin/bash
printf '%s\\n' "$*" >> ${log}
if [ "$1" = set ]; then f="$6"; stat -c 'mode %a' "$f" >> ${log}; cat "$f" >> ${log}; fi
if [ "$1" = addconf ]; then f="$3"; stat -c 'mode %a' "$f" >> ${log}; cat "$f" >> ${log}; fi
if [ "$1" = show ] && [ "$2" = broken ]; then echo "Unable to access interface: No such device" >&2; exit 1; fi
if [ "$1" = show ] && [ "$2" = slow ]; then sleep 5; fi
if [ "$1" = show ] && [ "$2" = big ]; then stat -L -c 'stdout mode %a %F' /proc/$$/fd/1 >> ${log}; seq -f 'line %g' 1 20000; fi
exit 0
`,
      { mode: 0o755 },
    );
    // Like wg-quick with a userspace fallback: leaves a daemon running that keeps stdout open.
    await fs.writeFile(
      path.join(dir, 'bin', 'wg-quick'),
      `#!/bin/bash\n(sleep 30 &)\necho "[#] up $2"\n[ "$2" = /fail/x.conf ] && { echo "boom: RTNETLINK answers" >&2; exit 1; }\n[ "$2" = /etc/x/env.conf ] && env -0\nexit 0\n`,
      { mode: 0o755 },
    );
    oldPath = process.env.PATH;
    process.env.PATH = `${path.join(dir, 'bin')}:${oldPath}`;
  });
  afterAll(async () => {
    process.env.PATH = oldPath;
    await fs.rm(dir, { recursive: true, force: true });
  });

  const runner = () => createRunner('wireguard', { logDir: path.join(dir, 'logs'), secretsDir: path.join(dir, 'run'), timeoutMs: 1000 });

  it('set peer: the preshared key is never in argv; it comes from a 0600 file that is gone afterwards', async () => {
    const psk = generatePresharedKey();
    const { publicKey } = generateKeyPair();
    await runner().setPeer('wg9', { publicKey, presharedKey: psk, ip: '10.8.0.2' });
    const log = await fs.readFile(path.join(dir, 'calls.log'), 'utf8');
    const [argv] = log.split('\n');
    expect(argv).toMatch(new RegExp(`^set wg9 peer ${publicKey.replace(/[+/]/g, '\\$&')} preshared-key \\S+/psk-[0-9a-f]{16} allowed-ips 10\\.8\\.0\\.2/32$`));
    expect(argv).not.toContain(psk);
    expect(log).toContain('mode 600');
    expect(log).toContain(psk); // what wg read from the file
    expect(await fs.readdir(path.join(dir, 'run'))).toEqual([]);
  });

  it('set peers: one addconf with [Peer] sections from a 0600 file that is gone afterwards; no key in argv', async () => {
    await fs.rm(path.join(dir, 'calls.log'), { force: true });
    const peers = [2, 3].map((n) => ({ publicKey: generateKeyPair().publicKey, presharedKey: generatePresharedKey(), ip: `10.8.0.${n}` }));
    await runner().setPeers('wg9', peers);
    const log = await fs.readFile(path.join(dir, 'calls.log'), 'utf8');
    const [argv] = log.split('\n');
    expect(argv).toMatch(/^addconf wg9 \S+\/psk-[0-9a-f]{16}$/);
    expect(log).toContain('mode 600');
    for (const p of peers) {
      expect(argv).not.toContain(p.presharedKey);
      expect(log).toContain(`[Peer]\nPublicKey = ${p.publicKey}\nPresharedKey = ${p.presharedKey}\nAllowedIPs = ${p.ip}/32\n`);
    }
    expect(await fs.readdir(path.join(dir, 'run'))).toEqual([]);
  });

  it('errors carry the command and its stderr; a hung command is killed at the timeout', async () => {
    const err = await runner().dump('broken').catch((e) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err.message).toContain('wg show broken dump');
    expect(err.message).toContain('No such device');
    const started = Date.now();
    const slow = await runner().dump('slow').catch((e) => e);
    expect(slow.message).toMatch(/timed out after 1000 ms/);
    expect(Date.now() - started).toBeLessThan(4000);
    await expect(run('missing-binary-xyz', [])).rejects.toThrow(/missing-binary-xyz.*ENOENT/);
    // Shaping runs tc or ip, nothing else, whatever argv it is handed.
    await expect(runner().shape(['sh', '-c', 'id'])).rejects.toThrow(/not a shaping command/);
  });

  it('dump: the output goes through a 0600 file, not a pipe a busy event loop would leave full; the file is gone afterwards, also after a failure or a timeout', async () => {
    await fs.rm(path.join(dir, 'calls.log'), { force: true });
    const text = await runner().dump('big');
    expect(text.split('\n')).toHaveLength(20_001);
    expect(text.startsWith('line 1\nline 2\n')).toBe(true);
    expect(text.endsWith('line 20000\n')).toBe(true);
    expect(await fs.readFile(path.join(dir, 'calls.log'), 'utf8')).toContain('stdout mode 600 regular');
    // The failed and timed-out dumps of the test before left nothing either.
    expect(await fs.readdir(path.join(dir, 'run'))).toEqual([]);
  });

  it('*-quick up returns when the command exits even though its daemon keeps the output open; failures show its output', async () => {
    const started = Date.now();
    await runner().up('/etc/x/wg9.conf');
    expect(Date.now() - started).toBeLessThan(5000);
    const err = await runner().up('/fail/x.conf').catch((e) => e);
    expect(err.message).toContain('RTNETLINK answers');
  });

  it("children get PATH, the locale and the *-quick settings, never the bot's secrets (*-quick passes its environment on to PostUp and the daemon)", async () => {
    const secrets = {
      BOT_TOKEN: '424242:child-env-secret-token',
      SECRETS_KEY: 'c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE=',
      WEBHOOK_SECRET: 'webhook-secret-of-the-bot',
      DATABASE_URL: 'postgres://bot:pg-password-secret@db.example.com/vpn',
    };
    const passed = { LANG: 'C.UTF-8', WG_QUICK_USERSPACE_IMPLEMENTATION: '/opt/awg/amneziawg-go', WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' };
    const set = { ...secrets, ...passed };
    const saved = Object.fromEntries(Object.keys(set).map((k) => [k, process.env[k]]));
    Object.assign(process.env, set);
    try {
      const environ = (text: string) => new Map(text.split('\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      await runner().up('/etc/x/env.conf');
      const seen = [environ(await run('cat', ['/proc/self/environ'])), environ((await fs.readFile(path.join(dir, 'logs', 'env-quick.log'), 'utf8')).split('\n').slice(1).join('\n'))];
      for (const env of seen) {
        expect(env.get('PATH')).toBe(process.env.PATH); // found through it, too
        for (const [k, v] of Object.entries(passed)) expect(env.get(k)).toBe(v);
        for (const [k, v] of Object.entries(secrets)) {
          expect(env.has(k)).toBe(false);
          expect([...env.values()].join('\n')).not.toContain(v);
        }
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
