import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getServer } from '../../src/db/servers.js';
import { peersOfUser } from '../../src/db/peers.js';
import { publicKeyFromPrivate } from '../../src/vpn/keys.js';
import { SecretBox, SecretsKeyError, parseSecretsKey } from '../../src/vpn/secrets.js';
import { ADMIN_A, createHarness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

const USER: From = { id: 909, first_name: 'Kira', language_code: 'en' };

const confKey = (conf: string) => /^PrivateKey = (.+)$/m.exec(conf)![1]!;
const confPsk = (conf: string) => /^PresharedKey = (.+)$/m.exec(conf)![1]!;
const serverConfOf = (dir: string) => fs.readFile(path.join(dir, 'conf', 'awg0.conf'), 'utf8');

describe('SECRETS_KEY: private and preshared keys encrypted at rest', () => {
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

  it('no key (client or server private key, preshared key) reaches the database in clear; the configs still fit together', async () => {
    const key = randomBytes(32);
    const h = await createHarness({ captcha: false, secretsKey: key });
    try {
      await h.send(USER, '/start');
      await h.press(ADMIN_A, `apr:${USER.id}`);
      const conf = h.rec.last('sendDocument', USER.id)!.files.document!.data.toString();
      const [peer] = await peersOfUser(h.db, USER.id);
      const server = (await getServer(h.db, 'awg0'))!;
      for (const stored of [peer!.private_key, peer!.preshared_key, server.private_key]) expect(stored).toMatch(/^enc:v1:/);
      expect(publicKeyFromPrivate(confKey(conf))).toBe(peer!.public_key);
      // The interface got the preshared key in clear, the same as the client's; the server's key fits the client's [Peer].
      expect(h.wg.peers.get(peer!.public_key)!.presharedKey).toBe(confPsk(conf));
      await h.fleet.node('awg0').flushConfig();
      const serverConf = await serverConfOf(h.dir);
      expect(publicKeyFromPrivate(confKey(serverConf))).toBe(/^PublicKey = (.+)$/m.exec(conf)![1]);
      expect(serverConf).toContain(`PresharedKey = ${confPsk(conf)}`);
      const stored = await h.storedText();
      expect(stored).toContain(peer!.public_key); // the check reads what is stored
      for (const secret of [confKey(conf), confPsk(conf), confKey(serverConf)]) expect(stored).not.toContain(secret);
    } finally {
      await h.close();
    }
  });

  it('every node seals its server key; a peer moved to another node keeps its sealed keys and reaches the interface there in clear', async () => {
    const h = await createHarness({ captcha: false, secretsKey: randomBytes(32), nodes: [{ name: 'ams', subnet: '10.20.0.0/24' }] });
    try {
      await h.send(USER, '/start');
      await h.press(ADMIN_A, `apr:${USER.id}`);
      const conf = h.rec.last('sendDocument', USER.id)!.files.document!.data.toString();
      const [peer] = await peersOfUser(h.db, USER.id);
      const moved = await h.fleet.move(peer!, peer!.node === 'ams' ? 'awg0' : 'ams');
      expect(moved).toMatchObject({ private_key: peer!.private_key, preshared_key: peer!.preshared_key });
      expect(h.wgs.get(moved.node)!.peers.get(peer!.public_key)!.presharedKey).toBe(confPsk(conf));
      const after = h.fleet.clientConfig(moved, {});
      expect([confKey(after), confPsk(after)]).toEqual([confKey(conf), confPsk(conf)]);
      for (const node of ['awg0', 'ams']) expect((await getServer(h.db, node))!.private_key).toMatch(/^enc:v1:/);
    } finally {
      await h.close();
    }
  });

  it('refuses to start with a wrong key or without the key; turning it on later encrypts what is there', async () => {
    const first = await createHarness({ captcha: false });
    await first.send(USER, '/start');
    await first.press(ADMIN_A, `apr:${USER.id}`);
    const conf = first.rec.last('sendDocument', USER.id)!.files.document!.data.toString();
    const serverKey = (await getServer(first.db, 'awg0'))!.private_key;
    expect(await first.storedText()).toContain(confPsk(conf)); // in clear without the key
    await first.crash();
    const restart = (secretsKey?: Buffer) => createHarness({ captcha: false, secretsKey, restartOf: { dir: first.dir, wg: first.wg, telegram: first.rec.state } });

    const key = randomBytes(32);
    const before = first.wg.calls.length;
    const withKey = await restart(key);
    const [peer] = await peersOfUser(withKey.db, USER.id);
    for (const stored of [peer!.private_key, peer!.preshared_key, (await getServer(withKey.db, 'awg0'))!.private_key]) expect(stored).toMatch(/^enc:v1:/);
    const stored = await withKey.storedText();
    for (const secret of [confKey(conf), confPsk(conf), serverKey]) expect(stored).not.toContain(secret.slice(0, 20));
    // The live peer already has the key the database holds (opened): nothing is set again; the server config keeps its key.
    expect(first.wg.calls.slice(before).filter((c) => /^(set|addconf) /.test(c))).toEqual([]);
    expect(confKey(await serverConfOf(first.dir))).toBe(serverKey);
    await withKey.send(USER, '/config');
    expect(withKey.rec.last('sendDocument', USER.id)!.files.document!.data.toString()).toBe(conf);
    await withKey.crash();

    await expect(restart(randomBytes(32))).rejects.toThrow(/SECRETS_KEY does not match/);
    await expect(restart()).rejects.toThrow(/set SECRETS_KEY/);
    const again = await restart(key);
    await again.close();
  });
});
