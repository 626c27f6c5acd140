import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { peersOfUser } from '../../src/db/peers.js';
import { publicKeyFromPrivate } from '../../src/vpn/keys.js';
import { SecretBox, SecretsKeyError, parseSecretsKey } from '../../src/vpn/secrets.js';
import { ADMIN_A, createHarness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

const USER: From = { id: 909, first_name: 'Kira', language_code: 'en' };

const confKey = (conf: string) => /^PrivateKey = (.+)$/m.exec(conf)![1]!;

describe('SECRETS_KEY: client private keys encrypted at rest', () => {
  it('seals and opens; a wrong key or a tampered value is refused with a clear message', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('secret');
    expect(sealed).toMatch(/^enc:v1:/);
    expect(box.open(sealed)).toBe('secret');
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow(/does not match/);
    const [, , , tag, body] = sealed.split(':');
    expect(() => box.open(sealed.replace(body!, Buffer.from('other').toString('base64')))).toThrow(SecretsKeyError);
    expect(tag).toBeTruthy();
    const k = randomBytes(32);
    expect(parseSecretsKey(k.toString('base64'))?.equals(k)).toBe(true);
    expect(parseSecretsKey(k.toString('hex'))?.equals(k)).toBe(true);
    expect(parseSecretsKey('too-short')).toBeNull();
  });

  it('no private key reaches the database in plain text; the config is still right', async () => {
    const key = randomBytes(32);
    const h = await createHarness({ captcha: false, secretsKey: key });
    try {
      await h.send(USER, '/start');
      await h.press(ADMIN_A, `apr:${USER.id}`);
      const conf = h.rec.last('sendDocument', USER.id)!.files.document!.data.toString();
      const [peer] = await peersOfUser(h.db, USER.id);
      expect(publicKeyFromPrivate(confKey(conf))).toBe(peer!.public_key);
      expect(peer!.private_key).toMatch(/^enc:v1:/);
      const stored = await h.storedText();
      expect(stored).toContain(peer!.public_key); // the check reads what is stored
      expect(stored).not.toContain(confKey(conf));
    } finally {
      await h.close();
    }
  });

  it('refuses to start with a wrong key or without the key; turning it on later encrypts what is there', async () => {
    const first = await createHarness({ captcha: false });
    await first.send(USER, '/start');
    await first.press(ADMIN_A, `apr:${USER.id}`);
    const conf = first.rec.last('sendDocument', USER.id)!.files.document!.data.toString();
    await first.crash();
    const restart = (secretsKey?: Buffer) => createHarness({ captcha: false, secretsKey, restartOf: { dir: first.dir, wg: first.wg } });

    const key = randomBytes(32);
    const withKey = await restart(key);
    expect((await peersOfUser(withKey.db, USER.id))[0]!.private_key).toMatch(/^enc:v1:/);
    expect(await withKey.storedText()).not.toContain(confKey(conf).slice(0, 20));
    await withKey.send(USER, '/config');
    expect(withKey.rec.last('sendDocument', USER.id)!.files.document!.data.toString()).toBe(conf);
    await withKey.crash();

    await expect(restart(randomBytes(32))).rejects.toThrow(/SECRETS_KEY does not match/);
    await expect(restart()).rejects.toThrow(/set SECRETS_KEY/);
    const again = await restart(key);
    await again.close();
  });
});
