// Typed callback data: one codec per action, `prefix:field:field`, checked against
// Telegram's 64-byte limit when packed and validated field by field when unpacked.

type Field = 'int' | 'id' | 'name';
type Shape = Record<string, Field>;
type Values<S extends Shape> = { [K in keyof S]: S[K] extends 'int' ? number : string };

const FIELD_RE: Record<Field, RegExp> = { int: /^-?\d{1,20}$/, id: /^[A-Za-z0-9_-]{1,32}$/, name: /^[A-Za-z0-9_=+.-]{1,32}$/ };

export function codec<S extends Shape>(prefix: string, shape: S) {
  const keys = Object.keys(shape) as (keyof S & string)[];
  return {
    filter: new RegExp(`^${prefix}(:|$)`),
    pack(v: Values<S>): string {
      const data = [prefix, ...keys.map((k) => String(v[k]))].join(':');
      if (Buffer.byteLength(data) > 64) throw new Error(`callback data over 64 bytes: ${data}`);
      return data;
    },
    unpack(data: string | undefined): Values<S> | null {
      const parts = data?.split(':');
      if (!parts || parts[0] !== prefix || parts.length !== keys.length + 1) return null;
      const out: Record<string, string | number> = {};
      for (const [i, k] of keys.entries()) {
        const raw = parts[i + 1]!;
        if (!FIELD_RE[shape[k]!].test(raw)) return null;
        out[k] = shape[k] === 'int' ? Number(raw) : raw;
      }
      return out as Values<S>;
    },
  };
}

export const cb = {
  captcha: codec('cap', { nonce: 'id', answer: 'int' }),
  approve: codec('apr', { userId: 'int' }),
  reject: codec('rej', { userId: 'int' }),
  adminMenu: codec('adm', {}),
  pending: codec('pnd', {}),
  users: codec('usl', { page: 'int', sort: 'int' }),
  search: codec('srch', {}),
  top: codec('top', {}),
  banAsk: codec('ban', { userId: 'int' }),
  banYes: codec('bny', { userId: 'int' }),
  unban: codec('unb', { userId: 'int' }),
  chart: codec('cht', { userId: 'int' }),
  quotaMenu: codec('qmn', { userId: 'int' }),
  setQuota: codec('qta', { userId: 'int', gb: 'int' }),
  extend: codec('xpd', { userId: 'int', days: 'int' }),
  resetUsage: codec('qrs', { userId: 'int' }),
  liftLimits: codec('lft', { userId: 'int' }),
  maxDevices: codec('mxd', { userId: 'int', n: 'int' }),
  language: codec('lng', { locale: 'id' }),
  card: codec('usr', { userId: 'int' }),
  disable: codec('dis', { userId: 'int' }),
  enable: codec('ena', { userId: 'int' }),
  revokeAsk: codec('rvk', { userId: 'int' }),
  revokeYes: codec('rvy', { userId: 'int' }),
  // Broadcasts (src/bot/features/broadcast.ts).
  broadcastQuit: codec('bcq', {}),
  broadcastAudience: codec('bca', { id: 'int', audience: 'id' }),
  broadcastSend: codec('bcs', { id: 'int' }),
  broadcastDiscard: codec('bcd', { id: 'int' }),
  broadcastStop: codec('bcx', { id: 'int' }),
  // Invite links (src/bot/features/invites.ts). uses 0 = unlimited, days 0 = no expiry.
  inviteUses: codec('ivu', { nonce: 'id', uses: 'int' }),
  inviteCreate: codec('ivc', { nonce: 'id', uses: 'int', days: 'int' }),
  inviteQuit: codec('ivq', { nonce: 'id' }),
  invitesPage: codec('ivl', { page: 'int' }),
  inviteRevoke: codec('ivr', { id: 'id', page: 'int' }),
  // Devices (src/bot/features/devices.ts): user-level; each handler checks the device is the caller's own.
  devices: codec('dvl', {}),
  deviceAdd: codec('dva', {}),
  deviceConfig: codec('dvc', { id: 'int' }),
  deviceRename: codec('dvn', { id: 'int' }),
  deviceDeleteAsk: codec('dvd', { id: 'int' }),
  deviceDeleteYes: codec('dvy', { id: 'int' }),
  // Device requests (REQUIRE_APPROVAL_PER_DEVICE=on): admin-only, id = device_requests.id.
  deviceRequestApprove: codec('dra', { id: 'int' }),
  deviceRequestReject: codec('drr', { id: 'int' }),
  // VPN nodes (src/bot/features/nodes.ts): admin-only but location (a user's own choice).
  nodes: codec('ndl', {}),
  nodeDrain: codec('ndd', { node: 'name' }),
  nodeResume: codec('ndr', { node: 'name' }),
  nodeRemove: codec('ndx', { node: 'name' }),
  moveMenu: codec('mvm', { userId: 'int' }),
  moveTo: codec('mvt', { userId: 'int', node: 'name' }),
  location: codec('loc', { node: 'name' }),
  // Pending requests one at a time, and all at once (src/bot/features/requests.ts): admin-only.
  review: codec('rvw', {}),
  reviewApprove: codec('rva', { userId: 'int' }),
  reviewReject: codec('rvr', { userId: 'int' }),
  reviewSkip: codec('rvs', { userId: 'int' }),
  approveAllAsk: codec('apa', { upTo: 'int' }),
  approveAllYes: codec('apy', { upTo: 'int' }),
  approveAllNo: codec('apn', {}),
  // AmneziaWG imitation packets (src/bot/features/imitation.ts): admin-only. since = the switch the admin saw.
  imitation: codec('imi', {}),
  imitationSwitch: codec('ims', { preset: 'id' }),
  imitationResend: codec('imr', { since: 'int' }),
};

/** Prefixes only admins may use; anyone else pressing them is refused and logged. */
export const ADMIN_CALLBACKS = /^(apr|rej|adm|pnd|usl|usr|dis|ena|rvk|rvy|srch|top|ban|bny|unb|cht|qmn|qta|xpd|qrs|lft|mxd|bcq|bca|bcs|bcd|bcx|ivu|ivc|ivq|ivl|ivr|dra|drr|ndl|ndd|ndr|ndx|mvm|mvt|rvw|rva|rvr|rvs|apa|apy|apn|imi|ims|imr)(:|$)/;
