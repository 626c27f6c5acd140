import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { getServer, insertServerOnce } from '../db/misc.js';
import { allocatePeer, deletePeer, movePeerRow, removedKeys, resetBaselines, wirePeersOnNode, withAddresses } from '../db/peers.js';
import type { Peer, Server } from '../db/schema.js';
import type { PeerOnWire, VpnRunner } from './runner.js';
import { parseDump } from './dump.js';
import type { ImitationValues } from './imitation.js';
import { generateKeyPair, generatePresharedKey } from './keys.js';
import { generateAwgParams, validateAwgParams } from './params.js';
import { amneziaKey, splitEndpoint } from './amnezia-key.js';
import { natRules } from './nat.js';
import { freeIp, serverAddressWithPrefix, type UsedAddresses } from './pool.js';
import { renderClientConfig, renderServerConfig } from './render.js';
import { openSecret, type SecretBox, sealSecret } from './secrets.js';
import type { AwgParams, AwgProtocol, Dump, VpnFlavor } from './types.js';

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
}

/**
 * A peer change is live at once (one `set` call); the config file, which lists every peer, is
 * rewritten this long afterwards, once for all the changes made meanwhile. Nothing reads the file
 * in between: start() rewrites it from the database before it could bring an interface up from it.
 */
export const CONFIG_WRITE_DELAY_MS = 1000;
/** Missing peers go onto the interface this many per `addconf` call (start, a restored interface). */
export const PEERS_PER_CALL = 1000;

export class PoolExhaustedError extends Error {
  constructor(subnet: string) {
    super(`no free address left in ${subnet}`);
    this.name = 'PoolExhaustedError';
  }
}

/** addPeer with a device limit: the user is not active, or already has that many devices. */
export class DeviceRefusedError extends Error {
  constructor() {
    super('device refused: user not active or at the device limit');
    this.name = 'DeviceRefusedError';
  }
}

export interface ReconcileResult {
  added: string[];
  removed: string[];
  /** On the interface, never known to the database; kept unless removeUnknown. */
  unknown: string[];
}

/**
 * Keeps the live interface equal to the database. The DB is the source of truth:
 * every change is written there first, then applied with O(1) `set peer` calls,
 * and the server config file follows (see CONFIG_WRITE_DELAY_MS) so a restart keeps the peers.
 */
