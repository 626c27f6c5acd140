import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from './db/index.js';
import { countByStatus, trafficSummary } from './db/stats.js';

/** Scrapes within this long of a database read share it: a flood of them costs the database one read. */
export const METRICS_CACHE_MS = 5_000;

/** One registry per app (no prom-client global), so tests and several bots in a process stay apart. */
export function createMetrics(db: Db, now: () => number = Date.now, onlineWindowMs = 3 * 60_000, cacheMs = METRICS_CACHE_MS) {
  const registry = new Registry();
  const metrics = {
    registry,
    updates: new Counter({ name: 'andreyvpn_updates_total', help: 'Telegram updates handled', registers: [registry] }),
    errors: new Counter({ name: 'andreyvpn_errors_total', help: 'Errors while handling updates', registers: [registry] }),
    provisioning: new Histogram({
      name: 'andreyvpn_provisioning_seconds',
      help: 'From the Approve tap to a working peer',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    monitorTick: new Histogram({
      name: 'andreyvpn_monitor_tick_seconds',
      help: 'Duration of one monitor tick (dump, traffic, reconcile)',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    leader: new Gauge({ name: 'andreyvpn_leader', help: '1 while this replica runs the singleton jobs (monitor, broadcasts, recovery)', registers: [registry] }),
    leaderChanges: new Counter({ name: 'andreyvpn_leader_changes_total', help: 'This replica became (acquired) or stopped being (released) the leader', labelNames: ['event'], registers: [registry] }),
  };
  // Read from the database at scrape time, so they are right whichever replica is scraped.
  const users = new Gauge({ name: 'andreyvpn_users', help: 'Users by status', labelNames: ['status'], registers: [registry] });
  const peers = new Gauge({ name: 'andreyvpn_peers', help: 'Peers by status', labelNames: ['status'], registers: [registry] });
  const online = new Gauge({ name: 'andreyvpn_peers_online', help: 'Peers with a recent handshake (ONLINE_WINDOW_SECONDS)', registers: [registry] });
  const bytes = new Gauge({ name: 'andreyvpn_traffic_bytes', help: 'Traffic counted since each peer was created', labelNames: ['direction'], registers: [registry] });
  const outbox = new Gauge({ name: 'andreyvpn_outbox_messages', help: 'Outbox rows by status: queued (waiting for their turn), unknown (cut off by a crash), failed, blocked…', labelNames: ['status'], registers: [registry] });
  const collect = async () => {
    const u = await countByStatus(db, 'users');
    const p = await countByStatus(db, 'peers');
    const o = await countByStatus(db, 'outbox');
    const t = await trafficSummary(db, now() - onlineWindowMs);
    // Set at once, after every read: a scrape rendering meanwhile never sees a gauge half filled.
    for (const [gauge, rows] of [[users, u], [peers, p], [outbox, o]] as const) {
      gauge.reset();
      for (const r of rows) gauge.set({ status: r.status }, r.n);
    }
    online.set(t.online);
    // Server's view: rx is what clients uploaded.
    bytes.set({ direction: 'from_clients' }, Number(t.rx));
    bytes.set({ direction: 'to_clients' }, Number(t.tx));
  };
  // Counters are read live; the database's gauges at most once per cacheMs (a failed read is not kept).
  let read: { at: number; done: Promise<void> } | undefined;
  const collected = () => {
    const t = now();
    if (!read || t - read.at >= cacheMs) {
      const done = collect();
      read = { at: t, done };
      done.catch(() => {
        if (read?.done === done) read = undefined;
      });
    }
    return read.done;
  };
  return {
    ...metrics,
    async text(): Promise<string> {
      await collected();
      return registry.metrics();
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
