import type { ImitationValues } from './imitation.js';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { activePeersPerNode, deleteEmptyNode, getNode, insertNode, listNodes, type NodeRow, setNodeDown, setNodeState } from '../db/nodes.js';
import type { Node, NodeState, Peer } from '../db/schema.js';
import { CommandError, type VpnRunner } from './runner.js';
import type { SecretBox } from './secrets.js';
import type { ReconcileResult } from './reconcile.js';
import { PoolExhaustedError, VpnService } from './service.js';
import { sealStoredKeys } from './stored-keys.js';
import type { VpnFlavor, VpnSettings } from './types.js';
import { nodeClash } from './nodes.js';

/** A node's host: local binaries, or the same commands over SSH (closed when the node goes away). */
export type NodeRunner = VpnRunner & { close?(): Promise<void> };

/** Settings every node shares; the rest comes from the node's row. */
export type SharedSettings = Pick<VpnSettings, 'dns' | 'allowedIps' | 'mtu' | 'awgProtocol' | 'removeUnknown' | 'nat' | 'configWriteDelayMs' | 'defaultSpeed'> & {
  /** Hooks and WAN interface of the local node (VPN_POST_UP, VPN_WAN_INTERFACE); remote nodes detect their own. */
  local: Pick<VpnSettings, 'wanInterface' | 'postUp' | 'postDown'>;
};

export class NoNodeError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NoNodeError';
  }
}

export interface FleetDeps {
  db: Db;
  log: Logger;
  shared: SharedSettings;
  runnerFor: (node: Node) => NodeRunner;
  now?: () => number;
  /** SECRETS_KEY: every private and preshared key is stored sealed with it. */
  secrets?: SecretBox | undefined;
  /** Which nodes of the table this process drives (default all); e.g. no local node when this host runs none. */
  drives?: (node: Node) => boolean;
}

interface Member {
  row: Node;
  vpn: VpnService;
  runner: NodeRunner;
}

/**
 * The VPN nodes the bot drives, one VpnService each: new peers go to the healthy active node with
 * the fewest active peers (or the one asked for), and everything else about a peer goes to the
 * node it lives on. The nodes table is the source of truth; its
 * health (down_since) is kept by the monitor so every replica picks the same way.
 */
export class Fleet {
  private readonly members = new Map<string, Member>();
  private readonly now: () => number;

  constructor(private readonly deps: FleetDeps) {
    this.now = deps.now ?? Date.now;
  }

  private settingsOf(row: Node): VpnSettings {
    const { local, ...shared } = this.deps.shared;
    return {
      ...shared,
      ...(row.ssh_host === null ? local : {}),
      node: row.name,
      flavor: row.flavor,
      iface: row.iface,
      configDir: row.config_dir,
      endpoint: row.endpoint,
      port: row.listen_port,
      subnet: row.subnet,
    };
  }

  private join(row: Node): Member {
    const runner = this.deps.runnerFor(row);
    const vpn = new VpnService(this.deps.db, runner, this.settingsOf(row), this.deps.log.child({ node: row.name }), this.now, this.deps.secrets);
    const m = { row, vpn, runner };
    this.members.set(row.name, m);
    return m;
  }

  private async rows(): Promise<Node[]> {
    const all = await listNodes(this.deps.db);
    return this.deps.drives ? all.filter(this.deps.drives) : all;
  }

  /** Server keys first (database only, so a node that does not answer still has them), then the node itself. */
  private async bringUp(m: Member): Promise<ReconcileResult> {
    await m.vpn.ensureServer();
    return m.vpn.start();
  }

  /**
   * Follows the nodes table: joins nodes added elsewhere (another replica's /nodes add) and lets go
   * of removed ones. Runs on every replica each monitor interval; returns the nodes this process drives.
   */
  async refresh(): Promise<Node[]> {
    const rows = await this.rows();
    const names = new Set(rows.map((r) => r.name));
    for (const [name, m] of this.members) {
      if (names.has(name)) continue;
      this.members.delete(name);
      await m.runner.close?.();
    }
    await Promise.all(
      rows
        .filter((r) => !this.members.has(r.name))
        .map(async (row) => {
          const m = this.join(row);
          try {
            await this.bringUp(m);
          } catch (err) {
            this.deps.log.warn({ err, node: row.name }, 'joined a VPN node that does not come up; the monitor retries');
          }
        }),
    );
    return rows;
  }

  /**
   * Joins every node in the database and brings each up (keys, config, interface, reconcile),
   * concurrently. A node that fails is marked down and left to the monitor; only when no node
   * starts at all does this throw. Before any of it, the stored keys are checked against SECRETS_KEY
   * (SecretsKeyError) and the ones stored in clear get sealed.
   */
  async start(): Promise<Map<string, ReconcileResult | Error>> {
    await sealStoredKeys(this.deps.db, this.deps.secrets, this.deps.log);
    const rows = await this.rows();
    if (rows.length === 0) throw new NoNodeError('no VPN node is configured');
    for (const row of rows) if (!this.members.has(row.name)) this.join(row);
    const results = new Map<string, ReconcileResult | Error>();
    await Promise.all(
      [...this.members.values()].map(async (m) => {
        try {
          results.set(m.row.name, await this.bringUp(m));
          await this.markUp(m.row.name);
        } catch (e) {
          results.set(m.row.name, e as Error);
          this.deps.log.error({ err: e, node: m.row.name }, 'VPN node did not start; the monitor retries');
          await this.markDown(m.row.name);
        }
      }),
    );
    const failed = [...results.values()].filter((r) => r instanceof Error);
    if (failed.length === results.size) throw failed[0];
    return results;
  }

