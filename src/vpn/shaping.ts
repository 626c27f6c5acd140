import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { limitedPeersOnNode } from '../db/speeds.js';
import type { VpnRunner } from './runner.js';
import { batchInput, effectiveSpeed, ifbCommands, ifbName, peerCommands, setupCommands, teardownCommands, UNLIMITED } from './shaper.js';
import type { Speed, VpnSettings } from './types.js';

export interface ShapingDeps {
  db: Db;
  runner: VpnRunner;
  settings: Pick<VpnSettings, 'node' | 'iface' | 'subnet' | 'defaultSpeed'>;
  log: Logger;
}

/**
 * A node's speed limits, kept equal to the database (shaper.ts builds the commands). What the node
 * has is remembered, so a monitor tick sends only the differences; anything unexpected (a failed
 * command, the qdisc gone) makes the next step a full rebuild from the database. A node where no
 * one is limited runs no tc at all. Steps run one at a time.
 */
export class Shaping {
  /** The limited addresses the node has; null: unknown, the next step rebuilds. */
  private applied: Map<string, Speed> | null = null;
  /** Whether the qdiscs and the IFB device are in place. */
  private built = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ShapingDeps) {}

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => {});
    return next;
  }

  private async desired(ip?: string): Promise<Map<string, Speed>> {
    const { db, settings } = this.deps;
    const fallback = settings.defaultSpeed ?? UNLIMITED;
    const out = new Map<string, Speed>();
    const limitedByDefault = { down: fallback.downKbit !== null, up: fallback.upKbit !== null };
    for (const row of await limitedPeersOnNode(db, settings.node, limitedByDefault, ip)) out.set(row.ip, effectiveSpeed(row, fallback));
    return out;
  }

  private tcBatch(commands: string[][]): Promise<string> {
    return this.deps.runner.shape(['tc', '-batch', '-'], batchInput(commands));
  }

  /** Everything removed, then built again from the database (start, and whenever the node's state is in doubt). */
  rebuild(): Promise<void> {
    return this.serial(() => this.rebuildNow());
  }

  private async rebuildNow(): Promise<void> {
    const { runner, settings, log } = this.deps;
    this.applied = null;
    const want = await this.desired();
    const ifb = ifbCommands(settings.iface);
    // Without limits and without our IFB device there is nothing to remove: tc is not needed.
    if (want.size > 0 || this.built || (await runner.ifindex(ifbName(settings.iface))) !== null) {
      // Each of these fails when its part is absent; -force goes on to the next.
      await runner.shape(['tc', '-force', '-batch', '-'], batchInput(teardownCommands(settings.iface))).catch(() => {});
      await runner.shape(ifb.remove).catch(() => {});
    }
    this.built = false;
    if (want.size > 0) {
      for (const argv of ifb.add) await runner.shape(argv);
      const peers = [...want].flatMap(([ip, speed]) => peerCommands(settings.iface, settings.subnet, ip, UNLIMITED, speed));
      await this.tcBatch([...setupCommands(settings.iface, settings.subnet), ...peers]);
      this.built = true;
      log.info({ node: settings.node, limited: want.size }, 'speed limits applied');
    }
    this.applied = want;
  }

  /** Sends the node what differs from the database (the monitor, every tick). */
  sync(): Promise<void> {
    return this.serial(async () => {
      if (this.applied === null || (this.built && !(await this.structureInPlace()))) return this.rebuildNow();
      await this.converge(await this.desired(), null);
    });
  }

  /** The peer at `ip` shaped as the database says now (added, moved here, enabled, its user's speed changed); `present` false: it left the interface. */
  peer(ip: string, present = true): Promise<void> {
    return this.serial(async () => {
      if (this.applied === null) return this.rebuildNow();
      await this.converge(present ? await this.desired(ip) : new Map(), ip);
    });
  }

  /** Commands for the differences between `want` and what the node has (all addresses, or only `only`). */
  private async converge(want: Map<string, Speed>, only: string | null): Promise<void> {
    const { settings } = this.deps;
    const applied = this.applied!;
    if (!this.built) {
      if (want.size > 0) await this.rebuildNow();
      return;
    }
    const ips = only === null ? new Set([...applied.keys(), ...want.keys()]) : new Set([only]);
    const commands = [...ips].flatMap((ip) => peerCommands(settings.iface, settings.subnet, ip, applied.get(ip) ?? UNLIMITED, want.get(ip) ?? UNLIMITED));
    if (commands.length === 0) return;
    try {
      await this.tcBatch(commands);
    } catch (err) {
      this.deps.log.warn({ err, node: settings.node }, 'speed limits out of step with the node; rebuilding them');
      return this.rebuildNow();
    }
    for (const ip of ips) {
      const speed = want.get(ip);
      if (speed) applied.set(ip, speed);
      else applied.delete(ip);
    }
  }

  /** Our root qdiscs are still on the interface and the IFB device (neither flushed by hand nor gone with a restart). */
  private async structureInPlace(): Promise<boolean> {
    const text = await this.deps.runner.shape(['tc', 'qdisc', 'show']);
    const { iface } = this.deps.settings;
    return [iface, ifbName(iface)].every((dev) => text.split('\n').some((line) => line.startsWith(`qdisc htb 1: dev ${dev} root `)));
  }
}
