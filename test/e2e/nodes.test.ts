import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StandInClient } from '../support/bot-api-client.js';
import { botEnv, buttonsOf, gatedVariants, pingsWithin, startBot } from '../support/e2e.js';
import { flavorTools, NetnsLab, type LabProcess } from '../support/netns.js';
import { addSshNode, type SshNode, sshdGate } from '../support/sshd.js';

// Two VPN nodes reached over SSH: each a network namespace with a real OpenSSH sshd (key auth,
// pinned host key) and, once the bot brings it up, a real userspace interface of the tunnel
// variant (the nodes' sessions get this process's PATH, so they run the shared awg binaries).
// The built bot runs in the lab's server namespace with no interface of its own (VPN_LOCAL=off,
// NODES_FILE). Peers spread over both nodes, a client pings through each, and when one node's
// sshd stops the bot marks that node down, tells the admin once, and keeps serving approvals on
// the other.

const variants = await gatedVariants(await sshdGate());
const TOKEN = '424242:e2e-nodes-token';
const ADMIN = { id: 111601, first_name: 'Admin', username: 'boss', language_code: 'en' };
const users = [1, 2, 3].map((i) => ({ id: 222600 + i, first_name: `User${i}`, language_code: 'en' }));

for (const variant of variants) describe.skipIf(!variant.ready)(`several VPN nodes over SSH on real tunnels (${variant.name})`, () => {
  const { tool } = flavorTools(variant.flavor);
  let lab: NetnsLab;
  let api: StandInClient;
  let bot: LabProcess | undefined;
  const nodes: { name: string; node: SshNode; iface: string; subnet: string; serverIp: string }[] = [];

  beforeAll(async () => {
    lab = await NetnsLab.create();
    api = await StandInClient.start({ token: TOKEN, netns: lab.serverNs });
    await api.knowUser(ADMIN); // the admin started the bot long ago
    const { env } = await botEnv(lab, { ...variant, token: TOKEN, apiRoot: api.apiRoot, adminId: ADMIN.id, ifacePrefix: 'avx' });
    const specs = [];
    for (const [i, name] of ['ams', 'fra'].entries()) {
      const node = await addSshNode(lab, name[0]!.toUpperCase(), lab.serverNs);
      const iface = `av${name[0]}${lab.suffix}`;
      lab.trackInterface(iface);
      const net = `10.${110 + i * 40 + randomInt(40)}.${randomInt(256)}`;
      const port = 20000 + randomInt(30000);
      nodes.push({ name, node, iface, subnet: `${net}.0/24`, serverIp: `${net}.1` });
      specs.push({
        name,
        location: name === 'ams' ? 'Amsterdam' : 'Frankfurt',
        ssh: `${node.sshd.user}@${node.sshd.host}:${node.sshd.port}`,
        key: node.sshd.clientKeyFile,
        hostkey: node.sshd.hostPublicKey,
        flavor: variant.flavor,
        iface,
        endpoint: `${node.endpointIp}:${port}`,
        port,
        subnet: `${net}.0/24`,
        dir: path.join(lab.tmpDir, `${name}-conf`),
        state: path.join(lab.tmpDir, `${name}-state`),
      });
    }
    const nodesFile = path.join(lab.tmpDir, 'nodes.json');
    await fs.writeFile(nodesFile, JSON.stringify(specs, null, 2));
    Object.assign(env, {
      VPN_LOCAL: 'off',
      NODES_FILE: nodesFile,
      CAPTCHA: 'off',
      // Each client routes only its node's subnet.
      VPN_ALLOWED_IPS: nodes.map((n) => n.subnet).join(','),
    });
    delete env.VPN_ENDPOINT;
    bot = await startBot(lab, env);
  }, 120_000);

  afterAll(async () => {
    await bot?.stop(3000);
    await api?.stop();
    for (const n of nodes) await n.node.sshd.stop().catch(() => {});
    await lab?.cleanup();
  }, 60_000);

  async function approve(user: (typeof users)[number]): Promise<string> {
    let mark = await api.mark();
    await api.sendText(user, '/start');
    const request = await api.waitForMessage(ADMIN.id, (m) => buttonsOf(m).some((x) => x.callback_data === `apr:${user.id}`), 15_000, mark);
    mark = await api.mark();
    await api.pressButton(ADMIN, request.message, `apr:${user.id}`);
    const doc = await api.waitForMessage(user.id, (m) => m.method === 'sendDocument', 20_000, mark);
    return Object.values(doc.files)[0]!.data.toString();
  }

  const nodeOf = (conf: string) => nodes.find((n) => conf.includes(`Endpoint = ${n.node.endpointIp}:`))!;

  it('peers spread over both nodes and each config brings up a tunnel through its own node; a node whose sshd stops is marked down, the other keeps working', async () => {
    const conf1 = await approve(users[0]!);
    const conf2 = await approve(users[1]!);
    const [n1, n2] = [nodeOf(conf1), nodeOf(conf2)];
    expect(n1).toBeDefined();
    expect(n2).toBeDefined();
    expect(n1.name).not.toBe(n2.name);
    for (const n of nodes) {
      // The interface lives in the node's namespace, with exactly the peer the bot put there.
      const dump = (await lab.exec(n.node.ns, [tool, 'show', n.iface, 'dump'])).stdout.trim().split('\n');
      expect(dump).toHaveLength(2);
      const conf = await fs.stat(path.join(lab.tmpDir, `${n.name}-conf`, `${n.iface}.conf`));
      expect(conf.mode & 0o777).toBe(0o600);
    }

    // Through each node (one tunnel at a time in the one client namespace).
    for (const [conf, n] of [[conf1, n1], [conf2, n2]] as const) {
      const dev = `avc${n.name[0]}${lab.suffix}`;
      await lab.bringUpClient(variant.flavor, conf, dev);
      expect(await pingsWithin(lab, n.serverIp, 20_000)).toBe(true);
      await lab.wgQuickDown(lab.clientNs, dev);
    }

    // One node goes dark: its sshd and every session stop (the interface itself keeps running).
    const dead = n1;
    const alive = n2;
    let mark = await api.mark();
    await dead.node.sshd.stop();
    const alert = await api.waitForMessage(ADMIN.id, (m) => /failed 3 times in a row/.test(m.message.text ?? ''), 30_000, mark);
    expect(alert.message.text).toContain(dead.name);
    // /nodes shows it down.
    mark = await api.mark();
    await api.sendText(ADMIN, '/nodes');
    const list = await api.waitForMessage(ADMIN.id, (m) => /VPN nodes/.test(m.message.text ?? ''), 10_000, mark);
    expect(list.message.text).toMatch(new RegExp(`^${dead.name} · .* not answering since`, 'm'));
    expect(list.message.text).toMatch(new RegExp(`^${alive.name} · .* ✅ up`, 'm'));

    // New approvals go to the node that answers, and its tunnel works.
    const conf3 = await approve(users[2]!);
    expect(nodeOf(conf3).name).toBe(alive.name);
    const dev3 = `avc3${lab.suffix}`;
    await lab.bringUpClient(variant.flavor, conf3, dev3);
    expect(await pingsWithin(lab, alive.serverIp, 20_000)).toBe(true);
    await lab.wgQuickDown(lab.clientNs, dev3);

    // Back: the node is up again, alerted once more ("works again"), and no alert repeats meanwhile.
    mark = await api.mark();
    await dead.node.sshd.start();
    await api.waitForMessage(ADMIN.id, (m) => /works again/.test(m.message.text ?? ''), 30_000, mark);
    const failing = (await api.calls()).filter((c) => c.method === 'sendMessage' && /failed 3 times in a row/.test(String(c.params.text ?? '')));
    expect(failing).toHaveLength(1);
  }, 240_000);
});
