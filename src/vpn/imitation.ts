import { randomInt } from 'node:crypto';
import type { RandomInt } from './types.js';

// AmneziaWG's imitation packets I1–I5: a client sends them, in order, before every handshake
// initiation, so the first packets of a session look like another protocol. Only the client needs
// them (the server ignores what it cannot read), so they can change without breaking old configs.

export const IMITATION_PRESETS = ['off', 'dns', 'quic'] as const;
export type ImitationPreset = (typeof IMITATION_PRESETS)[number];
export const IMITATION_KEYS = ['i1', 'i2', 'i3', 'i4', 'i5'] as const;
export type ImitationKey = (typeof IMITATION_KEYS)[number];
export type ImitationValues = Partial<Record<ImitationKey, string>>;

/** What the deployment sends: a preset generated for it, or values set by hand (AWG_I1…AWG_I5). */
export interface Imitation {
  preset: ImitationPreset | 'custom';
  values: ImitationValues;
  /** For people: e.g. "www.google.com · A" (the query's name and type). */
  detail: string;
}

export class ImitationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImitationError';
  }
}

// amneziawg-tools refuses longer values.
const MAX_SPEC_CHARS = 5 * 1024;
// WireGuard's MTU leaves 80 bytes for its outer headers (IPv6 40 + UDP 8 + its own 32); an
// imitation packet has only the IP and UDP ones, so it may be 32 bytes larger and still fit.
const DEFAULT_TUNNEL_MTU = 1420;
export const maxImitationBytes = (tunnelMtu: number | undefined): number => (tunnelMtu ?? DEFAULT_TUNNEL_MTU) + 32;

/**
 * Bytes one packet of this tag chain puts on the wire. Throws ImitationError naming what is
 * wrong: amneziawg-go (device/obf.go) takes `<b 0xHEX>`, `<r N>`, `<rc N>`, `<rd N>` and `<t>`.
 */
export function imitationPacketSize(spec: string): number {
  if (spec.length > MAX_SPEC_CHARS) throw new ImitationError(`is longer than ${MAX_SPEC_CHARS} characters`);
  let size = 0;
  let tags = 0;
  // Spaces between tags only; anything else (a newline above all) would leave the config line.
  const re = /[ \t]*(?:<([^<>\r\n]*)>|$)/y;
  for (let at = 0; ; at = re.lastIndex) {
    re.lastIndex = at;
    const m = re.exec(spec);
    if (!m) throw new ImitationError(`has text outside a tag at character ${at + 1}: ${JSON.stringify(spec.slice(at, at + 12))}`);
    if (m[1] === undefined) break; // only spaces were left
    tags++;
    const [name, arg, extra] = m[1].trim().split(/\s+/);
    if (extra !== undefined) throw new ImitationError(`tag <${m[1]}> takes one argument`);
    if (name === 'b') {
      if (!arg || !/^0x(?:[0-9a-fA-F]{2})+$/.test(arg)) throw new ImitationError(`<b> needs 0x and an even number of hex digits, got <${m[1]}>`);
      size += (arg.length - 2) / 2;
    } else if (name === 'r' || name === 'rc' || name === 'rd') {
      if (!arg || !/^[1-9][0-9]{0,4}$/.test(arg)) throw new ImitationError(`<${name} N> needs a length from 1, got <${m[1]}>`);
      size += Number(arg);
    } else if (name === 't') {
      if (arg !== undefined) throw new ImitationError('<t> takes no argument');
      size += 4;
    } else if (name === 'c') {
      throw new ImitationError('<c> (a packet counter) is no longer accepted by amneziawg-go');
    } else {
      throw new ImitationError(`unknown tag <${name ?? ''}> (known: <b 0x…>, <r N>, <rc N>, <rd N>, <t>)`);
    }
  }
  if (tags === 0) throw new ImitationError('has no tags');
  return size;
}

/** The problem with one value, for messages; null when amneziawg-go takes it and it fits in `maxBytes`. */
export function imitationProblem(spec: string, maxBytes: number): string | null {
  try {
    const size = imitationPacketSize(spec);
    return size > maxBytes ? `makes a ${size}-byte packet, more than the ${maxBytes} bytes that fit the path MTU` : null;
  } catch (e) {
    if (e instanceof ImitationError) return e.message;
    throw e;
  }
}

