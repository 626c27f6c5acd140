import { awgInterfaceLines, validateAwgParams } from './params.js';
import type { AwgParams, ClientSpec, ServerSpec, VpnFlavor, WirePeer } from './types.js';

const KEEPALIVE_SECONDS = 25;

// Every value comes from the database or config; a stray newline would inject config keys.
function kv(key: string, value: string | number): string {
  const s = String(value);
  if (s === '' || /[\r\n]/.test(s)) throw new Error(`Invalid value for ${key} in WireGuard config`);
  return `${key} = ${s}`;
}

function awgLines(flavor: VpnFlavor, awg: AwgParams | undefined): string[] {
  if (flavor === 'wireguard') return [];
  // AmneziaVPN treats a config as AWG only when all of Jc…H4 are present.
  if (!awg) throw new Error('AmneziaWG config requires AWG parameters');
  const problems = validateAwgParams(awg);
  if (problems.length > 0) throw new Error(`Invalid AWG parameters: ${problems.join('; ')}`);
  return awgInterfaceLines(awg);
}

function sections(...blocks: string[][]): string {
  return blocks.map((lines) => lines.join('\n')).join('\n\n') + '\n';
}

export function renderServerConfig(server: ServerSpec, peers: WirePeer[]): string {
  const iface = [
    '[Interface]',
    kv('PrivateKey', server.privateKey),
    kv('Address', server.address),
    kv('ListenPort', server.listenPort),
    ...awgLines(server.flavor, server.awg),
  ];
  if (server.postUp) iface.push(kv('PostUp', server.postUp));
  if (server.postDown) iface.push(kv('PostDown', server.postDown));
  return sections(iface, ...peers.map(peerLines));
}

const peerLines = (p: WirePeer): string[] => ['[Peer]', kv('PublicKey', p.publicKey), kv('PresharedKey', p.presharedKey), kv('AllowedIPs', `${p.ip}/32`)];

/** `[Peer]` sections only, as `<wg|awg> addconf` takes them: those peers are added or set to exactly this, the others stay. */
export function renderPeerSections(peers: WirePeer[]): string {
  if (peers.length === 0) throw new Error('no peers to render');
  return sections(...peers.map(peerLines));
}

export function renderClientConfig(c: ClientSpec): string {
  if (c.allowedIps.length === 0) throw new Error('Client config needs at least one AllowedIPs entry');
  const iface = ['[Interface]', kv('PrivateKey', c.privateKey), kv('Address', `${c.ip}/32`)];
  if (c.dns.length > 0) iface.push(kv('DNS', c.dns.join(', ')));
  if (c.mtu !== undefined) iface.push(kv('MTU', c.mtu));
  iface.push(...awgLines(c.flavor, c.awg));
  const peer = [
    '[Peer]',
    kv('PublicKey', c.serverPublicKey),
    kv('PresharedKey', c.presharedKey),
    kv('Endpoint', c.endpoint),
    kv('AllowedIPs', c.allowedIps.join(', ')),
    kv('PersistentKeepalive', KEEPALIVE_SECONDS),
  ];
  return sections(iface, peer);
}

const TUNNEL_NAME_MAX = 15;
const FILE_PREFIX = 'andreyvpn';
const CYRILLIC: Record<string, string> = Object.fromEntries(
  'а:a б:b в:v г:g д:d е:e ё:e ж:zh з:z и:i й:y к:k л:l м:m н:n о:o п:p р:r с:s т:t у:u ф:f х:h ц:ts ч:ch ш:sh щ:sch ъ: ы:y ь: э:e ю:yu я:ya і:i ї:yi є:ye ґ:g'
    .split(' ')
    .map((pair) => pair.split(':') as [string, string]),
);

/**
 * WireGuard/AmneziaWG apps name the tunnel after the file, and the name must be ≤ 15 chars of
 * [a-zA-Z0-9_=+.-]. The fixed prefix keeps names recognisable and clear of Windows' reserved
 * names (CON, NUL, …); Cyrillic device names are transliterated rather than dropped.
 */
export function clientConfigFileName(name: string): string {
  const slug = [...name.toLowerCase()]
    .map((ch) => CYRILLIC[ch] ?? ch)
    .join('')
    .replace(/[^a-z0-9_=+.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+/, '')
    .slice(0, TUNNEL_NAME_MAX - FILE_PREFIX.length - 1)
    .replace(/[-.]+$/, '');
  return `${slug ? `${FILE_PREFIX}-${slug}` : FILE_PREFIX}.conf`;
}
