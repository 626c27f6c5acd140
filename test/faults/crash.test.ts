import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deletePeer, insertPeer, peersOfUser } from '../../src/db/peers.js';
import { findUser, transitionUser } from '../../src/db/users.js';
import { generateKeyPair, generatePresharedKey } from '../../src/vpn/keys.js';
import { toWire } from '../../src/vpn/types.js';
import { refuseInserts } from '../support/database.js';
import { ADMIN_A, createHarness, type Harness } from '../support/harness.js';
import type { From } from '../support/recorder.js';

// A SIGKILL leaves exactly what was persisted: the database and the interface. Each case
// builds the state that a kill at one step of an approval leaves, then starts again the way
// main.ts does (vpn.start() reconciles, the leader's recovery finishes) and checks the invariants:
// the user is active with exactly one peer, on the interface and in the config file, and has
// the config; never a peer on the interface the database does not know.

const USER: From = { id: 4242, first_name: 'Vera', language_code: 'en' };

type Step = (h: Harness) => Promise<void>;

const steps: [string, Step][] = [
  ['status set to provisioning', async (h) => {
    await transitionUser(h.db, USER.id, 'pending', 'provisioning', ADMIN_A.id, 1);
  }],
  ['peer row stored', async (h) => {
    await transitionUser(h.db, USER.id, 'pending', 'provisioning', ADMIN_A.id, 1);
    const k = generateKeyPair();
    await insertPeer(h.db, { user_id: USER.id, node: 'awg0', public_key: k.publicKey, private_key: k.privateKey, preshared_key: generatePresharedKey(), ip: '10.8.0.2' }, 1);
  }],
  ['peer on the interface, config file not written', async (h) => {
    await transitionUser(h.db, USER.id, 'pending', 'provisioning', ADMIN_A.id, 1);
    const k = generateKeyPair();
    const p = await insertPeer(h.db, { user_id: USER.id, node: 'awg0', public_key: k.publicKey, private_key: k.privateKey, preshared_key: generatePresharedKey(), ip: '10.8.0.2' }, 1);
    await h.wg.setPeer('awg0', toWire(p));
  }],
  ['everything but the status change', async (h) => {
    await transitionUser(h.db, USER.id, 'pending', 'provisioning', ADMIN_A.id, 1);
    const p = await h.fleet.addPeer(USER.id);
    expect(p.ip).toBe('10.8.0.2');
  }],
  ['active, config not delivered yet', async (h) => {
    await transitionUser(h.db, USER.id, 'pending', 'provisioning', ADMIN_A.id, 1);
    await h.fleet.addPeer(USER.id);
    await transitionUser(h.db, USER.id, 'provisioning', 'active', ADMIN_A.id, 1);
  }],
  ['fully done', async (h) => {
    await h.press(ADMIN_A, `apr:${USER.id}`);
  }],
];

