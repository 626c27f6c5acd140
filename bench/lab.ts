import fs from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { type Db, migrate, openSqlite } from '../src/db/index.js';
import { insertPeer, markConfigQueued, markDelivered } from '../src/db/peers.js';
import { requestAccess, transitionUser } from '../src/db/users.js';
import { createRunner, type VpnRunner } from '../src/vpn/runner.js';
import type { Fleet } from '../src/vpn/fleet.js';
import { generateKeyPair, generatePresharedKey } from '../src/vpn/keys.js';
import { intToIp, parseSubnet } from '../src/vpn/pool.js';
import type { VpnSettings } from '../src/vpn/types.js';
import { singleNodeFleet } from '../test/support/harness.js';
import { run } from '../test/support/netns.js';

/** What the outer process (root namespace) hands the bench running inside the lab's server namespace. */
export interface LabInfo {
  /** In every interface name: the lab's cleanup removes what carries it. */
  suffix: string;
  /** 0700 scratch directory, removed with the lab. */
  dir: string;
}

export const silentLog = pino({ level: 'silent' });
export const ADMIN_ID = 900_001;

/** Unique names, subnets and ports for the interfaces and databases of one run. */
export class Lab {
  private n = 0;
  constructor(readonly info: LabInfo) {}

  /** `avb<n><suffix>`: ≤ 15 characters. */
  iface(): string {
    return `avb${(this.n++).toString(36)}${this.info.suffix}`;
  }

  /** A fresh /16 (65,533 clients) per interface: several may be up at once in the namespace. */
  subnet(): string {
    return `10.${64 + this.n}.0.0/16`;
  }

  /** UDP for the interface; TCP `port + 1000` for a bot's HTTP server. Below the ephemeral range, so no client socket has it. */
  port(): number {
    return 20_000 + this.n;
  }

  path(...parts: string[]): string {
    return path.join(this.info.dir, ...parts);
  }

  async db(name: string, opts: Parameters<typeof openSqlite>[1] = {}): Promise<Db> {
    const db = await openSqlite(this.path(`${name}.db`), opts);
    await migrate(db);
    return db;
  }

  /** The bot's own VpnRunner on this host (wireguard flavor). */
  runner(): VpnRunner {
    return createRunner('wireguard', { logDir: this.path('logs'), secretsDir: this.path('run') });
  }

  /** Settings of a fresh wireguard node named after its interface, clients at 127.0.0.1. */
  settings(): VpnSettings {
    const iface = this.iface();
    const port = this.port();
    return {
      node: iface,
      flavor: 'wireguard',
      iface,
      configDir: this.path('conf', iface),
      endpoint: `127.0.0.1:${port}`,
      port,
      subnet: this.subnet(),
      dns: ['1.1.1.1'],
      allowedIps: ['0.0.0.0/0'],
      awgProtocol: 1,
      nat: false,
    };
  }

  /** A one-node Fleet on a new interface, with `peers` active users already in the database; started (interface up, peers live). */
  async node(db: Db, peers: number, runner: VpnRunner = this.runner()): Promise<{ fleet: Fleet; settings: VpnSettings; seeded: SeededPeer[] }> {
    const settings = this.settings();
    const fleet = await singleNodeFleet(db, runner, settings, silentLog);
    const seeded = await seedUsers(db, { count: peers, firstId: 1, peersOn: settings });
    await fleet.start();
    return { fleet, settings, seeded };
  }
}

export interface SeededPeer {
  userId: number;
  publicKey: string;
  privateKey: string;
  presharedKey: string;
}

/**
 * Active users straight into the database through the repositories, in one transaction; with
 * `peersOn`, each gets a peer there (real keys, consecutive addresses), already delivered.
 */
export async function seedUsers(db: Db, opts: { count: number; firstId: number; peersOn?: Pick<VpnSettings, 'node' | 'subnet'> }): Promise<SeededPeer[]> {
  const seeded: SeededPeer[] = [];
  const now = Date.now();
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < opts.count; i++) {
      const id = opts.firstId + i;
      await requestAccess(trx, { id, first_name: `User ${id}` }, now);
      await transitionUser(trx, id, 'pending', 'active', ADMIN_ID, now);
      if (!opts.peersOn) continue;
      const keys = generateKeyPair();
      const ip = intToIp(parseSubnet(opts.peersOn.subnet).network + 2 + i);
      const presharedKey = generatePresharedKey();
      const peer = await insertPeer(trx, { user_id: id, node: opts.peersOn.node, public_key: keys.publicKey, private_key: keys.privateKey, preshared_key: presharedKey, ip }, now);
      await markConfigQueued(trx, [peer.id], now);
      await markDelivered(trx, peer.id, now);
      seeded.push({ userId: id, ...keys, presharedKey });
    }
  });
  return seeded;
}

/** Public keys on the interface (`wg show <if> peers`). */
export async function livePeers(iface: string): Promise<string[]> {
  return (await run(['wg', 'show', iface, 'peers'])).stdout.split('\n').filter(Boolean);
}

/** Takes the interface down (its wireguard-go exits with it); nothing when it is gone already. */
export async function dropInterface(iface: string): Promise<void> {
  await run(['ip', 'link', 'del', iface]).catch(() => {});
}

export async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

export async function mkdirPrivate(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
}
