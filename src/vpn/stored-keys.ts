import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { peersWithPlainKeys, serversWithPlainKeys, setPeerKeys, setServerPrivateKey } from '../db/keys.js';
import { flushWal } from '../db/infra/wal.js';
import { getMeta, setMeta } from '../db/meta.js';
import { openSecret, SecretBox, SecretsKeyError } from './secrets.js';

const CHECK_KEY = 'secrets_check';
const CHECK_VALUE = 'andreyvpn secrets check v1';

/**
 * Runs at start, before any key is read. Without SECRETS_KEY: refuses data that is encrypted.
 * With it: refuses a key that does not match the stored data, and encrypts the keys still stored
 * in clear (client and server private keys, preshared keys), so turning it on later covers them.
 */
export async function sealStoredKeys(db: Db, box: SecretBox | undefined, log: Logger): Promise<void> {
  const check = await getMeta(db, CHECK_KEY);
  if (check !== undefined && openSecret(box, check) !== CHECK_VALUE) throw new SecretsKeyError('SECRETS_KEY does not match the stored data');
  if (!box) return;
  const seal = (v: string) => (SecretBox.isSealed(v) ? v : box.seal(v));
  const sealed = await db.transaction().execute(async (trx) => {
    const peers = await peersWithPlainKeys(trx);
    for (const p of peers) await setPeerKeys(trx, p.id, { private_key: seal(p.private_key), preshared_key: seal(p.preshared_key) });
    const servers = await serversWithPlainKeys(trx);
    for (const s of servers) await setServerPrivateKey(trx, s.node, box.seal(s.private_key));
    if (check === undefined) await setMeta(trx, CHECK_KEY, box.seal(CHECK_VALUE));
    return { peers: peers.length, servers: servers.length };
  });
  if (!sealed.peers && !sealed.servers) return;
  log.info(sealed, 'encrypted the keys stored in clear with SECRETS_KEY');
  // Old page images with the keys in clear live on in the WAL until a checkpoint.
  await flushWal(db);
}
