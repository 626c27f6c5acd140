import { describe, expect, it } from 'vitest';
import { checkSshTarget } from '../../src/vpn/ssh-connection.js';
import { fingerprintOf, parseHostKeyPin } from '../../src/vpn/ssh-host-key.js';
import { createSshRunner } from '../../src/vpn/ssh-runner.js';

describe('parseHostKeyPin', () => {
  // A real ed25519 public key and what `ssh-keygen -lf` prints for it.
  const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkmKnW7oOjQ+XtBh93XH9kYC7f33yTeJOBExxJ3bREN node1';
  const blob = Buffer.from(line.split(' ')[1]!, 'base64');
  const fp = fingerprintOf(blob);

  it('takes the .pub line (pins the type), a bare fingerprint, or the whole ssh-keygen -lf line', () => {
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(parseHostKeyPin(line)).toEqual({ fingerprint: fp, algorithms: ['ssh-ed25519'] });
    expect(parseHostKeyPin(`  ${line.split(' ').slice(0, 2).join(' ')}\n`)).toEqual({ fingerprint: fp, algorithms: ['ssh-ed25519'] });
    expect(parseHostKeyPin(fp)).toEqual({ fingerprint: fp });
    expect(parseHostKeyPin(`256 ${fp} root@node1 (ED25519)`)).toEqual({ fingerprint: fp, algorithms: ['ssh-ed25519'] });
    expect(parseHostKeyPin(`3072 ${fp} root@node1 (RSA)`).algorithms).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(parseHostKeyPin(`384 ${fp} root@node1 (ECDSA)`).algorithms).toEqual(['ecdsa-sha2-nistp384']);
  });

  it('checkSshTarget names the bad field', () => {
    const good = { host: '10.0.0.5', port: 22, user: 'root', privateKeyFile: '/etc/andreyvpn/id_ed25519', hostKey: line };
    expect(checkSshTarget(good)).toEqual({ fingerprint: fp, algorithms: ['ssh-ed25519'] });
    expect(checkSshTarget({ ...good, host: 'node-1.example.com' }).fingerprint).toBe(fp);
    expect(() => checkSshTarget({ ...good, host: 'a b' })).toThrow(/bad host/);
    expect(() => checkSshTarget({ ...good, port: 0 })).toThrow(/bad port/);
    expect(() => checkSshTarget({ ...good, port: 22.5 })).toThrow(/bad port/);
    expect(() => checkSshTarget({ ...good, user: 'root;id' })).toThrow(/bad user/);
    expect(() => checkSshTarget({ ...good, privateKeyFile: 'id_ed25519' })).toThrow(/invalid path/);
    expect(() => checkSshTarget({ ...good, hostKey: 'yes' })).toThrow(/host key/);
    expect(() => createSshRunner('wireguard', { ...good, hostKey: '' })).toThrow(/host key/);
  });

  it('refuses anything else with a message that says what to give', () => {
    for (const bad of ['', 'yes', 'MD5:aa:bb', `${fp}x`, 'SHA256:short', 'ssh-ed25519 AAAA', `ssh-rsa ${line.split(' ')[1]}`, 'constructor AAAA', `999 ${fp} x (ECDSA)`]) {
      expect(() => parseHostKeyPin(bad), bad).toThrow(/host key/);
    }
  });
});
