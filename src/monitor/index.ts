import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { DEFAULT_PERIOD_RULES } from '../db/usage-periods.js';
import type { VpnService } from '../vpn/service.js';
import type { EndpointMove } from '../db/peer-endpoints.js';
import { beforeDump, movedEndpoints, recordTraffic, type TickRules } from './traffic.js';

export type MonitorEvent =
  | { kind: 'interface-down'; node: string; iface: string }
  | { kind: 'interface-restored'; node: string; iface: string }
  | { kind: 'unknown-peers'; node: string; iface: string; keys: string[] }
  | { kind: 'failing'; node: string; iface: string; ticks: number; error: string }
  | { kind: 'recovered'; node: string; iface: string };

/** Failed ticks in a row before the admins hear of it: one bad dump is not an incident. */
export const FAILING_TICKS = 3;

export interface Monitor {
  /** Runs one tick now (waits for a running one first); ticks never overlap. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export interface MonitorDeps {
  db: Db;
  /** The VPN nodes, asked every tick (nodes come and go). */
  nodes: () => VpnService[];
  log: Logger;
  intervalMs: number;
  /** Told once when the interface disappears and once when it is back (e.g. to message the admins). */
  onEvent?: (e: MonitorEvent) => Promise<void>;
  /** A node answered (up) or did not (down); new peers avoid nodes that are down. */
  onHealth?: (node: string, up: boolean) => Promise<void>;
  /** Duration of each tick that ran, in seconds. */
  onTick?: (seconds: number) => void;
  /** Peers whose endpoint address changed since the last tick (shared-config detection), before the interface is reconciled. */
  onEndpointMoves?: (moves: EndpointMove[], now: number) => Promise<void>;
  /** Runs at the end of every tick, with the tick's clock (quotas and expiry). */
  afterTick?: (now: number) => Promise<void>;
  /** How quota periods are cut (QUOTA_RESET_DAY, DEFAULT_RESET_PLAN) and USAGE_SUMMARY; default: monthly from the 1st, no summary. */
  periods?: TickRules;
  /**
   * false: ticks are skipped. Nothing could be stored, and the nodes are not to blame; the
   * counters are cumulative, so the first tick after the outage counts its traffic.
   */
  databaseUp?: () => boolean;
  now?: () => number;
}

interface NodeState {
  down: boolean;
  failures: number;
  reported: Set<string>;
}

/**
 * Every interval, on every node at once: one dump, traffic recorded in one transaction, then the
 * interface reconciled from the DB. A node that does not answer fails alone (its commands time
 * out) and keeps its counters: the next dump it gives is counted against the last one stored.
 * An interface that vanished (its daemon killed, the module reloaded) is brought back with all
 * its peers; the changed ifindex then zeroes the traffic baselines.
 */
export function startMonitor(deps: MonitorDeps): Monitor {
  const { db, log, intervalMs } = deps;
  const now = deps.now ?? Date.now;
  const rules = deps.periods ?? DEFAULT_PERIOD_RULES;
  const states = new Map<string, NodeState>();
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const emit = async (e: MonitorEvent) => {
    try {
      await deps.onEvent?.(e);
    } catch (err) {
      log.warn({ err, event: e.kind }, 'could not report a monitor event');
    }
  };

  const health = async (node: string, up: boolean) => {
    try {
      await deps.onHealth?.(node, up);
    } catch (err) {
      log.warn({ err, node }, 'could not store node health');
    }
  };

  const nodeTick = async (vpn: VpnService, t: number) => {
    const { node, iface } = vpn.settings;
    let st = states.get(node);
    if (!st) states.set(node, (st = { down: false, failures: 0, reported: new Set() }));
    const restore = async () => {
      if (!st.down) {
        st.down = true;
        log.error({ node, iface }, 'the VPN interface is gone; bringing it back');
        await emit({ kind: 'interface-down', node, iface });
      }
      try {
        const r = await vpn.start();
        st.down = false;
        log.info({ node, iface, added: r.added.length, removed: r.removed.length }, 'VPN interface restored');
        await emit({ kind: 'interface-restored', node, iface });
      } catch (err) {
        log.error({ err, node, iface }, 'could not bring the VPN interface back; retrying next tick');
        throw err; // a failed tick: the node counts as down until it is back
      }
    };
    const work = async () => {
      const ifindex = await vpn.ifindex();
      if (ifindex === null) return restore();
      // The database is read while `show dump` runs: the tick costs little more than the dump.
      const [dump, baselines] = await Promise.all([vpn.readDump(), beforeDump(db, node)]);
      const written = await recordTraffic(db, node, dump, baselines, ifindex, t, rules);
      log.debug({ node, written }, 'traffic recorded');
      const moves = movedEndpoints(baselines, dump);
      // Not stored when it fails: the next tick sees the same moves again.
      if (moves.length) await deps.onEndpointMoves?.(moves, t).catch((err: unknown) => log.error({ err, node }, 'shared-config check failed'));
      const { unknown } = await vpn.reconcile(dump);
      const fresh = unknown.filter((k) => !st.reported.has(k));
      if (fresh.length) {
        fresh.forEach((k) => st.reported.add(k));
        log.warn({ node, keys: fresh }, 'peers on the interface that the database does not know');
        await emit({ kind: 'unknown-peers', node, iface, keys: fresh });
      }
      // A config rewrite that failed since the last tick is retried here; a lasting failure fails the ticks, so the admins hear of it.
      await vpn.flushConfig();
    };
    try {
      await work();
      if (st.failures > 0) await health(node, true);
      if (st.failures >= FAILING_TICKS) await emit({ kind: 'recovered', node, iface });
      st.failures = 0;
    } catch (err) {
      st.failures++;
      log.error({ err, node, failures: st.failures }, 'monitor tick failed');
      if (st.failures === 1) await health(node, false);
      // One message per incident: on the Nth failure in a row, and once on recovery.
      if (st.failures === FAILING_TICKS) await emit({ kind: 'failing', node, iface, ticks: st.failures, error: String(err).slice(0, 300) });
    }
  };

  // Nodes are read concurrently, so one that does not answer delays a tick by at most its command
  // timeout; one whose last tick is still running (a slow `up`) is left out of this one.
  const busy = new Map<string, Promise<void>>();
  const once = async (): Promise<boolean> => {
    if (deps.databaseUp?.() === false) {
      log.warn('the database cannot be reached: monitor tick skipped');
      return false;
    }
    const t = now();
    const started = deps
      .nodes()
      .filter((vpn) => !busy.has(vpn.settings.node))
      .map((vpn) => {
        const p = nodeTick(vpn, t).finally(() => busy.delete(vpn.settings.node));
        busy.set(vpn.settings.node, p);
        return p;
      });
    await Promise.all(started);
    try {
      await deps.afterTick?.(t);
    } catch (err) {
      log.error({ err }, 'after-tick step failed');
    }
    return true;
  };

  const tick = () => {
    running = running.then(async () => {
      const started = performance.now();
      if (await once()) deps.onTick?.((performance.now() - started) / 1000);
    });
    return running;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void tick().then(schedule);
    }, intervalMs);
  };
  schedule();

  return {
    tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await Promise.all(busy.values());
    },
  };
}
