import type { Logger } from 'pino';
import type { Db } from './db/index.js';
import { chatLocales } from './db/chat-locales.js';
import { listNodes } from './db/nodes.js';

/** What GET /healthz answers (200 when ok, else 503). */
export interface Health {
  ok: boolean;
  bot: 'up' | 'down';
  database: 'up' | 'down';
  /** At least one VPN node answered the monitor's last tick. */
  interface: 'up' | 'down';
  nodes: Record<string, 'up' | 'down'>;
  /** Seconds since the monitor's last tick; null on a replica that does not run it (another one leads). */
  tickAgeSeconds: number | null;
}

/** The database became unreachable (with the error), or reachable again. */
export type DatabaseEvent = { kind: 'database-down'; error: string } | { kind: 'database-restored' };

export interface HealthDeps {
  db: Db;
  /** The nodes this process drives. */
  nodes: () => string[];
  adminIds: readonly number[];
  /** Updates are being taken. */
  botUp: () => boolean;
  /** How often the database is probed (and the nodes' health read). */
  intervalMs: number;
  /** The leader's monitor not having ticked for this long makes it unhealthy. */
  staleAfterMs: number;
  /** Told once when the database becomes unreachable and once when it is back, with the admins' languages as last read. */
  onDatabase?: (e: DatabaseEvent, locales: ReadonlyMap<number, string>) => Promise<void>;
  log: Logger;
  now?: () => number;
}

/**
 * The replica's health, kept up to date in the background so that /healthz costs neither a
 * command on a node nor a query: every interval one probe reads the nodes' health (down_since,
 * as the leader's monitor stored it at its last tick) and thereby checks the database; the
 * monitor, where it runs, reports its ticks.
 */
export class HealthWatch {
  private readonly now: () => number;
  private database: { up: true } | { up: false; error: string } = { up: true };
  private nodeUp = new Map<string, boolean>();
  private locales: ReadonlyMap<number, string> = new Map();
  /** Where the monitor runs (this replica leads): since when, and its last tick. */
  private monitor: { since: number; lastTick: number | null } | null = null;
  /** One replica tells the admins of an outage: the leader, or the one that was at the last good probe (its lock may go with the database first). */
  private ledAtLastGoodProbe = false;
  private alerted = false;
  private probing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: HealthDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Probes once (awaited), then every interval until stop(). */
  async start(): Promise<void> {
    await this.probe();
    const schedule = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.probe().then(schedule), this.deps.intervalMs);
    };
    schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.probing;
  }

  databaseUp(): boolean {
    return this.database.up;
  }

  monitorStarted(): void {
    this.monitor = { since: this.now(), lastTick: null };
  }

  ticked(): void {
    if (this.monitor) this.monitor.lastTick = this.now();
  }

  monitorStopped(): void {
    this.monitor = null;
  }

  /** One probe now, or the one already running. */
  probe(): Promise<void> {
    this.probing ??= this.runProbe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async runProbe(): Promise<void> {
    const { db, log } = this.deps;
    try {
      const [rows, locales] = await Promise.all([listNodes(db), chatLocales(db, this.deps.adminIds)]);
      const driven = new Set(this.deps.nodes());
      this.nodeUp = new Map(rows.filter((r) => driven.has(r.name)).map((r) => [r.name, r.down_since === null]));
      this.locales = locales;
      this.ledAtLastGoodProbe = this.monitor !== null;
      if (this.database.up) return;
      this.database = { up: true };
      log.info('the database can be reached again');
      if (this.alerted) {
        this.alerted = false;
        await this.tell({ kind: 'database-restored' });
      }
    } catch (err) {
      if (!this.database.up) return;
      const error = String(err).slice(0, 300);
      this.database = { up: false, error };
      log.error({ err }, 'the database cannot be reached');
      if (this.monitor !== null || this.ledAtLastGoodProbe) {
        this.alerted = true;
        await this.tell({ kind: 'database-down', error });
      }
    }
  }

  private async tell(e: DatabaseEvent): Promise<void> {
    try {
      await this.deps.onDatabase?.(e, this.locales);
    } catch (err) {
      this.deps.log.warn({ err, event: e.kind }, 'could not tell the admins about the database');
    }
  }

  /** From what the last probe and the last tick found: no I/O. */
  report(): Health {
    const bot = this.deps.botUp();
    const nodes = Object.fromEntries([...this.nodeUp].map(([name, up]) => [name, up ? 'up' : 'down'] as const));
    const anyUp = [...this.nodeUp.values()].some(Boolean);
    const m = this.monitor;
    const age = m ? this.now() - (m.lastTick ?? m.since) : null;
    const fresh = age === null || age <= this.deps.staleAfterMs;
    return {
      ok: bot && this.database.up && anyUp && fresh,
      bot: bot ? 'up' : 'down',
      database: this.database.up ? 'up' : 'down',
      interface: anyUp ? 'up' : 'down',
      nodes,
      tickAgeSeconds: age === null ? null : Math.round(age / 1000),
    };
  }
}
