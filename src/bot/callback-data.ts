// Typed callback data: one codec per action, `prefix:field:field`, checked against
// Telegram's 64-byte limit when packed and validated field by field when unpacked.

type Field = 'int' | 'id' | 'name';
type Shape = Record<string, Field>;
type Values<S extends Shape> = { [K in keyof S]: S[K] extends 'int' ? number : string };

const FIELD_RE: Record<Field, RegExp> = { int: /^-?\d{1,20}$/, id: /^[A-Za-z0-9_-]{1,32}$/, name: /^[A-Za-z0-9_=+.-]{1,32}$/ };

export function codec<S extends Shape>(prefix: string, shape: S, admin = false) {
  const keys = Object.keys(shape) as (keyof S & string)[];
  return {
    prefix,
    /** Only admins may press it: anyone else is refused before any feature sees the press. */
    admin,
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

/** setSpeed's mbit for DEFAULT_SPEED_MBIT and for no limit at all. */
export const SPEED_DEFAULT = -1;
export const SPEED_UNLIMITED = 0;

const adminCodec = <S extends Shape>(prefix: string, shape: S) => codec(prefix, shape, true);

export const cb = {
  captcha: codec('cap', { nonce: 'id', answer: 'int' }),
  approve: adminCodec('apr', { userId: 'int' }),
  reject: adminCodec('rej', { userId: 'int' }),
  adminMenu: adminCodec('adm', {}),
  pending: adminCodec('pnd', {}),
  users: adminCodec('usl', { page: 'int', sort: 'int' }),
  search: adminCodec('srch', {}),
  top: adminCodec('top', {}),
  banAsk: adminCodec('ban', { userId: 'int' }),
  banYes: adminCodec('bny', { userId: 'int' }),
  unban: adminCodec('unb', { userId: 'int' }),
  chart: adminCodec('cht', { userId: 'int' }),
  quotaMenu: adminCodec('qmn', { userId: 'int' }),
  setQuota: adminCodec('qta', { userId: 'int', gb: 'int' }),
  extend: adminCodec('xpd', { userId: 'int', days: 'int' }),
  resetUsage: adminCodec('qrs', { userId: 'int' }),
  liftLimits: adminCodec('lft', { userId: 'int' }),
  maxDevices: adminCodec('mxd', { userId: 'int', n: 'int' }),
  /** Days of validity that start at the user's first connection. */
  extendFromConnection: adminCodec('xpf', { userId: 'int', days: 'int' }),
  planMenu: adminCodec('pln', { userId: 'int' }),
  /** plan: a reset plan, or 'default' (DEFAULT_RESET_PLAN). */
  setPlan: adminCodec('pls', { userId: 'int', plan: 'id' }),
  topUp: adminCodec('tup', { userId: 'int', gb: 'int' }),
  // Speed limit: mbit both ways, or SPEED_DEFAULT / SPEED_UNLIMITED.
  speedMenu: adminCodec('spm', { userId: 'int' }),
  setSpeed: adminCodec('sps', { userId: 'int', mbit: 'int' }),
  language: codec('lng', { locale: 'id' }),
  card: adminCodec('usr', { userId: 'int' }),
  disable: adminCodec('dis', { userId: 'int' }),
  enable: adminCodec('ena', { userId: 'int' }),
  revokeAsk: adminCodec('rvk', { userId: 'int' }),
  revokeYes: adminCodec('rvy', { userId: 'int' }),
  // Broadcasts.
  broadcastQuit: adminCodec('bcq', {}),
  // arg: days, a node's name or a locale; '-' for an audience without one.
  broadcastAudience: adminCodec('bca', { id: 'int', audience: 'id', arg: 'name' }),
  broadcastSend: adminCodec('bcs', { id: 'int' }),
  broadcastDiscard: adminCodec('bcd', { id: 'int' }),
  broadcastStop: adminCodec('bcx', { id: 'int' }),
  // Invite links. uses 0 = unlimited, days 0 = no expiry.
  inviteUses: adminCodec('ivu', { nonce: 'id', uses: 'int' }),
  inviteCreate: adminCodec('ivc', { nonce: 'id', uses: 'int', days: 'int' }),
  inviteQuit: adminCodec('ivq', { nonce: 'id' }),
  invitesPage: adminCodec('ivl', { page: 'int' }),
  inviteRevoke: adminCodec('ivr', { id: 'id', page: 'int' }),
  // Devices: each handler checks the device is the caller's own.
  devices: codec('dvl', {}),
  deviceAdd: codec('dva', {}),
  deviceConfig: codec('dvc', { id: 'int' }),
  deviceRename: codec('dvn', { id: 'int' }),
  deviceDeleteAsk: codec('dvd', { id: 'int' }),
  deviceDeleteYes: codec('dvy', { id: 'int' }),
  // Device requests (REQUIRE_APPROVAL_PER_DEVICE=on): id = device_requests.id.
  deviceRequestApprove: adminCodec('dra', { id: 'int' }),
  deviceRequestReject: adminCodec('drr', { id: 'int' }),
  // VPN nodes; location is a user's own choice.
  nodes: adminCodec('ndl', {}),
  nodeDrain: adminCodec('ndd', { node: 'name' }),
  nodeResume: adminCodec('ndr', { node: 'name' }),
  nodeRemove: adminCodec('ndx', { node: 'name' }),
  moveMenu: adminCodec('mvm', { userId: 'int' }),
  moveTo: adminCodec('mvt', { userId: 'int', node: 'name' }),
  location: codec('loc', { node: 'name' }),
  // Pending requests one at a time, and all at once.
  review: adminCodec('rvw', {}),
  reviewApprove: adminCodec('rva', { userId: 'int' }),
  reviewReject: adminCodec('rvr', { userId: 'int' }),
  reviewSkip: adminCodec('rvs', { userId: 'int' }),
  approveAllAsk: adminCodec('apa', { upTo: 'int' }),
  approveAllYes: adminCodec('apy', { upTo: 'int' }),
  approveAllNo: adminCodec('apn', {}),
  // AmneziaWG imitation packets. since = the switch the admin saw.
  imitation: adminCodec('imi', {}),
  imitationSwitch: adminCodec('ims', { preset: 'id' }),
  imitationResend: adminCodec('imr', { since: 'int' }),
};

/** The data of every admin-only button, derived from the codecs' admin flag. */
export const ADMIN_CALLBACKS = new RegExp(`^(${Object.values(cb).filter((c) => c.admin).map((c) => c.prefix).join('|')})(:|$)`);