// Popular names in our users' countries and worldwide: a query for one of them is unremarkable.
const DOMAINS = [
  'www.google.com', 'www.youtube.com', 'www.gstatic.com', 'www.wikipedia.org', 'www.apple.com', 'www.microsoft.com',
  'www.bing.com', 'www.cloudflare.com', 'www.amazon.com', 'www.whatsapp.com', 'web.telegram.org', 'www.icloud.com',
  'yandex.ru', 'ya.ru', 'vk.com', 'mail.ru', 'ok.ru', 'dzen.ru', 'www.ozon.ru', 'www.wildberries.ru',
  'www.gosuslugi.ru', 'www.avito.ru', 'www.kinopoisk.ru', 'www.sberbank.ru',
];
const DNS_TYPES = { A: 1, HTTPS: 65 } as const;
// Resolvers that add EDNS advertise one of these buffer sizes; null: a plain query.
const EDNS_SIZES = [null, 1232, 1232, 4096, 1452] as const;

const hex = (b: Buffer): string => b.toString('hex');

/**
 * A DNS query for `name` without its 2-byte transaction id (which goes out as `<r 2>`, fresh for
 * every packet, as a resolver's would): flags RD, one question, an EDNS OPT record when asked.
 */
export function dnsQueryAfterId(name: string, type: keyof typeof DNS_TYPES, ednsSize: number | null): Buffer {
  const header = Buffer.from([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, ednsSize === null ? 0 : 1]);
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  const question = Buffer.concat([...labels, Buffer.from([0, 0, DNS_TYPES[type], 0, 1])]);
  const opt = ednsSize === null ? Buffer.alloc(0) : Buffer.from([0, 0, 41, ednsSize >> 8, ednsSize & 0xff, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, question, opt]);
}

/**
 * A QUIC v1 client Initial look-alike of `total` bytes: long header (form, fixed bit, type 0 and
 * the packet-number bits), version 1, a fresh random destination connection id (and source id when
 * `scidLength`), no token, a Length that matches, then random bytes where the encrypted payload is.
 */
function quicInitial(firstByte: number, dcidLength: number, scidLength: number, total: number): string {
  const headerLength = 1 + 4 + 1 + dcidLength + 1 + scidLength + 1 + 2;
  const rest = total - headerLength;
  const scid = scidLength > 0 ? `<b 0x${hex(Buffer.from([scidLength]))}><r ${scidLength}>` : '<b 0x00>';
  const lengthField = Buffer.from([0x40 | (rest >> 8), rest & 0xff]);
  return `<b 0x${hex(Buffer.from([firstByte, 0, 0, 0, 1, dcidLength]))}><r ${dcidLength}>${scid}<b 0x00${hex(lengthField)}><r ${rest}>`;
}

/**
 * Imitation packets for one deployment, drawn at random so that no two servers send the same
 * bytes (the Amnezia app's one fixed default I1 is itself a fingerprint). `maxBytes` bounds each packet.
 */
export function generateImitation(preset: ImitationPreset, maxBytes: number, random: RandomInt = randomInt): Imitation {
  const pick = <T>(list: readonly T[]): T => list[random(list.length)]!;
  if (preset === 'off') return { preset, values: {}, detail: '' };
  if (preset === 'dns') {
    const name = pick(DOMAINS);
    const type = pick(['A', 'A', 'HTTPS'] as const);
    return { preset, values: { i1: `<r 2><b 0x${hex(dnsQueryAfterId(name, type, pick(EDNS_SIZES)))}>` }, detail: `${name} · ${type}` };
  }
  const dcid = pick([8, 8, 16, 20]);
  const scid = pick([0, 0, 8]);
  // Clients pad their first Initial to at least 1200 bytes (RFC 9000 §14.1).
  const total = Math.min(maxBytes, 1200 + random(53));
  return { preset, values: { i1: quicInitial(0xc0 | random(16), dcid, scid, total) }, detail: `Initial · ${total} B` };
}
