import { IFACE_RE } from './patterns.js';

const CIDR_RE = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

/**
 * PostUp/PostDown lines for the server config: masquerade the VPN subnet out of the WAN
 * interface and let forwarded traffic through, so clients reach the internet. wg-quick runs
 * them with bash, so every value is checked against a strict pattern first.
 */
export function natRules(subnet: string, iface: string, wan: string): { postUp: string; postDown: string } {
  if (!CIDR_RE.test(subnet) || !IFACE_RE.test(iface) || !IFACE_RE.test(wan)) throw new Error('refusing to build NAT rules from unexpected values');
  const rules = (op: '-A' | '-D') =>
    [
      `iptables -t nat ${op} POSTROUTING -s ${subnet} -o ${wan} -j MASQUERADE`,
      `iptables ${op} FORWARD -i ${iface} -j ACCEPT`,
      `iptables ${op} FORWARD -o ${iface} -j ACCEPT`,
    ].join('; ');
  return { postUp: rules('-A'), postDown: rules('-D') };
}

/** The interface of the IPv4 default route from `ip -4 route show default`, or null. */
export function parseDefaultRoute(text: string): string | null {
  const m = /^default\b.*?\bdev (\S+)/m.exec(text);
  return m && IFACE_RE.test(m[1]!) ? m[1]! : null;
}
