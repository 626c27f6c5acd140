import fs from 'node:fs/promises';
import { z } from 'zod';
import type { NodeRow } from '../db/nodes.js';
import { HOST_RE, IFACE_RE, isIpv4Cidr, NODE_NAME_RE } from './patterns.js';
import { parseHostKeyPin } from './ssh-host-key.js';
import type { VpnFlavor, VpnSettings } from './types.js';

// A VPN node as an admin writes it: in the nodes file (a JSON array of these objects) or after
// `/nodes add` as key=value words. Pure: parsing and validation only.

const SSH_RE = /^(?:([a-z_][a-z0-9_.-]{0,31})@)?([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/;

function validHostKey(s: string): boolean {
  try {
    parseHostKeyPin(s);
    return true;
  } catch {
    return false;
  }
}

export const NodeSpecSchema = z
  .object({
    name: z.string().regex(NODE_NAME_RE, 'name: 1-32 of a-z A-Z 0-9 _ = + . -'),
    location: z.string().trim().min(1).max(64).optional(),
    /** `local`, or `[user@]host[:port]` reached over SSH. */
    ssh: z.string().regex(new RegExp(`^local$|${SSH_RE.source}`), 'ssh: local or [user@]host[:port]'),
    /** Private key file for SSH (absolute path); default SSH_KEY_FILE. */
    key: z.string().startsWith('/', 'key: an absolute path').optional(),
    /** The node's host key, pinned: its .pub line, or the fingerprint `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints. */
    hostkey: z
      .string()
      .refine(validHostKey, 'hostkey: the .pub line (ssh-ed25519 AAAA…) or SHA256:… (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)')
      .optional(),
    flavor: z.enum(['amneziawg', 'wireguard']).optional(),
    iface: z.string().regex(IFACE_RE, 'iface: 1-15 of a-z A-Z 0-9 _ = + . -').optional(),
    endpoint: z.string().regex(HOST_RE, 'endpoint: host or host:port'),
    port: z.coerce.number().int().min(1).max(65535).optional(),
    subnet: z.string().refine((s) => isIpv4Cidr(s, 30), 'subnet: an IPv4 CIDR like 10.9.0.0/24'),
    /** Directory of `<iface>.conf` on the node; default by flavor. */
    dir: z.string().startsWith('/', 'dir: an absolute path').optional(),
    /** SSH nodes: the bot's own directory on the node (logs of *-quick, short-lived key files). */
    state: z.string().startsWith('/', 'state: an absolute path').optional(),
  })
  .strict()
  .refine((n) => n.ssh === 'local' || n.hostkey, { message: 'hostkey: required for an SSH node (the host key is pinned)', path: ['hostkey'] });

export type NodeSpec = z.infer<typeof NodeSpecSchema>;

export interface NodeDefaults {
  flavor: VpnFlavor;
  sshKeyFile: string;
}

export const defaultIface = (flavor: VpnFlavor) => (flavor === 'wireguard' ? 'wg0' : 'awg0');
export const defaultConfigDir = (flavor: VpnFlavor) => (flavor === 'wireguard' ? '/etc/wireguard' : '/etc/amnezia/amneziawg');

/** Validates a spec; errors name every bad field. */
export function parseNodeSpec(input: unknown, defaults: NodeDefaults, now: number): { ok: true; node: NodeRow } | { ok: false; problems: string[] } {
  const parsed = NodeSpecSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => (i.code === 'unrecognized_keys' ? `unknown: ${i.keys.join(', ')}` : i.message)) };
  }
  const s = parsed.data;
  const flavor = s.flavor ?? defaults.flavor;
  const port = s.port ?? 51820;
  const remote = s.ssh === 'local' ? null : SSH_RE.exec(s.ssh)!;
  const endpointHasPort = /:\d{1,5}$/.test(s.endpoint) && (!s.endpoint.includes('[') || s.endpoint.includes(']:'));
  return {
    ok: true,
    node: {
      name: s.name,
      location: s.location ?? s.name,
      ssh_host: remote ? remote[2]!.replace(/^\[|\]$/g, '') : null,
      ssh_port: remote ? Number(remote[3] ?? 22) : null,
      ssh_user: remote ? (remote[1] ?? 'root') : null,
      ssh_key_file: remote ? (s.key ?? defaults.sshKeyFile) : null,
      ssh_host_key: remote ? s.hostkey! : null,
      flavor,
      iface: s.iface ?? defaultIface(flavor),
      endpoint: endpointHasPort ? s.endpoint : `${s.endpoint}:${port}`,
      listen_port: port,
      subnet: s.subnet,
      config_dir: s.dir ?? defaultConfigDir(flavor),
      state_dir: remote ? (s.state ?? '/var/lib/andreyvpn') : null,
      created_at: now,
    },
  };
}

