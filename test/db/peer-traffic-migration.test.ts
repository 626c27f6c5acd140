import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type Db, migrate } from '../../src/db/index.js';
import { peersOfUser } from '../../src/db/peers.js';
import { openTestDatabase } from '../support/database.js';

// Migration 0007 moves each peer's traffic state out of `peers` into `peer_traffic`: a database
// of the previous version keeps every total, baseline and handshake.
describe('migration 0007: peer_traffic', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });

  /** A database migrated up to `to`, removed after the test. */
  const open = async (to: string): Promise<Db> => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-m7-'));
    const { db, close } = await openTestDatabase(dir, to);
    cleanup.push(() => fs.rm(dir, { recursive: true, force: true }), close);
    return db;
  };

  it('copies totals, baselines and handshakes of existing peers, and drops them from peers', async () => {
    const db = await open('0006_nodes');
    await sql`insert into users (id, first_name, status, created_at, updated_at) values (7, 'A', 'active', 0, 0)`.execute(db);
    await sql`
      insert into peers (user_id, node, public_key, private_key, preshared_key, ip, status, created_at, rx_total, tx_total, rx_last, tx_last, last_handshake_at)
      values (7, 'awg0', 'k1', 'p', 'q', '10.8.0.2', 'active', 0, 100, 200, 30, 40, 5000), (7, 'awg0', 'k2', 'p', 'q', '10.8.0.3', 'disabled', 0, 1, 2, 0, 0, null)`.execute(db);
    await migrate(db);
    const rows = await db.selectFrom('peer_traffic').select(['rx_total', 'tx_total', 'rx_last', 'tx_last', 'last_handshake_at', 'pending_hour', 'pending_rx']).orderBy('peer_id').execute();
    expect(rows).toEqual([
      { rx_total: 100, tx_total: 200, rx_last: 30, tx_last: 40, last_handshake_at: 5000, pending_hour: null, pending_rx: 0 },
      { rx_total: 1, tx_total: 2, rx_last: 0, tx_last: 0, last_handshake_at: null, pending_hour: null, pending_rx: 0 },
    ]);
    expect((await peersOfUser(db, 7)).map((p) => [p.public_key, p.rx_total, p.tx_total, p.last_handshake_at])).toEqual([
      ['k1', 100, 200, 5000],
      ['k2', 1, 2, null],
    ]);
    await expect(sql`select rx_total from peers`.execute(db)).rejects.toThrow(/rx_total/);
  });
});
