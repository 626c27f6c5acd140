import type { Kysely } from 'kysely';
import type { Database, Peer, Server } from './schema.js';

type Q = Kysely<Database>;

// Keys stored in clear, found and replaced when SECRETS_KEY is turned on (src/vpn/stored-keys.ts).

/** Peers with a private or preshared key still stored in clear (SECRETS_KEY turned on later). */
export function peersWithPlainKeys(db: Q): Promise<Pick<Peer, 'id' | 'private_key' | 'preshared_key'>[]> {
  return db
    .selectFrom('peers')
    .select(['id', 'private_key', 'preshared_key'])
    .where((eb) => eb.or([eb('private_key', 'not like', 'enc:%'), eb('preshared_key', 'not like', 'enc:%')]))
    .execute();
}

export async function setPeerKeys(db: Q, id: number, keys: Pick<Peer, 'private_key' | 'preshared_key'>): Promise<void> {
  await db.updateTable('peers').set(keys).where('id', '=', id).execute();
}

/** Servers whose private key is still stored in clear (SECRETS_KEY turned on later). */
export function serversWithPlainKeys(db: Q): Promise<Pick<Server, 'node' | 'private_key'>[]> {
  return db.selectFrom('servers').select(['node', 'private_key']).where('private_key', 'not like', 'enc:%').execute();
}

export async function setServerPrivateKey(db: Q, node: string, privateKey: string): Promise<void> {
  await db.updateTable('servers').set({ private_key: privateKey }).where('node', '=', node).execute();
}
