import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { getServer, insertServerOnce } from '../db/servers.js';
import { deletePeer, insertPeer, insertPeerWithin, ipInUse, lockAddresses, movePeerRow, peerCountOnNode, usedIps } from '../db/peers.js';
import type { Peer, Server } from '../db/schema.js';
import { parseDump } from './dump.js';
import type { ImitationValues } from './imitation.js';
import { generateKeyPair, generatePresharedKey } from './keys.js';
import { generateAwgParams, validateAwgParams } from './params.js';
import { amneziaKey, splitEndpoint } from './amnezia-key.js';
import { clientAddress, nextFreeIp, serverAddressWithPrefix } from './pool.js';
import { type ReconcileResult, reconcilePeers } from './reconcile.js';
import { renderClientConfig } from './render.js';
import type { VpnRunner } from './runner.js';
import { openSecret, type SecretBox, sealSecret } from './secrets.js';
import { Shaping } from './shaping.js';
import { ServerConfigFile, storedAwgParams } from './server-config.js';
import { type AwgParams, type Dump, toWire, type VpnSettings } from './types.js';

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

/**
 * Keeps the live interface equal to the database. The DB is the source of truth:
 * every change is written there first, then applied with O(1) `set peer` calls,
 * and the server config file follows (see CONFIG_WRITE_DELAY_MS) so a restart keeps the peers.
 */
export class VpnService {
  private server?: Server;
  private readonly config: ServerConfigFile;
  private readonly shaping: Shaping;

  constructor(
    private readonly db: Db,
    private readonly runner: VpnRunner,
    readonly settings: VpnSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** Seals the keys it stores and opens the ones it reads, when SECRETS_KEY is set (sealStoredKeys ran first). */
    private readonly secrets?: SecretBox,
  ) {
    this.config = new ServerConfigFile({ db, runner, settings, log, secrets, server: () => this.requireServer() });
    this.shaping = new Shaping({ db, runner, settings, log });
  }

  private open(stored: string): string {
    return openSecret(this.secrets, stored);
  }

  get confPath(): string {
    return this.config.path;
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
    const awg = storedAwgParams(flavor, server);
    if (awg) {
      const problems = validateAwgParams(awg);
      if (problems.length) throw new Error(`stored AmneziaWG parameters are invalid: ${problems.join('; ')}`);
    }
    this.server = server;
    return server;
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
    await this.config.loadHooks();
    if ((await this.runner.ifindex(this.settings.iface)) === null) {
      this.log.info({ conf: this.confPath }, 'bringing the interface up');
      await this.config.write({ peers: false });
      await this.runner.up(this.confPath);
    }
    await this.config.write();
    const result = await this.reconcilePeers(parseDump(await this.runner.dump(this.settings.iface)));
    await this.shaping.rebuild();
    return result;
  }

  /** The config file catches up with the database now, when it lags behind (ServerConfigFile.flush). */
  flushConfig(): Promise<void> {
    return this.config.flush();
  }

  /**
   * Allocates keys and an address, stores the peer, adds it to the live interface. Nothing is left behind on failure.
   * With maxDevices: stored only while the user is active and below that many peers (one conditional
   * insert, so concurrent adds cannot pass it); otherwise DeviceRefusedError.
   */
  async addPeer(userId: number, opts: { name?: string | null; maxDevices?: number } = {}): Promise<Peer> {
    const { node, iface } = this.settings;
    const keys = generateKeyPair();
    const fields = { user_id: userId, node, public_key: keys.publicKey, private_key: sealSecret(this.secrets, keys.privateKey), preshared_key: sealSecret(this.secrets, generatePresharedKey()), name: opts.name ?? null };
    const now = this.now();
    const peer = await this.db.transaction().execute(async (trx) => {
      const row = { ...fields, ip: await this.freeAddress(trx) };
      return opts.maxDevices === undefined ? insertPeer(trx, row, now) : insertPeerWithin(trx, row, opts.maxDevices, now);
    });
    if (!peer) throw new DeviceRefusedError();
    try {
      await this.runner.setPeer(iface, toWire(peer, this.secrets));
    } catch (e) {
      await deletePeer(this.db, peer, this.now());
      // Not waited for: a node that does not answer would hold the caller a second timeout; reconcile removes a leftover.
      void this.runner.removePeer(iface, peer.public_key).catch(() => {});
      throw e;
    }
    this.config.changed();
    this.log.info({ node, userId, ip: peer.ip, publicKey: peer.public_key }, 'peer added');
    await this.shapePeer(peer.ip, true);
    return peer;
  }

