import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { wirePeersOnNode } from '../db/peers.js';
import type { Server } from '../db/schema.js';
import { natRules } from './nat.js';
import { renderServerConfig } from './render.js';
import type { VpnRunner } from './runner.js';
import { openSecret, type SecretBox } from './secrets.js';
import { type AwgParams, toWire, type VpnFlavor, type VpnSettings } from './types.js';

/**
 * A peer change is live at once (one `set` call); the config file, which lists every peer, is
 * rewritten this long afterwards, once for all the changes made meanwhile. Nothing reads the file
 * in between: start() rewrites it from the database before it could bring an interface up from it.
 */
export const CONFIG_WRITE_DELAY_MS = 1000;

/** The AmneziaWG parameters stored with a node's server keys; none for plain WireGuard. */
export function storedAwgParams(flavor: VpnFlavor, server: Server): AwgParams | undefined {
  return flavor === 'amneziawg' && server.awg_params ? (JSON.parse(server.awg_params) as AwgParams) : undefined;
}

export interface ServerConfigDeps {
  db: Db;
  runner: VpnRunner;
  settings: VpnSettings;
  log: Logger;
  secrets?: SecretBox | undefined;
  /** The node's server keys, once they are stored. */
  server: () => Server;
}

/**
 * A node's `<iface>.conf`, what *-quick brings the interface up from: so a restart keeps the peers.
 * Replaced atomically (0600); writes are serialized so the last one reflects the latest DB state.
 */
export class ServerConfigFile {
  private hooks: { postUp?: string | undefined; postDown?: string | undefined } = {};
  private writeChain: Promise<void> = Promise.resolve();
  /** A change the file does not show yet; its rewrite is scheduled (timer) or failed. */
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ServerConfigDeps) {}

  get path(): string {
    return path.join(this.deps.settings.configDir, `${this.deps.settings.iface}.conf`);
  }

  /** PostUp/PostDown: the admin's own lines, or NAT rules out of the WAN interface (the node's default route when unset). */
  async loadHooks(): Promise<void> {
    const s = this.deps.settings;
    if (s.postUp || s.postDown) this.hooks = { postUp: s.postUp, postDown: s.postDown };
    else if (!s.nat) this.hooks = {};
    else {
      const wan = s.wanInterface ?? (await this.deps.runner.defaultRouteInterface());
      if (!wan) this.deps.log.warn('no IPv4 default route: NAT rules not written (set VPN_WAN_INTERFACE or VPN_NAT=off)');
      this.hooks = wan ? natRules(s.subnet, s.iface, wan) : {};
    }
  }

  /** Rewrites the file now; `peers: false` writes the interface alone. */
  write(opts: { peers: boolean } = { peers: true }): Promise<void> {
    const { db, runner, settings, secrets } = this.deps;
    const next = this.writeChain.then(async () => {
      const server = this.deps.server();
      const peers = opts.peers ? await wirePeersOnNode(db, settings.node, 'active') : [];
      const text = renderServerConfig(
        { flavor: settings.flavor, privateKey: openSecret(secrets, server.private_key), address: server.address, listenPort: server.listen_port, awg: storedAwgParams(settings.flavor, server), ...this.hooks },
        peers.map((p) => toWire(p, secrets)),
      );
      await runner.writeConfig(this.path, text);
    });
    this.writeChain = next.catch(() => {});
    return next;
  }

  /** The interface changed: the file follows after configWriteDelayMs, one rewrite for every change until then. */
  changed(): void {
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err) => this.deps.log.error({ err, conf: this.path }, 'could not rewrite the server config; retried at the next change and monitor tick'));
    }, this.deps.settings.configWriteDelayMs ?? CONFIG_WRITE_DELAY_MS);
  }

  /** Rewrites the file now if it lags behind the database (at stop, and at each monitor tick after a failed write). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return this.writeChain;
    this.dirty = false;
    try {
      await this.write();
    } catch (e) {
      this.dirty = true;
      throw e;
    }
  }
}
