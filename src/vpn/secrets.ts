import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const PREFIX = 'enc:v1:';

export class SecretsKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsKeyError';
  }
}

/** AES-256-GCM for client private keys at rest: `enc:v1:<iv>:<tag>:<ciphertext>`, base64. */
export class SecretBox {
  private readonly key: Buffer;

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
    const [iv, tag, body] = sealed.slice(PREFIX.length).split(':');
    if (!SecretBox.isSealed(sealed) || !iv || !tag || body === undefined) throw new SecretsKeyError('not a sealed value');
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
      d.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([d.update(Buffer.from(body, 'base64')), d.final()]).toString('utf8');
    } catch {
      throw new SecretsKeyError('SECRETS_KEY does not match the key the stored private keys were encrypted with');
    }
  }
}

/** SECRETS_KEY as 32 bytes: base64 (e.g. `openssl rand -base64 32`) or 64 hex digits. */
export function parseSecretsKey(s: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  const b = Buffer.from(s, 'base64');
  return b.length === 32 && b.toString('base64').replace(/=+$/, '') === s.replace(/=+$/, '') ? b : null;
}
