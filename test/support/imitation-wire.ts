import { randomBytes, randomInt } from 'node:crypto';

// What amneziawg-go puts on the wire for an I1–I5 tag chain, and a DNS query read back from the
// bytes: written apart from src/vpn/imitation.ts so tests check the format, not the generator.

/** One packet of a tag chain, as amneziawg-go's obfuscation chain would send it now. */
export function packetOf(spec: string): Buffer {
  const parts: Buffer[] = [];
  for (const [, tag, arg] of spec.matchAll(/<(\w+)(?: ([^>]*))?>/g)) {
    const n = Number(arg);
    if (tag === 'b') parts.push(Buffer.from(arg!.slice(2), 'hex'));
    else if (tag === 'r') parts.push(randomBytes(n));
    else if (tag === 'rd') parts.push(Buffer.from(Array.from({ length: n }, () => 0x30 + randomInt(10))));
    else if (tag === 'rc') parts.push(Buffer.from(Array.from({ length: n }, () => 0x61 + randomInt(26))));
    else if (tag === 't') parts.push(Buffer.from(new Uint32Array([Math.floor(Date.now() / 1000)]).buffer).reverse());
    else throw new Error(`unexpected tag <${tag}>`);
  }
  return Buffer.concat(parts);
}

const TYPES: Record<number, string> = { 1: 'A', 28: 'AAAA', 65: 'HTTPS' };

/** A DNS query (RFC 1035): one question, no answers; an EDNS OPT record at most. Throws on anything else. */
export function parseDnsQuery(p: Buffer): { id: number; flags: number; name: string; type: string } {
  if (p.length < 17) throw new Error('too short for a DNS query');
  const [qd, an, ns, ar] = [p.readUInt16BE(4), p.readUInt16BE(6), p.readUInt16BE(8), p.readUInt16BE(10)];
  if (qd !== 1 || an !== 0 || ns !== 0 || ar > 1) throw new Error(`counts ${qd}/${an}/${ns}/${ar} are not a query's`);
  const labels: string[] = [];
  let at = 12;
  for (let len = p[at]!; len !== 0; len = p[at]!) {
    if (len > 63 || at + 1 + len >= p.length) throw new Error('bad label');
    labels.push(p.subarray(at + 1, at + 1 + len).toString('ascii'));
    at += 1 + len;
  }
  at++;
  const type = TYPES[p.readUInt16BE(at)] ?? String(p.readUInt16BE(at));
  if (p.readUInt16BE(at + 2) !== 1) throw new Error('class is not IN');
  at += 4;
  if (ar === 1) {
    // The OPT pseudo-record: root name, type 41, then class (buffer size), TTL, empty data.
    if (p[at] !== 0 || p.readUInt16BE(at + 1) !== 41 || p.readUInt16BE(at + 9) !== 0) throw new Error('the additional record is not EDNS OPT');
    at += 11;
  }
  if (at !== p.length) throw new Error(`${p.length - at} bytes after the query`);
  return { id: p.readUInt16BE(0), flags: p.readUInt16BE(2), name: labels.join('.'), type };
}
