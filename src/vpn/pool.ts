export interface Subnet {
  network: number;
  prefix: number;
  size: number;
}

const OCTET_RE = /^(0|[1-9][0-9]{0,2})$/;

// Leading zeros are rejected: some tools read "010" as octal, so the meaning would be ambiguous.
export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`Invalid IPv4 address: ${JSON.stringify(ip)}`);
  let n = 0;
  for (const part of parts) {
    const octet = OCTET_RE.test(part) ? Number(part) : NaN;
    if (!(octet <= 255)) throw new Error(`Invalid IPv4 address: ${JSON.stringify(ip)}`);
    n = n * 256 + octet;
  }
  return n;
}

export function intToIp(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`Invalid IPv4 integer: ${n}`);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * IPv4 only. A CIDR with host bits set (10.8.0.1/24) is rejected rather than normalized, so a
 * typo cannot silently move the pool. /31 and /32 are rejected: they leave no room for a server
 * address plus at least one client.
 */
export function parseSubnet(cidr: string): Subnet {
  const m = /^([0-9.]+)\/(0|[1-9][0-9]?)$/.exec(cidr.trim());
  if (!m) throw new Error(`Invalid IPv4 CIDR (expected a.b.c.d/prefix): ${JSON.stringify(cidr)}`);
  const ip = ipToInt(m[1]!);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new Error(`Invalid prefix length /${prefix} in ${cidr}`);
  if (prefix > 30) throw new Error(`Subnet ${cidr} is too small: need at least /30 for a server and a client`);
  const size = 2 ** (32 - prefix);
  const network = ip - (ip % size);
  if (network !== ip) {
    throw new Error(`Subnet ${cidr} has host bits set; did you mean ${intToIp(network)}/${prefix}?`);
  }
  return { network, prefix, size };
}

export function serverAddress(cidr: string): string {
  return intToIp(parseSubnet(cidr).network + 1);
}

export function serverAddressWithPrefix(cidr: string): string {
  const { network, prefix } = parseSubnet(cidr);
  return `${intToIp(network + 1)}/${prefix}`;
}

/** Client addresses: everything except network, server (network+1) and broadcast. */
export function poolCapacity(cidr: string): number {
  return parseSubnet(cidr).size - 3;
}

/** The n-th client address of the pool (0: the one after the server's), null past its end. */
export function clientAddress(cidr: string, n: number): string | null {
  const { network, size } = parseSubnet(cidr);
  const ip = network + 2 + n;
  return ip <= network + size - 2 ? intToIp(ip) : null;
}

/** The lowest free client address, null when the pool is full. */
export function nextFreeIp(cidr: string, used: Iterable<string>): string | null {
  const { network, size } = parseSubnet(cidr);
  const taken = new Set<number>();
  for (const ip of used) taken.add(ipToInt(ip));
  const last = network + size - 2; // broadcast excluded
  for (let n = network + 2; n <= last; n++) {
    if (!taken.has(n)) return intToIp(n);
  }
  return null;
}
