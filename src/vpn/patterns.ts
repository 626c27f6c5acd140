// The shapes of the names and values the VPN side accepts, shared by config.ts (environment),
// nodes.ts (the nodes file, /nodes add) and the argv checks; one definition each.

/** 32 bytes in standard base64: 43 characters, the last one carrying 2 bits, and '='; unanchored, for larger patterns. */
export const WG_KEY_PATTERN = '[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=';
// wg accepts only this canonical form, so a key that passes is one wg takes.
export const WG_KEY_RE = new RegExp(`^${WG_KEY_PATTERN}$`);

/** wg-quick's rule for interface names (also the tunnel name the client apps derive from a file name). */
export const IFACE_RE = /^[a-zA-Z0-9_=+.-]{1,15}$/;
export const NODE_NAME_RE = /^[a-zA-Z0-9_=+.-]{1,32}$/;
/** A host name or [IPv6], with an optional port. */
export const HOST_RE = /^(?:\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+)(?::(\d{1,5}))?$/;

export function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

export function isIpv4Cidr(s: string, maxPrefix = 32): boolean {
  const [ip, prefix, ...rest] = s.split('/');
  return rest.length === 0 && !!ip && isIpv4(ip) && !!prefix && /^\d{1,2}$/.test(prefix) && Number(prefix) <= maxPrefix;
}