  /**
   * A free address on this node for a peer inserted in `trx`, which holds the node's allocation lock
   * from here on, so concurrent adds (several replicas) never collide on an address. With n addresses
   * in use and no gap among them, the (n+1)-th is the lowest free one: it is tried first with one
   * lookup, so adding a peer does not read every address of a big node.
   */
  private async freeAddress(trx: Db): Promise<string> {
    const { node, subnet } = this.settings;
    await lockAddresses(trx, node);
    const guess = clientAddress(subnet, await peerCountOnNode(trx, node));
    const ip = guess !== null && !(await ipInUse(trx, node, guess)) ? guess : nextFreeIp(subnet, await usedIps(trx, node));
    if (!ip) throw new PoolExhaustedError(subnet);
    return ip;
  }

  /** Takes over a peer from another node: same keys, the next free address here, live before this returns. */
  async adopt(peer: Peer): Promise<Peer> {
    const { node } = this.settings;
    const now = this.now();
    const moved = await this.db.transaction().execute(async (trx) => {
      const row = await movePeerRow(trx, peer, node, await this.freeAddress(trx), now);
      if (!row) throw new Error(`peer ${peer.id} is no longer on node ${peer.node}`);
      return row;
    });
    try {
      if (moved.status === 'active') await this.runner.setPeer(this.settings.iface, toWire(moved, this.secrets));
    } catch (e) {
      await this.db
        .transaction()
        .execute(async (trx) => {
          await lockAddresses(trx, peer.node);
          await movePeerRow(trx, moved, peer.node, peer.ip, this.now());
        })
        .catch(() => {});
      throw e;
    }
    this.config.changed();
    this.log.info({ node, from: peer.node, ip: moved.ip, publicKey: moved.public_key }, 'peer moved here');
    await this.shapePeer(moved.ip, moved.status === 'active');
    return moved;
  }

  /** Applies a peer's current DB state to the interface. */
  async apply(peer: Pick<Peer, 'public_key' | 'preshared_key' | 'ip'>, present: boolean): Promise<void> {
    if (present) await this.runner.setPeer(this.settings.iface, toWire(peer, this.secrets));
    else await this.runner.removePeer(this.settings.iface, peer.public_key);
    this.config.changed();
    await this.shapePeer(peer.ip, present);
  }

  /**
   * The peer's speed limit follows it at once; a failure does not undo the peer (it is live): the
   * next monitor tick rebuilds the shaping from the database.
   */
  private async shapePeer(ip: string, present: boolean): Promise<void> {
    await this.shaping.peer(ip, present).catch((err: unknown) => this.log.warn({ err, node: this.settings.node, ip }, 'speed limit not applied yet; the next monitor tick retries'));
  }

  /** A user's speed changed: their peers here get it now (use-cases/speed.ts). */
  reshapePeers(ips: string[]): Promise<void[]> {
    return Promise.all(ips.map((ip) => this.shaping.peer(ip)));
  }

  private async reconcilePeers(dump: Dump): Promise<ReconcileResult> {
    const result = await reconcilePeers({ db: this.db, runner: this.runner, settings: this.settings, secrets: this.secrets }, dump);
    if (result.added.length || result.removed.length) this.log.info({ node: this.settings.node, added: result.added.length, removed: result.removed.length }, 'reconciled interface with the database');
    return result;
  }

  /** Makes the interface's peers those of the database (reconcilePeers), and their speed limits (Shaping.sync). */
  async reconcile(dump: Dump): Promise<ReconcileResult> {
    const result = await this.reconcilePeers(dump);
    await this.shaping.sync();
    return result;
  }

  /** The node's parameters with the deployment's imitation packets, which only clients send (and protocol 1 has none). */
  private clientAwgParams(imitation: ImitationValues): AwgParams | undefined {
    const awg = storedAwgParams(this.settings.flavor, this.requireServer());
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
