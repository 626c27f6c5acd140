import { getServer } from '../src/db/servers.js';
import { resetBaselines } from '../src/db/peer-traffic.js';
import { peersOnNode } from '../src/db/peers.js';
import { startMonitor } from '../src/monitor/index.js';
import { REMINDER_KINDS, sendReminders } from '../src/use-cases/reminders.js';
import { beforeDump, recordTraffic } from '../src/monitor/traffic.js';
import { parseDump } from '../src/vpn/dump.js';
import { TransactionCounter } from '../test/support/tx-counter.js';
import { HandshakeClient } from './handshakes.js';
import { ADMIN_ID, dropInterface, type Lab, silentLog, timed } from './lab.js';
import { fmtMs, fmtRatio, fmtSummary, quantile, type Row, summarize, type Summary, tickCheap } from './stats.js';

// 2. Monitor tick: read (`wg show <if> dump`, and the stored baselines meanwhile, as the monitor
// does) + parse + persist (totals, baselines, this hour's pending traffic) against the bare dump
// call, on an interface whose peers have real keys, real handshakes and real counters
// (HandshakeClient). Cases: "steady", nothing moved since the last tick (nothing to write); "all
// moved", every peer's counters changed (the baselines are zeroed before the tick, untimed), which
// writes every peer; and "all moved, first tick of an hour", which also moves the previous hour's
// pending traffic of every peer to the hour and day buckets and the users' usage. The clock is
// the bench's own: every sample ends with the first tick of a new hour. Last, the leader's
// reminders step after a tick, with every user on a quota and an expiry and nothing due.

export interface MonitorResult {
  size: number;
  withHandshake: number;
  withTraffic: number;
  handshakeMs: number;
  bare: Summary;
  steady: Summary;
  moved: Summary;
  newHour: Summary;
  /** p50 of each step of the "all moved" tick. */
  read: number;
  parse: number;
  persist: number;
  written: number;
  /** Transactions per "all moved" persist (must be 1). */
  transactions: number;
  /** The monitor's whole tick (node tick with reconcile, nothing moved). */
  monitorTick: Summary;
  /** sendReminders after a tick, every kind on, every user with a quota and an expiry, nothing due. */
  reminders: Summary;
}

export async function monitorTicks(lab: Lab, sizes: number[], samples: number): Promise<MonitorResult[]> {
  const results: MonitorResult[] = [];
  for (const size of sizes) {
    const tx = new TransactionCounter();
    const db = await lab.db(`monitor-${size}`, { log: tx.log });
    const { fleet, settings, seeded } = await lab.node(db, size);
    const vpn = fleet.node(settings.node);
    const runner = lab.runner();
    let clock = Date.UTC(2026, 0, 1);
    const monitor = startMonitor({ db, nodes: () => fleet.services(), log: silentLog, intervalMs: 3_600_000, now: () => clock });
    try {
      const server = (await getServer(db, settings.node))!;
      const client = await HandshakeClient.start(lab.iface(), server.public_key, settings.port);
      const [handshakeMs] = await timed(async () => {
        for (const p of seeded) await client.handshakeAs(p, server.public_key);
      });
      await client.close();
      const live = (await vpn.readDump()).peers;
      const withHandshake = live.filter((p) => p.latestHandshake !== null).length;
      const withTraffic = live.filter((p) => p.rx > 0 && p.tx > 0).length;
      console.error(`  monitor at ${size}: ${withHandshake} peers with a handshake, ${withTraffic} with rx and tx, ${fmtMs(handshakeMs / size)} per handshake`);
      const ids = (await peersOnNode(db, settings.node)).map((p) => p.id);
      const ifindex = await vpn.ifindex();
      const tick = async () => {
        const [read, [text, baselines]] = await timed(() => Promise.all([runner.dump(settings.iface), beforeDump(db, settings.node)]));
        const [parse, dump] = await timed(async () => parseDump(text));
        const [persist, written] = await timed(() => recordTraffic(db, settings.node, dump, baselines, ifindex, clock));
        return { read, parse, persist, total: read + parse + persist, written };
      };
      await tick(); // baselines = the counters now
      const bare: number[] = [];
      const steady: number[] = [];
      const moved: Awaited<ReturnType<typeof tick>>[] = [];
      const newHour: number[] = [];
      const monitorTick: number[] = [];
      let transactions = 0;
      for (let i = 0; i < samples; i++) {
        bare.push((await timed(() => runner.dump(settings.iface)))[0]);
        steady.push((await tick()).total);
        await resetBaselines(db, ids);
        tx.reset();
        moved.push(await tick());
        transactions = Math.max(transactions, tx.transactions);
        monitorTick.push((await timed(() => monitor.tick()))[0]);
        // Every peer has pending traffic of this hour now: the next hour's first tick moves it.
        clock += 3_600_000;
        await resetBaselines(db, ids);
        tx.reset();
        const first = await tick();
        if (first.written !== ids.length) throw new Error(`the first tick of an hour wrote ${first.written} of ${ids.length} peers`);
        transactions = Math.max(transactions, tx.transactions);
        newHour.push(first.total);
      }
      await db.updateTable('users').set({ quota_bytes: 2 ** 40, expires_at: clock + 365 * 86_400_000 }).execute();
      const deps = { db, adminIds: [ADMIN_ID], enabled: new Set(REMINDER_KINDS) };
      await sendReminders(deps, clock); // this week's digest is claimed here, once
      const reminders: number[] = [];
      for (let i = 0; i < samples; i++) reminders.push((await timed(() => sendReminders(deps, clock)))[0]);
      const p50 = (k: 'read' | 'parse' | 'persist') => quantile(moved.map((m) => m[k]), 0.5);
      results.push({
        size,
        withHandshake,
        withTraffic,
        handshakeMs,
        bare: summarize(bare),
        steady: summarize(steady),
        moved: summarize(moved.map((m) => m.total)),
        newHour: summarize(newHour),
        read: p50('read'),
        parse: p50('parse'),
        persist: p50('persist'),
        written: Math.min(...moved.map((m) => m.written)),
        transactions,
        monitorTick: summarize(monitorTick),
        reminders: summarize(reminders),
      });
      console.error(`  monitor at ${size}: bare ${fmtSummary(summarize(bare))}, all moved ${fmtSummary(summarize(moved.map((m) => m.total)))} (persist ${fmtMs(p50('persist'))}, ${transactions} transaction(s))`);
    } finally {
      await monitor.stop();
      await fleet.close();
      await dropInterface(settings.iface);
      await db.destroy();
    }
  }
  return results;
}

