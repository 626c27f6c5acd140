import zlib from 'node:zlib';

/**
 * Reads a `vpn://` key the way the AmneziaVPN app does, written apart from src/vpn/amnezia-key.ts
 * so a test compares against the format, not the encoder: base64url, a 4-byte big-endian length of
 * the JSON, its zlib stream (Qt's qCompress).
 */
export function decodeVpnKey(key: string): any {
  const m = /^vpn:\/\/([A-Za-z0-9_-]+)$/.exec(key);
  if (!m) throw new Error('not a vpn:// key');
  const buf = Buffer.from(m[1]!, 'base64url');
  const json = zlib.inflateSync(buf.subarray(4));
  if (buf.readUInt32BE(0) !== json.length) throw new Error('the length header does not match the JSON');
  return JSON.parse(json.toString('utf8'));
}
