import type { NodeRow } from '../../db/nodes.js';
import { localNodeRow, parseNodesFile } from '../../vpn/nodes.js';
import { type Check, errorText, fail, pass } from './check.js';

/** The VPN nodes: the local one (VPN_*), and those of NODES_FILE, each reached over SSH. */
export const checkVpnNodes: Check = async (denv, config) => {
  const name = 'vpn nodes';
  const local = config.vpn.local ? [`${config.vpn.node} (local)`] : [];
  if (!config.nodes.file) return pass(name, local.join(', '));
  let rows: NodeRow[];
  try {
    const localRow = config.vpn.local ? [localNodeRow(config.vpn, 0)] : [];
    rows = parseNodesFile(await denv.readFile(config.nodes.file), config.nodes.file, { flavor: config.vpn.flavor, sshKeyFile: config.nodes.sshKeyFile }, 0, localRow);
  } catch (e) {
    const [first, ...rest] = errorText(e).split('\n');
    return { ...fail(name, first!, 'fix the nodes file (a JSON array; see the README, "Several VPN nodes")'), more: rest.map((l) => l.trim()) };
  }
  const found: string[] = [...local];
  const problems: string[] = [];
  for (const node of rows.filter((r) => r.ssh_host !== null)) {
    const where = `${node.name} (${node.ssh_user}@${node.ssh_host}:${node.ssh_port})`;
    const key = await denv.stat(node.ssh_key_file!);
    if (!key?.isFile) {
      problems.push(`${where}: no SSH key at ${node.ssh_key_file}`);
      continue;
    }
    try {
      const index = await denv.probeNode(node);
      found.push(`${where}: ${index === null ? `${node.iface} down (the bot brings it up)` : `${node.iface} up`}`);
    } catch (e) {
      problems.push(`${where}: ${errorText(e).slice(0, 200)}`);
    }
  }
  for (const node of rows.filter((r) => r.ssh_host === null)) found.push(`${node.name} (local)`);
  if (problems.length) {
    return { ...fail(name, `${problems.length} of ${rows.length + local.length} nodes cannot be reached`, "put the bot's public key in root's authorized_keys on the node and check ssh= and hostkey= (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)"), more: [...problems, ...found] };
  }
  return { ...pass(name, `${found.length} nodes answer`), more: found };
};
