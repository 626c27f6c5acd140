import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StandInClient } from '../support/bot-api-client.js';
import { adaptConfForLab, NetnsLab, realPartsGate, run, uniqueSuffix, wgKeyPair } from '../support/netns.js';

const real = await realPartsGate();

describe('helpers without real parts', () => {
  it('uniqueSuffix is 5 chars of [a-z0-9]', () => {
    expect(uniqueSuffix()).toMatch(/^[a-z0-9]{5}$/);
  });

  it('adaptConfForLab drops DNS and splits default routes', () => {
    const conf = '[Interface]\nAddress = 10.8.0.2/32\nDNS = 1.1.1.1, 8.8.8.8\n\n[Peer]\nAllowedIPs = 0.0.0.0/0, ::/0\n';
    expect(adaptConfForLab(conf)).toBe(
      '[Interface]\nAddress = 10.8.0.2/32\n\n[Peer]\nAllowedIPs = 0.0.0.0/1, 128.0.0.0/1, ::/1, 8000::/1\n',
    );
  });

  it('adaptConfForLab keeps AmneziaWG lines byte for byte: awg-quick keeps the spaces of I1–I5 only at column 0', () => {
    const awg = 'Jc = 4\nS1 = 20\nH1 = 100000-200000\nI1 = <b 0xc0ffee00> <r 24> <t>\nI2 = <r  16>\n';
    expect(adaptConfForLab(`[Interface]\n${awg}DNS = 1.1.1.1\n`)).toBe(`[Interface]\n${awg}`);
  });
});

describe.skipIf(!real)('NetnsLab: a real WireGuard tunnel between two namespaces', () => {
  let lab: NetnsLab | undefined;
  let names: string[] = [];
  let standIn: StandInClient | undefined;

  beforeAll(async () => {
    lab = await NetnsLab.create();
    names = [lab.serverNs, lab.clientNs];
  }, 30_000);

  afterAll(async () => {
    await standIn?.stop();
    await lab?.cleanup();
    const { stdout } = await run(['ip', 'netns', 'list']);
    for (const ns of names) expect(stdout).not.toContain(ns);
    const ps = await run(['ps', '-eo', 'pid,stat,args']);
    expect(ps.stdout).not.toMatch(new RegExp(`wireguard-go (wgs|wgc)${lab?.suffix ?? 'none'}`));
  }, 30_000);

  it('brings up server and client, pings through the tunnel and counts bytes', async () => {
    if (!lab) throw new Error('no lab');
    const server = await wgKeyPair();
    const client = await wgKeyPair();
    const sIf = `wgs${lab.suffix}`;
    const cIf = `wgc${lab.suffix}`;
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const tunnel = `10.${100 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;

    await lab.wgQuickUp(
      'wireguard',
      lab.serverNs,
      `[Interface]\nPrivateKey = ${server.privateKey}\nAddress = ${tunnel}.1/24\nListenPort = ${port}\n`,
      sIf,
    );
    await lab.exec(lab.serverNs, ['wg', 'set', sIf, 'peer', client.publicKey, 'allowed-ips', `${tunnel}.2/32`]);

    await lab.bringUpClient(
      'wireguard',
      [
        '[Interface]',
        `PrivateKey = ${client.privateKey}`,
        `Address = ${tunnel}.2/32`,
        'DNS = 1.1.1.1',
        '',
        '[Peer]',
        `PublicKey = ${server.publicKey}`,
        `Endpoint = ${lab.serverIp}:${port}`,
        'AllowedIPs = 0.0.0.0/0, ::/0',
        'PersistentKeepalive = 25',
      ].join('\n'),
      cIf,
    );

    expect(await lab.ping(lab.clientNs, lab.serverIp, 1)).toBe(true); // the veth itself
    expect(await lab.ping(lab.clientNs, `${tunnel}.1`, 3)).toBe(true);

    const { stdout } = await lab.exec(lab.serverNs, ['wg', 'show', sIf, 'dump']);
    const peer = stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'))
      .find((f) => f[0] === client.publicKey);
    expect(peer).toBeDefined();
    expect(Number(peer?.[4])).toBeGreaterThan(0); // latest handshake
    expect(Number(peer?.[5])).toBeGreaterThan(0); // rx bytes
    expect(peer?.[2]).toMatch(new RegExp(`^${lab.clientIp.replace(/\./g, '\\.')}:\\d+$`));
  }, 60_000);

  it('wgQuickUp reports a failing wg-quick with its log', async () => {
    if (!lab) throw new Error('no lab');
    const bad = `wgx${lab.suffix}`;
    await expect(lab.wgQuickUp('wireguard', lab.clientNs, '[Interface]\nPrivateKey = not-a-key\n', bad)).rejects.toThrow(
      new RegExp(`wg-quick up ${bad} in ${lab.clientNs} failed`),
    );
    const links = await lab.exec(lab.clientNs, ['ip', '-o', 'link']);
    expect(links.stdout).not.toContain(bad);
  }, 30_000);

  it('runs the Bot API stand-in inside the namespace, reachable there and controlled from outside', async () => {
    if (!lab) throw new Error('no lab');
    const token = '42:netns-token';
    standIn = await StandInClient.start({ netns: lab.serverNs, token });
    // A tiny "bot" inside the namespace: one long poll, then a reply.
    const script = `
      const root = ${JSON.stringify(standIn.apiRoot)} + '/bot' + ${JSON.stringify(token)};
      const call = async (m, p) => (await fetch(root + '/' + m, { method: 'POST',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(p) })).json();
      const r = await call('getUpdates', { timeout: 10 });
      const u = r.result[0];
      await call('sendMessage', { chat_id: u.message.chat.id, text: 'echo: ' + u.message.text });
      console.log('replied');
    `;
    const bot = lab.spawn(lab.serverNs, [process.execPath, '--input-type=module', '-e', script]);
    await new Promise((r) => setTimeout(r, 300));
    await standIn.sendText({ id: 7, first_name: 'Bob' }, 'ping');
    const msg = await standIn.waitForMessage(7, (m) => m.message.text === 'echo: ping', 10_000);
    expect(msg.message.chat).toMatchObject({ id: 7, type: 'private', first_name: 'Bob' });
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    expect(bot.output()).toContain('replied');
    // The stand-in's port is on the namespace's loopback, not the host's.
    const fromHost = await fetch(`${standIn.apiRoot}/bot${token}/getMe`).then(
      async (r) => ((await r.json().catch(() => null)) as { result?: { id?: number } } | null)?.result?.id === 42,
      () => false,
    );
    expect(fromHost).toBe(false);
  }, 30_000);
});
