import fsp from 'node:fs/promises';
import path from 'node:path';
import type { NodeRunner } from '../../src/vpn/fleet.js';
import { createRunner, parseIfindex, writePrivateFile } from '../../src/vpn/runner.js';
import type { VpnFlavor } from '../../src/vpn/types.js';
import type { NetnsLab } from './netns.js';

/**
 * The real commands for a node whose interface lives in the lab's server namespace as `ifName`,
 * whatever the node calls it (names must be unique per run). show, set and addconf reach the
 * userspace daemon through its UAPI socket, which every namespace shares; *-quick up and the
 * ifindex run inside the namespace.
 */
export function labServerRunner(lab: NetnsLab, flavor: VpnFlavor, ifName: string): NodeRunner {
  const real = createRunner(flavor, { logDir: path.join(lab.tmpDir, 'logs'), secretsDir: path.join(lab.tmpDir, 'run') });
  return {
    dump: () => real.dump(ifName),
    setPeer: (_iface, p) => real.setPeer(ifName, p),
    setPeers: (_iface, peers) => real.setPeers(ifName, peers),
    removePeer: (_iface, key) => real.removePeer(ifName, key),
    ifindex: async () => parseIfindex(await lab.exec(lab.serverNs, ['cat', `/sys/class/net/${ifName}/ifindex`]).then((r) => r.stdout, () => null)),
    up: async (confPath) => {
      await lab.wgQuickUp(flavor, lab.serverNs, await fsp.readFile(confPath, 'utf8'), ifName);
    },
    defaultRouteInterface: async () => null,
    writeConfig: writePrivateFile,
    // The node's interface has another name here; nobody is speed-limited in these labs, so no tc runs.
    shape: async (argv) => {
      throw new Error(`shaping is not wired in the lab runner: ${argv.join(' ')}`);
    },
  };
}