export function monitorRows(results: MonitorResult[]): Row[] {
  const rows: Row[] = [];
  for (const r of results) {
    const m = '2. monitor tick (p50 / p95)';
    rows.push({ measurement: m, case: `${r.size} peers, steady (nothing to write)`, value: fmtSummary(r.steady), reference: `${fmtSummary(r.bare)} bare dump`, ratio: fmtRatio(r.steady.p50 / r.bare.p50) });
    rows.push({
      measurement: m,
      case: `${r.size} peers, all moved (${r.written} written)`,
      value: `${fmtSummary(r.moved)} (read ${fmtMs(r.read)}, parse ${fmtMs(r.parse)}, persist ${fmtMs(r.persist)})`,
      reference: `${fmtSummary(r.bare)} bare dump`,
      ratio: fmtRatio(r.moved.p50 / r.bare.p50),
    });
    rows.push({ measurement: m, case: `${r.size} peers, all moved, first tick of an hour (buckets and usage written too)`, value: fmtSummary(r.newHour), reference: `${fmtSummary(r.bare)} bare dump`, ratio: fmtRatio(r.newHour.p50 / r.bare.p50) });
    rows.push({ measurement: m, case: `${r.size} peers, monitor.tick() with reconcile`, value: fmtSummary(r.monitorTick) });
    rows.push({ measurement: m, case: `${r.size} users, the reminders step after it (every kind on, all with quota and expiry, none due)`, value: fmtSummary(r.reminders) });
  }
  const last = results.at(-1);
  if (last) {
    for (const [what, tick] of [['steady', last.steady], ['all moved', last.moved]] as const) {
      rows.push({
        measurement: '2. tick vs bare dump (p50)',
        case: `${last.size} peers, ${what}`,
        value: fmtMs(tick.p50),
        reference: fmtMs(last.bare.p50),
        ratio: fmtRatio(tick.p50 / last.bare.p50),
        target: '≤ 2×',
        met: tickCheap(tick.p50, last.bare.p50),
      });
    }
    rows.push({
      measurement: '2. writes in one transaction',
      case: `${last.size} peers, all moved`,
      value: `${last.transactions} transaction(s); ${last.withHandshake}/${last.size} peers with a real handshake, ${last.withTraffic} with rx and tx`,
      target: '1',
      met: results.every((r) => r.transactions === 1),
    });
  }
  return rows;
}