describe('killed during an approval, then restarted', () => {
  it.each(steps)('after "%s" the restart finishes the approval', async (_name, step) => {
    const first = await createHarness({ captcha: false });
    await first.send(USER, '/start');
    await step(first);
    await first.crash();

    const h = await createHarness({ captcha: false, restartOf: { dir: first.dir, wg: first.wg, telegram: first.rec.state } });
    try {
      await h.recover();
      expect((await findUser(h.db, USER.id))?.status).toBe('active');
      const peers = await peersOfUser(h.db, USER.id);
      expect(peers).toHaveLength(1);
      const [peer] = peers;
      expect([...h.wg.peers.keys()]).toEqual([peer!.public_key]);
      expect(h.wg.peers.get(peer!.public_key)).toMatchObject({ ip: peer!.ip, presharedKey: peer!.preshared_key });
      // The config file follows the interface within a second (see VpnService.configChanged); catch it up now.
      await h.fleet.node('awg0').flushConfig();
      expect(await fs.readFile(path.join(h.dir, 'conf', 'awg0.conf'), 'utf8')).toContain(peer!.public_key);
      expect(peer!.delivered_at ?? (await peersOfUser(h.db, USER.id))[0]!.delivered_at).not.toBeNull();
      const delivered = first.rec.find('sendDocument', USER.id).length + h.rec.find('sendDocument', USER.id).length;
      expect(delivered).toBe(1);
    } finally {
      await h.close();
    }
  });

  it('a revoked peer that a crash left on the interface is removed at start; a peer the DB never knew is kept unless RECONCILE_REMOVE_UNKNOWN', async () => {
    const first = await createHarness({ captcha: false });
    await first.send(USER, '/start');
    await first.press(ADMIN_A, `apr:${USER.id}`);
    const [peer] = await peersOfUser(first.db, USER.id);
    // Revoke got as far as the database: the peer row is gone, the interface still has it.
    await deletePeer(first.db, peer!, 2);
    const stray = generateKeyPair().publicKey;
    await first.wg.setPeer('awg0', { publicKey: stray, presharedKey: generatePresharedKey(), ip: '10.8.0.9' });
    await first.crash();

    const h = await createHarness({ captcha: false, restartOf: { dir: first.dir, wg: first.wg, telegram: first.rec.state } });
    expect(h.wg.peers.has(peer!.public_key)).toBe(false);
    expect(h.wg.peers.has(stray)).toBe(true);
    await h.crash();
    const strict = await createHarness({ captcha: false, removeUnknown: true, restartOf: { dir: first.dir, wg: first.wg, telegram: first.rec.state } });
    expect(strict.wg.peers.size).toBe(0);
    await strict.close();
  });

  it("the approval's last write fails: back to pending with no peer anywhere, and a retry approves", async () => {
    const h = await createHarness({ captcha: false });
    try {
      await h.send(USER, '/start');
      const undo = await refuseInserts(h.db, 'audit_log', 'action', 'approve');
      await h.press(ADMIN_A, `apr:${USER.id}`);
      expect((await findUser(h.db, USER.id))?.status).toBe('pending');
      expect(await peersOfUser(h.db, USER.id)).toHaveLength(0);
      expect(h.wg.peers.size).toBe(0);
      await undo();
      await h.press(ADMIN_A, `apr:${USER.id}`);
      expect((await findUser(h.db, USER.id))?.status).toBe('active');
      expect(await peersOfUser(h.db, USER.id)).toHaveLength(1);
      expect(h.rec.find('sendDocument', USER.id)).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it('an interrupted approval whose finishing write fails: the peer it left goes too, from the database and the interface', async () => {
    const first = await createHarness({ captcha: false });
    await first.send(USER, '/start');
    await transitionUser(first.db, USER.id, 'pending', 'provisioning', ADMIN_A.id, 1);
    const left = await first.fleet.addPeer(USER.id);
    await first.crash();
    const h = await createHarness({ captcha: false, restartOf: { dir: first.dir, wg: first.wg, telegram: first.rec.state } });
    try {
      expect(h.wg.peers.has(left.public_key)).toBe(true); // reconcile put it back at start
      await refuseInserts(h.db, 'audit_log', 'action', 'approve');
      await h.recover();
      expect((await findUser(h.db, USER.id))?.status).toBe('pending');
      expect(await peersOfUser(h.db, USER.id)).toHaveLength(0);
      expect(h.wg.peers.size).toBe(0);
      expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Access request');
    } finally {
      await h.close();
    }
  });

  it('when the interrupted approval cannot be finished, the user is back to pending and the admins are asked again', async () => {
    const first = await createHarness({ captcha: false });
    await first.send(USER, '/start');
    await transitionUser(first.db, USER.id, 'pending', 'provisioning', ADMIN_A.id, 1);
    await first.crash();
    const h = await createHarness({ captcha: false, restartOf: { dir: first.dir, wg: first.wg, telegram: first.rec.state } });
    try {
      h.wg.failing = 'Operation not permitted';
      await h.recover();
      expect((await findUser(h.db, USER.id))?.status).toBe('pending');
      expect(await peersOfUser(h.db, USER.id)).toHaveLength(0);
      expect(h.rec.last('sendMessage', ADMIN_A.id)?.payload.text).toContain('Access request');
      expect(h.rec.find('sendDocument', USER.id)).toHaveLength(0);
    } finally {
      await h.close();
    }
  });
});

