import path from 'node:path';
import { type Check, errorText, fail, pass, warn } from './check.js';
import { type DoctorEnv, exists, findOnPath } from './host.js';

const ifaceExists = (denv: DoctorEnv, iface: string) => exists(denv, path.join(denv.paths.sysClassNet, iface));

export const checkInterface: Check = async (denv, config) => {
  const { iface } = config.vpn;
  if (await ifaceExists(denv, iface)) return pass('interface', `${iface} is up`);
  // Not a failure: on start the bot writes the config and runs *-quick up itself.
  return warn('interface', `${iface} is down (the bot brings it up on start)`);
};

export const checkIpForward: Check = async (denv) => {
  const fix = 'sysctl -w net.ipv4.ip_forward=1, and persist it: echo net.ipv4.ip_forward=1 > /etc/sysctl.d/99-andreyvpn.conf';
  let value: string;
  try {
    value = (await denv.readFile(denv.paths.ipForward)).trim();
  } catch (e) {
    return fail('ip_forward', `cannot read ${denv.paths.ipForward}: ${errorText(e)}`, fix);
  }
  if (value === '1') return pass('ip_forward', 'on');
  return fail('ip_forward', `net.ipv4.ip_forward is ${value || 'empty'}: clients cannot reach the internet through the server`, fix);
};

/** 10.8.0.7/24 → 10.8.0.0/24, the form iptables prints. */
export function networkOf(cidr: string): string {
  const [ip = '', prefixText = '32'] = cidr.split('/');
  const prefix = Number(prefixText);
  const n = ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  const mask = prefix === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - prefix)) - 1n);
  const net = n & mask;
  return `${[24n, 16n, 8n, 0n].map((s) => (net >> s) & 255n).join('.')}/${prefix}`;
}

export const checkNat: Check = async (denv, config) => {
  const { nat, subnet, iface } = config.vpn;
  if (!nat) return pass('nat', 'off (VPN_NAT=off)');
  const iptables = await findOnPath(denv, 'iptables');
  if (!iptables) return fail('nat', 'iptables not found on PATH (VPN_NAT=on needs it)', 'apt-get install iptables');
  let rules: string;
  try {
    rules = await denv.run(iptables, ['-t', 'nat', '-S', 'POSTROUTING']);
  } catch (e) {
    return fail('nat', `cannot list NAT rules: ${errorText(e)}`, 'run this check as root (sudo npm run doctor)');
  }
  const source = networkOf(subnet);
  const found = rules
    .split('\n')
    .some((l) => /\s-j MASQUERADE\b/.test(l) && l.split(/\s+/).some((w, i, all) => w === '-s' && all[i + 1] === source));
  if (found) return pass('nat', `MASQUERADE for ${source}`);
  // The bot's PostUp adds the rule when it brings the interface up; before that, missing is expected.
  if (!(await ifaceExists(denv, iface))) return warn('nat', `no MASQUERADE rule for ${source} yet (added by PostUp when the bot brings ${iface} up)`);
  return fail(
    'nat',
    `no MASQUERADE rule for ${source} while ${iface} is up: clients have no internet`,
    `iptables -t nat -A POSTROUTING -s ${source} -o <WAN interface, e.g. eth0> -j MASQUERADE (or set VPN_WAN_INTERFACE and restart ${iface})`,
  );
};

/** Local ports in /proc/net/udp{,6} text. */
export function parseUdpPorts(text: string): Set<number> {
  const ports = new Set<number>();
  for (const line of text.split('\n').slice(1)) {
    const local = line.trim().split(/\s+/)[1];
    const hex = local?.split(':').pop();
    if (hex && /^[0-9A-Fa-f]{4}$/.test(hex)) ports.add(parseInt(hex, 16));
  }
  return ports;
}

export const checkUdpPort: Check = async (denv, config) => {
  const { port, iface } = config.vpn;
  const name = 'udp port';
  let bound = false;
  let readable = 0;
  for (const file of denv.paths.procNetUdp) {
    try {
      if (parseUdpPorts(await denv.readFile(file)).has(port)) bound = true;
      readable++;
    } catch {
      // udp6 is absent when IPv6 is disabled
    }
  }
  if (readable === 0) return warn(name, `cannot read ${denv.paths.procNetUdp.join(' or ')}; port ${port} not checked`);
  const ours = await ifaceExists(denv, iface);
  if (!bound) {
    if (ours) return warn(name, `${iface} is up but nothing listens on UDP ${port} (was VPN_PORT changed after the first start?)`);
    return pass(name, `UDP ${port} is free`);
  }
  if (ours) return pass(name, `UDP ${port} is bound by ${iface}`);
  return fail(name, `port ${port} is used by another program`, `find it with ss -ulpn 'sport = :${port}' and stop it, or set VPN_PORT to a free port`);
};
