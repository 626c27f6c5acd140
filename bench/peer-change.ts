import path from 'node:path';
import { AccessService } from '../src/use-cases/access.js';
import type { Db } from '../src/db/index.js';
import { getServer } from '../src/db/servers.js';
import { peersOnNode } from '../src/db/peers.js';
import { requestAccess } from '../src/db/users.js';
import { run, type VpnRunner, writePrivateFile } from '../src/vpn/runner.js';
import { renderServerConfig } from '../src/vpn/render.js';
import { toWire, type VpnSettings } from '../src/vpn/types.js';
import { singleNodeFleet } from '../test/support/harness.js';
import { ADMIN_ID, dropInterface, type Lab, livePeers, silentLog, timed } from './lab.js';
import { fmtMs, fmtRatio, fmtSummary, flatEnough, type Row, summarize, type Summary, tenTimesFaster } from './stats.js';

// 1. Peer change cost: an admin's approval until the peer is live on the interface, through the
// real path (AccessService.approve → Fleet → VpnService.addPeer → `wg set`), at several numbers
// of existing peers; beside it the same approval where the interface is updated the way most
// panels do it: regenerate the whole config from the database, `wg-quick strip`, `wg syncconf`.

/**
 * The host's VpnRunner, except that a peer change rewrites the full config and syncs the interface
 * to it (wg-easy: `wg syncconf wg0 <(wg-quick strip wg0)`), whatever the change was.
 */
class RegenerateAndSyncconf implements VpnRunner {
  constructor(
    private readonly db: Db,
    private readonly settings: VpnSettings,
    private readonly host: VpnRunner,
    private readonly dir: string,
  ) {}

  dump = (iface: string) => this.host.dump(iface);
  ifindex = (iface: string) => this.host.ifindex(iface);
  up = (conf: string) => this.host.up(conf);
  defaultRouteInterface = () => this.host.defaultRouteInterface();
  writeConfig = (file: string, text: string) => this.host.writeConfig(file, text);
  shape = (argv: string[], input?: string) => this.host.shape(argv, input);
  removePeer = (iface: string) => this.syncconf(iface);
  setPeer = (iface: string) => this.syncconf(iface);
  setPeers = (iface: string) => this.syncconf(iface);

  private async syncconf(iface: string): Promise<void> {
    const server = (await getServer(this.db, this.settings.node))!;
    const peers = await peersOnNode(this.db, this.settings.node, 'active');
    const text = renderServerConfig(
      { flavor: 'wireguard', privateKey: server.private_key, address: server.address, listenPort: server.listen_port },
      peers.map((p) => toWire(p)),
    );
    const conf = path.join(this.dir, `${iface}.conf`);
    await writePrivateFile(conf, text);
    const stripped = path.join(this.dir, 'stripped.conf');
    await writePrivateFile(stripped, await run('wg-quick', ['strip', conf]));
    await run('wg', ['syncconf', iface, stripped]);
  }
}

export interface PeerChangeResult {
  size: number;
  ours: Summary;
  regenerate: Summary;
}

const ADMIN = { id: ADMIN_ID, name: 'Bench admin' };

/** `samples` approvals of new users on a node with `size` peers; each is revoked again (untimed) so the size stays. */
async function approvals(db: Db, access: AccessService, iface: string, firstId: number, samples: number): Promise<number[]> {
  const times: number[] = [];
  const checkEvery = Math.max(1, Math.floor(samples / 10));
  for (let i = 0; i < samples; i++) {
    const id = firstId + i;
    await requestAccess(db, { id, first_name: `New ${id}` }, Date.now());
    const [ms, d] = await timed(() => access.approve(id, ADMIN));
    if (d.kind !== 'ok') throw new Error(`approval ${id}: ${d.kind}`);
    times.push(ms);
    // Live when approve returns: checked (untimed) on every few samples.
    if (i % checkEvery === 0 && !(await livePeers(iface)).includes(d.peers[0]!.public_key)) throw new Error(`approved peer of ${id} is not on ${iface}`);
    const r = await access.revoke(id, ADMIN);
    if (r.kind !== 'ok') throw new Error(`revoke ${id}: ${r.kind}`);
  }
  return times;
}

export async function peerChange(lab: Lab, sizes: number[], samples: number, baselineSamples: number): Promise<PeerChangeResult[]> {
  const results: PeerChangeResult[] = [];
  for (const size of sizes) {
    const db = await lab.db(`peer-${size}`);
    const { fleet, settings } = await lab.node(db, size);
    const panel = await singleNodeFleet(db, new RegenerateAndSyncconf(db, settings, lab.runner(), lab.path('panel')), settings, silentLog);
    try {
      await panel.start();
      const ours = await approvals(db, new AccessService(db, fleet, silentLog), settings.iface, 1_000_000, samples);
      const regenerate = await approvals(db, new AccessService(db, panel, silentLog), settings.iface, 2_000_000, baselineSamples);
      results.push({ size, ours: summarize(ours), regenerate: summarize(regenerate) });
      console.error(`  peer change at ${size}: ours ${fmtSummary(summarize(ours))}, regenerate+syncconf ${fmtSummary(summarize(regenerate))}`);
    } finally {
      await fleet.close();
      await panel.close();
      await dropInterface(settings.iface);
      await db.destroy();
    }
  }
  return results;
}

export function peerChangeRows(results: PeerChangeResult[]): Row[] {
  const rows: Row[] = results.map((r) => ({
    measurement: '1. approve → peer live (p50 / p95)',
    case: `${r.size} peers`,
    value: fmtSummary(r.ours),
    reference: `${fmtSummary(r.regenerate)} regenerate+syncconf`,
    ratio: `${fmtRatio(r.regenerate.p50 / r.ours.p50)} faster`,
  }));
  const first = results[0];
  const last = results.at(-1);
  if (first && last && last !== first) {
    rows.push({
      measurement: '1. growth',
      case: `p50 at ${last.size} vs ${first.size}`,
      value: `${fmtMs(last.ours.p50)} vs ${fmtMs(first.ours.p50)}`,
      ratio: fmtRatio(last.ours.p50 / first.ours.p50),
      target: '≤ 1.5×',
      met: flatEnough(first.ours.p50, last.ours.p50),
    });
  }
  if (last) {
    rows.push({
      measurement: '1. vs regenerate+syncconf',
      case: `p50 at ${last.size}`,
      value: fmtMs(last.ours.p50),
      reference: fmtMs(last.regenerate.p50),
      ratio: fmtRatio(last.regenerate.p50 / last.ours.p50),
      target: '≥ 10× faster',
      met: tenTimesFaster(last.ours.p50, last.regenerate.p50),
    });
  }
  return rows;
}
