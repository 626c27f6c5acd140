import type { Peer } from '../db/schema.js';
import { openSecret, type SecretBox } from './secrets.js';

export type VpnFlavor = 'amneziawg' | 'wireguard';

/** Returns an integer in [0, maxExclusive). */
export type RandomInt = (maxExclusive: number) => number;
export type AwgProtocol = 1 | 2;

/** A value or an inclusive range; AWG 2.0 allows `H1 = 100-200`. */
export type HValue = number | { min: number; max: number };

/**
 * AmneziaWG obfuscation parameters. Protocol 1 uses Jc..H4 (H as plain numbers);
 * protocol 2 adds S3, S4, I1..I5 and allows H ranges.
 */
export interface AwgParams {
  protocol: AwgProtocol;
  jc: number;
  jmin: number;
  jmax: number;
  s1: number;
  s2: number;
  s3?: number;
  s4?: number;
  h1: HValue;
  h2: HValue;
  h3: HValue;
  h4: HValue;
  /** I1..I5 special-junk tags (protocol 2); undefined = not set. */
  i1?: string;
  i2?: string;
  i3?: string;
  i4?: string;
  i5?: string;
}

/** One node's VPN: the node's row and the settings every node shares. */
export interface VpnSettings {
  /** The node's name: the key of its peers and server keys in the database. */
  node: string;
  flavor: VpnFlavor;
  iface: string;
  configDir: string;
  endpoint: string;
  port: number;
  subnet: string;
  dns: string[];
  allowedIps: string[];
  mtu?: number | undefined;
  awgProtocol: AwgProtocol;
  /** Remove peers on the interface that the database never knew (e.g. added by hand). */
  removeUnknown?: boolean;
  /** Write NAT rules (PostUp/PostDown) into the server config. */
  nat?: boolean;
  /** Outgoing interface for NAT; the default route's when unset. */
  wanInterface?: string | undefined;
  /** Own PostUp/PostDown lines instead of the generated NAT rules. */
  postUp?: string | undefined;
  postDown?: string | undefined;
  /** How long after a peer change the server config file catches up; default CONFIG_WRITE_DELAY_MS. */
  configWriteDelayMs?: number;
  /** DEFAULT_SPEED_MBIT: the speed of users without their own; unset = unlimited. */
  defaultSpeed?: Speed | undefined;
}

/** kbit/s per direction; null = unlimited. */
export interface Speed {
  downKbit: number | null;
  upKbit: number | null;
}

export interface KeyPair {
  privateKey: string; // base64, 32 bytes
  publicKey: string; // base64, 32 bytes
}

export interface ServerSpec {
  flavor: VpnFlavor;
  privateKey: string;
  /** Server address with prefix, e.g. 10.8.0.1/24 */
  address: string;
  listenPort: number;
  awg?: AwgParams; // only for amneziawg
  /** Run by *-quick after the interface is up / before it goes down (NAT rules). */
  postUp?: string;
  postDown?: string;
}

/** A peer as the interface and the server config take it: the preshared key in clear. */
export interface WirePeer {
  publicKey: string;
  presharedKey: string;
  /** Peer address without prefix, e.g. 10.8.0.2 */
  ip: string;
}

/** A stored peer as the interface takes it; its preshared key is opened with SECRETS_KEY when sealed. */
export function toWire(peer: Pick<Peer, 'public_key' | 'preshared_key' | 'ip'>, secrets?: SecretBox): WirePeer {
  return { publicKey: peer.public_key, presharedKey: openSecret(secrets, peer.preshared_key), ip: peer.ip };
}

export interface ClientSpec {
  flavor: VpnFlavor;
  privateKey: string;
  /** Peer address without prefix; rendered as ip/32 */
  ip: string;
  dns: string[];
  mtu?: number;
  awg?: AwgParams;
  serverPublicKey: string;
  presharedKey: string;
  /** host:port */
  endpoint: string;
  allowedIps: string[];
}

export interface DumpInterface {
  privateKey: string;
  publicKey: string;
  listenPort: number;
  fwmark: string;
  /** Everything between listen-port and fwmark, raw (AWG parameters), in order. */
  extra: string[];
}

export interface DumpPeer {
  publicKey: string;
  presharedKey: string | null;
  endpoint: string | null;
  allowedIps: string[];
  /** epoch seconds, null when never */
  latestHandshake: number | null;
  /** bytes received by the server from this peer (uploaded by the client) */
  rx: number;
  /** bytes sent by the server to this peer (downloaded by the client) */
  tx: number;
  keepalive: number | null;
}

export interface Dump {
  iface: DumpInterface;
  peers: DumpPeer[];
}