export class VpnService {
  private server?: Server;
  private hooks: { postUp?: string | undefined; postDown?: string | undefined } = {};
  private writeChain: Promise<void> = Promise.resolve();
  /** A change the config file does not show yet; its rewrite is scheduled (configTimer) or failed. */
  private configDirty = false;
  private configTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly runner: VpnRunner,
    readonly settings: VpnSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** Seals the keys it stores and opens the ones it reads, when SECRETS_KEY is set (sealStoredKeys ran first). */
    private readonly secrets?: SecretBox,
  ) {}

  private open(stored: string): string {
    return openSecret(this.secrets, stored);
  }

  /** A peer as the interface takes it: the preshared key in clear. */
  private wire(p: Pick<Peer, 'public_key' | 'preshared_key' | 'ip'>): PeerOnWire {
    return { publicKey: p.public_key, presharedKey: this.open(p.preshared_key), ip: p.ip };
  }

  get confPath(): string {
    return path.join(this.settings.configDir, `${this.settings.iface}.conf`);
  }

  /** Generates the server keys and obfuscation parameters once and stores them. */
  async ensureServer(): Promise<Server> {
    const { node, iface, flavor, subnet, port, awgProtocol } = this.settings;
    let server = await getServer(this.db, node);
    if (!server) {
      const keys = generateKeyPair();
      const awg = flavor === 'amneziawg' ? generateAwgParams(awgProtocol) : null;
      server = await insertServerOnce(this.db, {
        node,
        private_key: sealSecret(this.secrets, keys.privateKey),
        public_key: keys.publicKey,
        address: serverAddressWithPrefix(subnet),
        listen_port: port,
        awg_params: awg ? JSON.stringify(awg) : null,
        created_at: this.now(),
      });
      this.log.info({ node, iface, publicKey: server.public_key }, 'generated server keys');
    }
    const awg = this.awgParamsOf(server);
    if (awg) {
      const problems = validateAwgParams(awg);
      if (problems.length) throw new Error(`stored AmneziaWG parameters are invalid: ${problems.join('; ')}`);
    }
    this.server = server;
    return server;
  }

  private awgParamsOf(server: Server): AwgParams | undefined {
    return this.settings.flavor === 'amneziawg' && server.awg_params ? (JSON.parse(server.awg_params) as AwgParams) : undefined;
  }

  private requireServer(): Server {
    if (!this.server) throw new Error('VpnService.start() was not called');
    return this.server;
  }

  /**
   * On every start: config file written, interface up, live peers reconciled. A missing interface
   * comes up from the config without its peers, then gets them in a few `addconf` calls: *-quick
   * would add them one at a time (and check a route for each), which takes seconds per thousand.
   */
  async start(): Promise<ReconcileResult> {
    await this.ensureServer();
    this.hooks = await this.natHooks();
    if ((await this.runner.ifindex(this.settings.iface)) === null) {
      this.log.info({ conf: this.confPath }, 'bringing the interface up');
      await this.writeServerConfig({ peers: false });
      await this.runner.up(this.confPath);
    }
    await this.writeServerConfig();
    return this.reconcile(parseDump(await this.runner.dump(this.settings.iface)));
  }

  private async natHooks(): Promise<{ postUp?: string | undefined; postDown?: string | undefined }> {
    const s = this.settings;
    if (s.postUp || s.postDown) return { postUp: s.postUp, postDown: s.postDown };
    if (!s.nat) return {};
    const wan = s.wanInterface ?? (await this.runner.defaultRouteInterface());
    if (!wan) {
      this.log.warn('no IPv4 default route: NAT rules not written (set VPN_WAN_INTERFACE or VPN_NAT=off)');
      return {};
    }
    return natRules(s.subnet, s.iface, wan);
  }

  /** Rewrites `<iface>.conf` (0600, atomically); writes are serialized so the last one reflects the latest DB state. */
  writeServerConfig(opts: { peers: boolean } = { peers: true }): Promise<void> {
    const next = this.writeChain.then(async () => {
      const server = this.requireServer();
      const peers = opts.peers ? await wirePeersOnNode(this.db, this.settings.node, 'active') : [];
      const text = renderServerConfig(
        { flavor: this.settings.flavor, privateKey: this.open(server.private_key), address: server.address, listenPort: server.listen_port, awg: this.awgParamsOf(server), ...this.hooks },
        peers.map((p) => this.wire(p)),
      );
      await this.runner.writeConfig(this.confPath, text);
    });
    this.writeChain = next.catch(() => {});
    return next;
  }

  /** The interface changed: the config file follows after configWriteDelayMs, one rewrite for every change until then. */
  private configChanged(): void {
    this.configDirty = true;
    this.configTimer ??= setTimeout(() => {
      this.configTimer = undefined;
      this.flushConfig().catch((err) => this.log.error({ err, conf: this.confPath }, 'could not rewrite the server config; retried at the next change and monitor tick'));
    }, this.settings.configWriteDelayMs ?? CONFIG_WRITE_DELAY_MS);
  }

  /** Rewrites the config file now if it lags behind the database (at stop, and at each monitor tick after a failed write). */
  async flushConfig(): Promise<void> {
    clearTimeout(this.configTimer);
    this.configTimer = undefined;
    if (!this.configDirty) return this.writeChain;
    this.configDirty = false;
    try {
      await this.writeServerConfig();
    } catch (e) {
      this.configDirty = true;
      throw e;
    }
  }

  /**
   * Allocates keys and an address, stores the peer, adds it to the live interface. Nothing is left behind on failure.
   * With maxDevices: stored only while the user is active and below that many peers (one conditional
   * insert, so concurrent adds cannot pass it); otherwise DeviceRefusedError.
   */
  async addPeer(userId: number, opts: { name?: string | null; maxDevices?: number } = {}): Promise<Peer> {
    const { node, iface } = this.settings;
    const keys = generateKeyPair();
    const row = { user_id: userId, node, public_key: keys.publicKey, private_key: sealSecret(this.secrets, keys.privateKey), preshared_key: sealSecret(this.secrets, generatePresharedKey()), name: opts.name ?? null };
    // Allocations take turns in the database, so concurrent approvals (several replicas) never collide on an address.
    const peer = await allocatePeer(this.db, node, async (used) => ({ ...row, ip: await this.freeAddress(used) }), this.now(), opts.maxDevices);
    if (!peer) throw new DeviceRefusedError();
    try {
      await this.runner.setPeer(iface, this.wire(peer));
    } catch (e) {
      await deletePeer(this.db, peer, this.now());
      // Best effort: if this fails too, the next reconcile removes the peer the DB no longer has.
      await this.runner.removePeer(iface, peer.public_key).catch(() => {});
      throw e;
    }
    this.configChanged();
    this.log.info({ node, userId, ip: peer.ip, publicKey: peer.public_key }, 'peer added');
    return peer;
  }

  private async freeAddress(used: UsedAddresses): Promise<string> {
    const ip = await freeIp(this.settings.subnet, used);
    if (!ip) throw new PoolExhaustedError(this.settings.subnet);
    return ip;
  }

  /** Takes over a peer from another node: same keys, the next free address here, live before this returns. */
  async adopt(peer: Peer): Promise<Peer> {
    const { node } = this.settings;
    const moved = await withAddresses(this.db, node, async (trx, used) => {
      const row = await movePeerRow(trx, peer, node, await this.freeAddress(used), this.now());
      if (!row) throw new Error(`peer ${peer.id} is no longer on node ${peer.node}`);
      return row;
    });
    try {
      if (moved.status === 'active') await this.runner.setPeer(this.settings.iface, this.wire(moved));
    } catch (e) {
      await withAddresses(this.db, peer.node, (trx) => movePeerRow(trx, moved, peer.node, peer.ip, this.now())).catch(() => {});
      throw e;
    }
    this.configChanged();
    this.log.info({ node, from: peer.node, ip: moved.ip, publicKey: moved.public_key }, 'peer moved here');
    return moved;
  }

  /** Applies a peer's current DB state to the interface. */
  async apply(peer: Pick<Peer, 'public_key' | 'preshared_key' | 'ip'>, present: boolean): Promise<void> {
    if (present) await this.runner.setPeer(this.settings.iface, this.wire(peer));
    else await this.runner.removePeer(this.settings.iface, peer.public_key);
    this.configChanged();
  }

  /**
   * Adds active DB peers missing from the interface (or set up differently) and removes the
   * disabled and deleted ones. Peers never known to the database are only reported, unless
   * removeUnknown. Peers already right are not touched, so connected clients are undisturbed.
   */
  async reconcile(dump: Dump): Promise<ReconcileResult> {
    const { node, iface } = this.settings;
    const all = await wirePeersOnNode(this.db, node);
    const active = all.filter((p) => p.status === 'active');
    const live = new Map(dump.peers.map((p) => [p.publicKey, p]));
    const wanted = new Set(active.map((p) => p.public_key));
    const known = new Set(all.map((p) => p.public_key));
    const missing = active.filter((p) => {
      const l = live.get(p.public_key);
      return !l || l.presharedKey !== this.open(p.preshared_key) || l.allowedIps.length !== 1 || l.allowedIps[0] !== `${p.ip}/32`;
    });
    const extra = dump.peers.map((p) => p.publicKey).filter((k) => !wanted.has(k));
    const tombstoned = await removedKeys(this.db, node, extra);
    const unknown = extra.filter((k) => !known.has(k) && !tombstoned.has(k));
    const remove = this.settings.removeUnknown ? extra : extra.filter((k) => known.has(k) || tombstoned.has(k));
    for (let i = 0; i < missing.length; i += PEERS_PER_CALL) {
      await this.runner.setPeers(iface, missing.slice(i, i + PEERS_PER_CALL).map((p) => this.wire(p)));
    }
    // Freshly (re)added peers count from zero on the interface.
    await resetBaselines(this.db, missing.filter((p) => !live.has(p.public_key)).map((p) => p.id));
    for (const k of remove) await this.runner.removePeer(iface, k);
    const result = { added: missing.map((p) => p.public_key), removed: remove, unknown };
    if (result.added.length || result.removed.length) this.log.info({ node, added: result.added.length, removed: result.removed.length }, 'reconciled interface with the database');
    return result;
  }

  /** The node's parameters with the deployment's imitation packets, which only clients send (and protocol 1 has none). */
  private clientAwgParams(imitation: ImitationValues): AwgParams | undefined {
    const awg = this.awgParamsOf(this.requireServer());
    return awg?.protocol === 2 ? { ...awg, ...imitation } : awg;
  }

  /** The `vpn://` key for the AmneziaVPN app; null for plain WireGuard. */
  amneziaKey(peer: Peer, description: string, imitation: ImitationValues): string | null {
    const server = this.requireServer();
    const awg = this.clientAwgParams(imitation);
    if (!awg) return null;
    const s = this.settings;
    const { host, port } = splitEndpoint(s.endpoint);
    return amneziaKey({
      conf: this.clientConfig(peer, imitation),
      host,
      port,
      dns: s.dns,
      description,
      clientIp: peer.ip,
      clientPrivateKey: this.open(peer.private_key),
      clientPublicKey: peer.public_key,
      serverPublicKey: server.public_key,
      presharedKey: this.open(peer.preshared_key),
      mtu: s.mtu,
      allowedIps: s.allowedIps,
      awg,
    });
  }

  clientConfig(peer: Peer, imitation: ImitationValues): string {
    const server = this.requireServer();
    const s = this.settings;
    return renderClientConfig({
      flavor: s.flavor,
      privateKey: this.open(peer.private_key),
      ip: peer.ip,
      dns: s.dns,
      mtu: s.mtu,
      awg: this.clientAwgParams(imitation),
      serverPublicKey: server.public_key,
      presharedKey: this.open(peer.preshared_key),
      endpoint: s.endpoint,
      allowedIps: s.allowedIps,
    });
  }

  readDump(): Promise<Dump> {
    return this.runner.dump(this.settings.iface).then(parseDump);
  }

  ifindex(): Promise<number | null> {
    return this.runner.ifindex(this.settings.iface);
  }
}
