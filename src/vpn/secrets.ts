import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const PREFIX = 'enc:v1:';
/** Opened values kept per process, so the monitor's tick does not decrypt every peer's key again; cleared past this many. */
const MAX_OPENED = 100_000;

export class SecretsKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsKeyError';
  }
}

/** AES-256-GCM for keys at rest (client and server private keys, preshared keys): `enc:v1:<iv>:<tag>:<ciphertext>`, base64. */
export class SecretBox {
  private readonly key: Buffer;
  private readonly opened = new Map<string, string>();

  constructor(key: Buffer) {
    if (key.length !== 32) throw new SecretsKeyError('SECRETS_KEY must be 32 bytes');
    this.key = key;
  }

  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX);
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `${PREFIX}${iv.toString('base64')}:${c.getAuthTag().toString('base64')}:${body.toString('base64')}`;
  }

  /** Throws SecretsKeyError when the value was sealed with another key or was tampered with. */
  open(sealed: string): string {
    const known = this.opened.get(sealed);
    if (known !== undefined) return known;
    const [iv, tag, body] = sealed.slice(PREFIX.length).split(':');
    if (!SecretBox.isSealed(sealed) || !iv || !tag || body === undefined) throw new SecretsKeyError('not a sealed value');
    let plain: string;
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
      d.setAuthTag(Buffer.from(tag, 'base64'));
      plain = Buffer.concat([d.update(Buffer.from(body, 'base64')), d.final()]).toString('utf8');
    } catch {
      throw new SecretsKeyError('SECRETS_KEY does not match the key the stored keys were encrypted with');
    }
    if (this.opened.size >= MAX_OPENED) this.opened.clear();
    this.opened.set(sealed, plain);
    return plain;
  }
}

/** A key as it is stored: sealed when SECRETS_KEY is set, as it is otherwise. */
export function sealSecret(box: SecretBox | undefined, plain: string): string {
  return box ? box.seal(plain) : plain;
}

/** A stored key in clear; a sealed one needs SECRETS_KEY. */
export function openSecret(box: SecretBox | undefined, stored: string): string {
  if (!SecretBox.isSealed(stored)) return stored;
  if (!box) throw new SecretsKeyError('the stored keys are encrypted: set SECRETS_KEY to the key they were encrypted with');
  return box.open(stored);
}

/** SECRETS_KEY as 32 bytes: base64 (e.g. `openssl rand -base64 32`) or 64 hex digits. */
export function parseSecretsKey(s: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  const b = Buffer.from(s, 'base64');
  return b.length === 32 && b.toString('base64').replace(/=+$/, '') === s.replace(/=+$/, '') ? b : null;
}
