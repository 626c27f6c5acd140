import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Db } from './db/index.js';
import { upsertNode } from './db/nodes.js';
import type { Node } from './db/schema.js';
import { Fleet, type NodeRunner } from './vpn/fleet.js';
import { localNodeRow, readNodesFile } from './vpn/nodes.js';
import { openRunDir, type RunDir } from './vpn/run-dir.js';
import { createRunner, type VpnRunner } from './vpn/runner.js';
import { SecretBox } from './vpn/secrets.js';
import { createSshRunner } from './vpn/ssh-runner.js';
import type { VpnFlavor } from './vpn/types.js';

/**
 * The VPN nodes of the config written into the nodes table (the source of truth), and every node
 * brought up from the database. `runner` replaces the local commands (tests: an in-memory interface).
 */
export async function startFleet(config: Config, db: Db, log: Logger, runner?: VpnRunner): Promise<{ fleet: Fleet; runDir: RunDir | null }> {
  const now = Date.now;
  const v = config.vpn;
  const local = v.local ? [localNodeRow(v, now())] : [];
  for (const row of local) await upsertNode(db, row);
  if (config.nodes.file) {
    for (const row of await readNodesFile(config.nodes.file, { flavor: v.flavor, sshKeyFile: config.nodes.sshKeyFile }, now(), local)) await upsertNode(db, row);
  }
  const runDir = runner ? null : await openRunDir(config.dataDir);
  if (runDir) log.info({ dir: runDir.path, leftoversRemoved: runDir.removed }, 'directory for temporary key files');
  const localRunner = (flavor: VpnFlavor) => runner ?? createRunner(flavor, { logDir: path.join(config.dataDir, 'logs'), secretsDir: runDir!.path });
  const fleet = new Fleet({
    db,
    log: log.child({ module: 'vpn' }),
    shared: {
      dns: v.dns,
      allowedIps: v.allowedIps,
      mtu: v.mtu,
      awgProtocol: v.awgProtocol,
      removeUnknown: v.removeUnknown,
      defaultSpeed: v.defaultSpeed,
      nat: v.nat,
      local: { wanInterface: v.wanInterface, postUp: v.postUp, postDown: v.postDown },
    },
    runnerFor: (node) => (node.ssh_host === null ? localRunner(node.flavor) : sshRunner(node, sshTimeoutMs(config.monitorIntervalMs))),
    // A local node of the table is this host's only when it runs one (VPN_LOCAL=on).
    drives: (node) => node.ssh_host !== null || v.local,
    now,
    secrets: config.secretsKey ? new SecretBox(config.secretsKey) : undefined,
  });
  try {
    for (const [node, r] of await fleet.start()) {
      if (r instanceof Error) log.error({ node, err: r }, 'VPN node is down');
      else log.info({ node, added: r.added.length, removed: r.removed.length, unknown: r.unknown }, 'VPN node ready');
    }
  } catch (e) {
    await fleet.close();
    await runDir?.close();
    throw e;
  }
  return { fleet, runDir };
}

/**
 * A node reached over SSH: the same commands, on its host; its files under the node's own paths.
 * Each command must be answered within `timeoutMs`.
 */
function sshRunner(node: Node, timeoutMs: number): NodeRunner {
  const stateDir = node.state_dir ?? '/var/lib/andreyvpn';
  return createSshRunner(
    node.flavor,
    { host: node.ssh_host!, port: node.ssh_port ?? 22, user: node.ssh_user ?? 'root', privateKeyFile: node.ssh_key_file!, hostKey: node.ssh_host_key! },
    { logDir: path.posix.join(stateDir, 'logs'), secretsDir: path.posix.join(stateDir, 'run'), timeoutMs, connectTimeoutMs: timeoutMs },
  );
}

/**
 * A remote node answers within one monitor interval, 2 to 10 s: a node cut off fails the monitor's
 * ticks at its pace (so an outage of a few intervals is reported) and an approval soon moves on.
 */
const sshTimeoutMs = (monitorIntervalMs: number): number => Math.min(10_000, Math.max(2_000, monitorIntervalMs));