/** `key=value` words, a value with spaces in double quotes: `name=ams location="New York" …`. */
export function parseKeyValues(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const rest = text.replace(/([a-z]+)=(?:"([^"]*)"|(\S+))/g, (_m, k: string, quoted?: string, bare?: string) => {
    out[k] = quoted ?? bare ?? '';
    return '';
  });
  const stray = rest.trim();
  return stray ? `not key=value: ${stray.split(/\s+/)[0]}` : out;
}

/** The nodes file: a JSON array of node specs. Throws naming every bad entry, and every clash with each other or with `others` (the local node). */
export async function readNodesFile(file: string, defaults: NodeDefaults, now: number, others: NodeRow[] = []): Promise<NodeRow[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`NODES_FILE ${file}: ${(e as Error).message}`);
  }
  return parseNodesFile(text, file, defaults, now, others);
}

export function parseNodesFile(text: string, file: string, defaults: NodeDefaults, now: number, others: NodeRow[] = []): NodeRow[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`NODES_FILE ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new Error(`NODES_FILE ${file}: must be a JSON array of nodes`);
  const rows: NodeRow[] = [];
  const problems: string[] = [];
  data.forEach((entry, i) => {
    const r = parseNodeSpec(entry, defaults, now);
    if (r.ok) rows.push(r.node);
    else problems.push(`node ${i + 1}: ${r.problems.join('; ')}`);
  });
  const names = rows.map((r) => r.name);
  for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i))) problems.push(`node name ${dup} is used twice`);
  problems.push(...nodeClashes([...others, ...rows]));
  if (problems.length) throw new Error(`NODES_FILE ${file}:\n  - ${problems.join('\n  - ')}`);
  return rows;
}

const machineOf = (n: NodeRow) => (n.ssh_host === null ? 'this host' : n.ssh_host.toLowerCase());

/**
 * Two nodes that would be one: on one machine (the same host; a host under two names is not caught) with
 * the same interface (the second would overwrite the first's <iface>.conf and keys, and reconcile
 * would remove each other's peers) or the same UDP port (the second cannot listen).
 */
export function nodeClash(a: NodeRow, b: NodeRow): string | null {
  if (machineOf(a) !== machineOf(b)) return null;
  const shared = a.iface === b.iface ? `interface ${a.iface}` : a.listen_port === b.listen_port ? `port ${a.listen_port}` : null;
  return shared && `nodes ${a.name} and ${b.name} are on one machine (${machineOf(a)}) with the same ${shared}: give each node its own interface and port`;
}

export function nodeClashes(rows: NodeRow[]): string[] {
  return rows.flatMap((a, i) => rows.slice(i + 1).flatMap((b) => nodeClash(a, b) ?? []));
}

/** The row of a node on this host (the VPN_* variables): no SSH, its settings as configured. */
export function localNodeRow(v: Pick<VpnSettings, 'node' | 'flavor' | 'iface' | 'endpoint' | 'port' | 'subnet' | 'configDir'> & { location?: string }, now: number): NodeRow {
  return {
    name: v.node,
    location: v.location ?? v.node,
    ssh_host: null,
    ssh_port: null,
    ssh_user: null,
    ssh_key_file: null,
    ssh_host_key: null,
    flavor: v.flavor,
    iface: v.iface,
    endpoint: v.endpoint,
    listen_port: v.port,
    subnet: v.subnet,
    config_dir: v.configDir,
    state_dir: null,
    created_at: now,
  };
}