  /** Every node's service (for the monitor). */
  services(): VpnService[] {
    return [...this.members.values()].map((m) => m.vpn);
  }

  names(): string[] {
    return [...this.members.keys()];
  }

  /** The service of one node; throws for a node this process does not know. */
  node(name: string): VpnService {
    const m = this.members.get(name);
    if (!m) throw new NoNodeError(`unknown VPN node ${name}`);
    return m.vpn;
  }

  flavorOf(peer: Pick<Peer, 'node'>): VpnFlavor {
    return this.node(peer.node).settings.flavor;
  }

  /** Adds a node (from /nodes or the nodes file) and brings it up; a node that cannot be reached is not kept. */
  async add(row: NodeRow): Promise<ReconcileResult> {
    const clash = (await listNodes(this.deps.db)).map((n) => nodeClash(n, row)).find(Boolean);
    if (clash) throw new NoNodeError(clash);
    if (!(await insertNode(this.deps.db, row))) throw new NoNodeError(`a node named ${row.name} exists`);
    const stored = (await getNode(this.deps.db, row.name))!;
    let m: Member | undefined;
    try {
      m = this.join(stored);
      return await this.bringUp(m);
    } catch (e) {
      this.members.delete(row.name);
      await m?.runner.close?.();
      await deleteEmptyNode(this.deps.db, row.name);
      throw e;
    }
  }

  /** Removes a node that holds no peers; false when it still has some. */
  async remove(name: string): Promise<boolean> {
    if (!(await deleteEmptyNode(this.deps.db, name))) return false;
    const m = this.members.get(name);
    this.members.delete(name);
    await m?.runner.close?.();
    return true;
  }

  setState(name: string, state: NodeState): Promise<boolean> {
    return setNodeState(this.deps.db, name, state);
  }

  async markDown(name: string): Promise<void> {
    await setNodeDown(this.deps.db, name, this.now());
  }

  async markUp(name: string): Promise<void> {
    await setNodeDown(this.deps.db, name, null);
  }

  /** Nodes that take new peers, least loaded first; a node another replica added is joined by the next refresh(). */
  async candidates(): Promise<Node[]> {
    const rows = (await this.rows()).filter((n) => n.state === 'active' && n.down_since === null && this.members.has(n.name));
    if (rows.length < 2) return rows; // nothing to compare: counting every peer would be wasted
    const load = await activePeersPerNode(this.deps.db);
    return rows.sort((a, b) => (load.get(a.name) ?? 0) - (load.get(b.name) ?? 0));
  }

  /**
   * Creates the peer on `opts.node` when it takes peers, else on the least loaded node that does;
   * a full node, or one that does not answer (the monitor marks it down soon), passes to the next.
   */
  async addPeer(userId: number, opts: { name?: string | null; maxDevices?: number; node?: string | null } = {}): Promise<Peer> {
    const nodes = await this.candidates();
    if (nodes.length === 0) throw new NoNodeError('no VPN node takes new peers (all down or draining)');
    const preferred = nodes.findIndex((n) => n.name === opts.node);
    if (preferred > 0) nodes.unshift(...nodes.splice(preferred, 1));
    let unanswered: CommandError | undefined;
    let full: PoolExhaustedError | undefined;
    for (const n of nodes) {
      try {
        return await this.node(n.name).addPeer(userId, { ...(opts.name !== undefined ? { name: opts.name } : {}), ...(opts.maxDevices !== undefined ? { maxDevices: opts.maxDevices } : {}) });
      } catch (e) {
        if (e instanceof CommandError) {
          this.deps.log.warn({ err: e, node: n.name, userId }, 'VPN node did not take the peer; trying the next one');
          unanswered ??= e;
        } else if (e instanceof PoolExhaustedError) full = e;
        else throw e;
      }
    }
    // A node that does not answer is the cause to report over one that is merely full.
    throw unanswered ?? full!;
  }

  apply(peer: Pick<Peer, 'node' | 'public_key' | 'preshared_key' | 'ip'>, present: boolean): Promise<void> {
    return this.node(peer.node).apply(peer, present);
  }

  clientConfig(peer: Peer, imitation: ImitationValues): string {
    return this.node(peer.node).clientConfig(peer, imitation);
  }

  amneziaKey(peer: Peer, description: string, imitation: ImitationValues): string | null {
    return this.node(peer.node).amneziaKey(peer, description, imitation);
  }

  /**
   * Moves a peer to another node: same keys, a new address there. The peer is live on the target
   * before it leaves the source; if the source does not answer, its reconcile removes it later.
   */
  async move(peer: Peer, to: string): Promise<Peer> {
    if (peer.node === to) return peer;
    const target = this.node(to);
    const moved = await target.adopt(peer);
    try {
      await this.node(peer.node).apply(peer, false);
    } catch (err) {
      this.deps.log.warn({ err, node: peer.node, publicKey: peer.public_key }, 'moved peer still on its old node; reconcile removes it when the node answers');
    }
    return moved;
  }

  /** The config files catch up with the last changes, then the connections to the nodes close. */
  async close(): Promise<void> {
    const members = [...this.members.values()];
    await Promise.all(members.map((m) => m.vpn.flushConfig().catch((err) => this.deps.log.error({ err, node: m.row.name }, 'could not write the server config at stop; the next start writes it'))));
    await Promise.all(members.map((m) => m.runner.close?.()));
  }
}
