import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StandInClient } from '../support/bot-api-client.js';
import { botEnv, buttonsOf, gatedVariants, pingsWithin, startBot } from '../support/e2e.js';
import { flavorTools, NetnsLab, type LabProcess, realPartsGate, run } from '../support/netns.js';

// Devices on a real tunnel: the built bot (dist/main.js) in a server namespace with a real
// interface of each tunnel variant; one user gets a second device through /devices, each device's
// config brings up a client that pings the server, and deleting a device through the bot cuts it
// off at once while the other keeps working. The two clients take turns in the one client
// namespace: both would route the same server address.

const variants = await gatedVariants(await realPartsGate());
const TOKEN = '424242:e2e-devices-token';
const ADMIN = { id: 111501, first_name: 'Admin', username: 'boss', language_code: 'en' };
const USER = { id: 222502, first_name: 'Dana', username: 'dana', language_code: 'en' };

for (const variant of variants) describe.skipIf(!variant.ready)(`devices end to end on a real tunnel (${variant.name})`, () => {
  const { tool } = flavorTools(variant.flavor);
  let lab: NetnsLab;
  let api: StandInClient;
  let bot: LabProcess | undefined;
  let iface: string;
  let serverTunnelIp: string;

  beforeAll(async () => {
    lab = await NetnsLab.create();
    api = await StandInClient.start({ token: TOKEN, netns: lab.serverNs });
    await api.knowUser(ADMIN); // the admin started the bot long ago
    let env: NodeJS.ProcessEnv;
    ({ env, iface, serverTunnelIp } = await botEnv(lab, { ...variant, token: TOKEN, apiRoot: api.apiRoot, adminId: ADMIN.id, ifacePrefix: 'avd' }));
    // Each client routes only the server's address.
    env.VPN_ALLOWED_IPS = `${serverTunnelIp}/32`;
    env.MAX_DEVICES_PER_USER = '2';
    env.CAPTCHA = 'off';
    bot = await startBot(lab, env);
  }, 90_000);

  afterAll(async () => {
    await bot?.stop(3000);
    await api?.stop();
    await lab?.cleanup();
  }, 60_000);

  it('two devices each bring up a working tunnel; a device deleted through the bot stops working at once, the other keeps working', async () => {
    // Sorted: wg lists peers by latest handshake, which changes between calls.
    const livePeers = async () => (await run([tool, 'show', iface, 'peers'])).stdout.trim().split('\n').filter(Boolean).sort();
    const dev1 = `avA${lab.suffix}`;
    const dev2 = `avB${lab.suffix}`;

    // Approval gives device 1.
    await api.sendText(USER, '/start');
    const request = await api.waitForMessage(ADMIN.id, (m) => buttonsOf(m).some((x) => x.callback_data === `apr:${USER.id}`), 15_000);
    let mark = await api.mark();
    await api.pressButton(ADMIN, request.message, `apr:${USER.id}`);
    const doc1 = await api.waitForMessage(USER.id, (m) => m.method === 'sendDocument', 15_000, mark);
    const conf1 = Object.values(doc1.files)[0]!.data.toString();
    expect(conf1).toContain(`AllowedIPs = ${serverTunnelIp}/32`);

    // /devices → Add → a reply to the name prompt gives device 2.
    mark = await api.mark();
    await api.sendText(USER, '/devices');
    const list = await api.waitForMessage(USER.id, (m) => /Your devices/.test(m.message.text ?? ''), 10_000, mark);
    expect(list.message.text).toContain('1 of 2');
    await api.pressButton(USER, list.message, 'dva');
    const prompt = await api.waitForMessage(USER.id, (m) => /Name of the new device/.test(m.message.text ?? ''), 10_000, mark);
    mark = await api.mark();
    await api.pushUpdate({
      message: {
        message_id: 900_000 + randomInt(100_000),
        date: Math.floor(Date.now() / 1000),
        chat: { id: USER.id, type: 'private', first_name: USER.first_name },
        from: { is_bot: false, ...USER },
        text: 'Ноутбук',
        reply_to_message: prompt.message,
      },
    });
    const doc2 = await api.waitForMessage(USER.id, (m) => m.method === 'sendDocument', 15_000, mark);
    const conf2 = Object.values(doc2.files)[0]!.data.toString();
    expect(doc2.params.caption).toContain('Ноутбук');
    const address = (conf: string) => /^Address = (\S+)$/m.exec(conf)![1];
    expect(address(conf2)).not.toBe(address(conf1));
    expect(await livePeers()).toHaveLength(2);

    // Each device's tunnel works (one at a time: both route the server's address).
    await lab.bringUpClient(variant.flavor, conf1, dev1);
    expect(await pingsWithin(lab, serverTunnelIp, 20_000)).toBe(true);
    await lab.wgQuickDown(lab.clientNs, dev1);
    await lab.bringUpClient(variant.flavor, conf2, dev2);
    expect(await pingsWithin(lab, serverTunnelIp, 20_000)).toBe(true);

    // Delete device 2 through the bot: asked to confirm, then gone from the live interface.
    mark = await api.mark();
    await api.sendText(USER, '/devices');
    const list2 = await api.waitForMessage(USER.id, (m) => /Your devices/.test(m.message.text ?? ''), 10_000, mark);
    expect(list2.message.text).toContain('2 of 2');
    const del = buttonsOf(list2).filter((b) => b.callback_data?.startsWith('dvd:'));
    expect(del).toHaveLength(2);
    const peer2Id = del[1]!.callback_data!.slice('dvd:'.length);
    const before = await livePeers();
    await api.pressButton(USER, list2.message, `dvd:${peer2Id}`);
    await api.waitFor((c) => c.method === 'editMessageText' && /Delete <b>Ноутбук<\/b>/.test(String(c.params.text ?? '')), 10_000, mark);
    expect(await livePeers()).toEqual(before);
    await api.pressButton(USER, list2.message, `dvy:${peer2Id}`);
    await api.waitFor((c) => c.method === 'editMessageText' && /Ноутбук<\/b> deleted/.test(String(c.params.text ?? '')), 10_000, mark);
    expect(await livePeers()).toHaveLength(1);

    // Device 2's handshake no longer works: no ping, and no new handshake.
    expect(await lab.ping(lab.clientNs, serverTunnelIp, 3)).toBe(false);
    const hs = (await lab.exec(lab.clientNs, [tool, 'show', dev2, 'latest-handshakes'])).stdout.trim().split('\t')[1];
    await new Promise((r) => setTimeout(r, 6000));
    expect(await lab.ping(lab.clientNs, serverTunnelIp, 2)).toBe(false);
    expect((await lab.exec(lab.clientNs, [tool, 'show', dev2, 'latest-handshakes'])).stdout.trim().split('\t')[1]).toBe(hs);
    await lab.wgQuickDown(lab.clientNs, dev2);

    // Device 1 still works.
    await lab.bringUpClient(variant.flavor, conf1, dev1);
    expect(await pingsWithin(lab, serverTunnelIp, 30_000)).toBe(true);
  }, 180_000);
});
