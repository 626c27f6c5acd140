import zlib from 'node:zlib';
import { formatHValue } from './params.js';
import type { AwgParams } from './types.js';

export interface AmneziaKeyInput {
  /** The client .conf text, exactly as delivered. */
  conf: string;
  host: string;
  port: number;
  dns: string[];
  description: string;
  clientIp: string;
  clientPrivateKey: string;
  clientPublicKey: string;
  serverPublicKey: string;
  presharedKey: string;
  mtu?: number | undefined;
  allowedIps: string[];
  awg: AwgParams;
}

// AmneziaVPN's default MTU for AWG configs, used when the .conf sets none.
const DEFAULT_MTU = 1376;

/** Every parameter as AmneziaVPN writes it: strings, I1–I5 only for protocol 2. */
function awgFields(p: AwgParams): Record<string, string> {
  const f: Record<string, string> = {
    Jc: String(p.jc),
    Jmin: String(p.jmin),
    Jmax: String(p.jmax),
    S1: String(p.s1),
    S2: String(p.s2),
    H1: formatHValue(p.h1),
    H2: formatHValue(p.h2),
    H3: formatHValue(p.h3),
    H4: formatHValue(p.h4),
  };
  if (p.protocol === 2) {
    f.S3 = String(p.s3 ?? 0);
    f.S4 = String(p.s4 ?? 0);
    for (const k of ['i1', 'i2', 'i3', 'i4', 'i5'] as const) if (p[k] !== undefined) f[k.toUpperCase()] = p[k]!;
  }
  return f;
}

/**
 * The `vpn://` key the AmneziaVPN app imports (amnezia-client exportController / importController):
 * base64url, without padding, of Qt's qCompress framing — a 4-byte big-endian length of the JSON
 * followed by its zlib stream. The container's last_config is itself a JSON string.
 */
export function amneziaKey(i: AmneziaKeyInput): string {
  const awg = awgFields(i.awg);
  const container = i.awg.protocol === 2 ? 'amnezia-awg2' : 'amnezia-awg';
  const lastConfig = {
    ...awg,
    config: i.conf,
    hostName: i.host,
    port: i.port,
    client_ip: i.clientIp,
    client_priv_key: i.clientPrivateKey,
    client_pub_key: i.clientPublicKey,
    server_pub_key: i.serverPublicKey,
    psk_key: i.presharedKey,
    mtu: String(i.mtu ?? DEFAULT_MTU),
    persistent_keep_alive: '25',
    allowed_ips: i.allowedIps,
    clientId: i.clientPublicKey,
  };
  const json = {
    hostName: i.host,
    description: i.description,
    dns1: i.dns[0] ?? '1.1.1.1',
    dns2: i.dns[1] ?? i.dns[0] ?? '1.0.0.1',
    defaultContainer: container,
    containers: [
      {
        container,
        awg: {
          ...awg,
          ...(i.awg.protocol === 2 ? { protocol_version: '2' } : {}),
          port: String(i.port),
          transport_proto: 'udp',
          last_config: JSON.stringify(lastConfig),
        },
      },
    ],
  };
  const raw = Buffer.from(JSON.stringify(json), 'utf8');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(raw.length);
  return `vpn://${Buffer.concat([header, zlib.deflateSync(raw, { level: 9 })]).toString('base64url')}`;
}

/** host and port from `host:port` or `[v6]:port`. */
export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(endpoint);
  if (!m) throw new Error(`endpoint must be host:port: ${endpoint}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
