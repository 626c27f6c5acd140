import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AudienceChoice, audienceUsers, countAudience } from '../../src/db/broadcast-audiences.js';
import { createDraft, setDraftAudience, startBroadcast } from '../../src/db/broadcasts.js';
import { chooseChatLocale, setChatLocale } from '../../src/db/chat-locales.js';
import type { Db } from '../../src/db/index.js';
import { insertPeer } from '../../src/db/peers.js';
import type { UserStatus } from '../../src/db/schema.js';
import { openTestDatabase } from '../support/database.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 15, 12);
const env = { now: NOW, defaultLocale: 'en' };

interface Someone {
  id: number;
  status?: UserStatus;
  blocked?: boolean;
  quota?: number;
  usage?: number;
  topup?: number;
  expiresIn?: number;
  locale?: { locale: string; chosen: boolean };
  /** node, last handshake (ms before NOW; null: never), traffic not yet in usage_bytes. */
  peers?: { node: string; handshakeAgo: number | null; pending?: [number, number] }[];
}

// Each user is in (or out of) each audience for one stated reason.
const PEOPLE: Someone[] = [
  { id: 101, peers: [{ node: 'awg0', handshakeAgo: 1 * DAY }], locale: { locale: 'ru', chosen: true }, expiresIn: 3 * DAY },
  { id: 102, peers: [{ node: 'awg0', handshakeAgo: 8 * DAY }, { node: 'nl1', handshakeAgo: null }], locale: { locale: 'en', chosen: false }, expiresIn: 5 * DAY },
  { id: 103, expiresIn: -1 }, // no device at all: never connected; expired a moment ago
  // 700 + 100 pending of 1000: exactly 80 %; never connected; expires 1 ms after 14 days
  { id: 104, peers: [{ node: 'nl1', handshakeAgo: null, pending: [60, 40] }], locale: { locale: 'ru', chosen: false }, quota: 1000, usage: 700, expiresIn: 14 * DAY + 1 },
  // last handshake exactly 7 days ago; 79.9 %; expires exactly in 14 days
  { id: 105, peers: [{ node: 'awg0', handshakeAgo: 7 * DAY }], quota: 1000, usage: 799, expiresIn: 14 * DAY },
  // blocked the bot: in no audience, although inactive, over quota, expiring, on awg0
  { id: 106, blocked: true, peers: [{ node: 'awg0', handshakeAgo: 20 * DAY }], quota: 10, usage: 10, expiresIn: DAY },
  { id: 107, status: 'pending' },
  { id: 108, status: 'disabled', peers: [{ node: 'awg0', handshakeAgo: 40 * DAY }], expiresIn: DAY },
  { id: 109, status: 'limited', peers: [{ node: 'nl1', handshakeAgo: 40 * DAY }], quota: 100, usage: 500 },
  // unlimited however much traffic; recent handshake on nl1
  { id: 110, peers: [{ node: 'nl1', handshakeAgo: 60_000, pending: [5, 5] }], locale: { locale: 'en', chosen: true }, usage: 10 ** 12 },
  // 900 of 1000 with pending traffic on someone else's peer not counted; 91 days without a handshake
  { id: 111, peers: [{ node: 'nl1', handshakeAgo: 91 * DAY }], quota: 1000, usage: 900 },
  // 850 of 1000 but a top-up of 200 this period: 71 % of the allowance
  { id: 112, peers: [{ node: 'nl1', handshakeAgo: 60_000 }], locale: { locale: 'ru', chosen: true }, quota: 1000, usage: 850, topup: 200 },
];

const EXPECTED: [AudienceChoice, number[]][] = [
  [{ audience: 'active', arg: null }, [101, 102, 103, 104, 105, 110, 111, 112]],
  [{ audience: 'all', arg: null }, [101, 102, 103, 104, 105, 107, 108, 109, 110, 111, 112]],
  [{ audience: 'pending', arg: null }, [107]],
  [{ audience: 'inactive', arg: '7' }, [102, 103, 104, 105, 111]],
  [{ audience: 'inactive', arg: '14' }, [103, 104, 111]],
  [{ audience: 'inactive', arg: '30' }, [103, 104, 111]],
  // 109 is already paused by its quota.
  [{ audience: 'quota', arg: null }, [104, 109, 111]],
  [{ audience: 'expiring', arg: '3' }, [101]],
  [{ audience: 'expiring', arg: '7' }, [101, 102]],
  [{ audience: 'expiring', arg: '14' }, [101, 102, 105]],
  [{ audience: 'node', arg: 'awg0' }, [101, 102, 105]],
  [{ audience: 'node', arg: 'nl1' }, [102, 104, 110, 111, 112]],
  [{ audience: 'node', arg: 'gone' }, []],
  [{ audience: 'language', arg: 'ru' }, [101, 104, 112]],
  // 103, 105 and 111 have no stored language: they count as the default one.
  [{ audience: 'language', arg: 'en' }, [102, 103, 105, 110, 111]],
];

async function build(db: Db): Promise<void> {
  for (const p of PEOPLE) {
    await db
      .insertInto('users')
      .values({
        id: p.id,
        first_name: `U${p.id}`,
        status: p.status ?? 'active',
        created_at: 0,
        updated_at: 0,
        blocked_at: p.blocked ? NOW - DAY : null,
        quota_bytes: p.quota ?? null,
        usage_bytes: p.usage ?? 0,
        topup_bytes: p.topup ?? 0,
        expires_at: p.expiresIn === undefined ? null : NOW + p.expiresIn,
      })
      .execute();
    if (p.locale?.chosen) await chooseChatLocale(db, p.id, p.locale.locale);
    else if (p.locale) await setChatLocale(db, p.id, p.locale.locale);
    for (const [i, peer] of (p.peers ?? []).entries()) {
      const row = await insertPeer(db, { user_id: p.id, node: peer.node, public_key: `k${p.id}-${i}`, private_key: 'p', preshared_key: 'q', ip: `10.0.${p.id - 100}.${i + 2}` }, 0);
      const [rx, tx] = peer.pending ?? [0, 0];
      await db
        .updateTable('peer_traffic')
        .set({ last_handshake_at: peer.handshakeAgo === null ? null : NOW - peer.handshakeAgo, pending_hour: rx + tx ? NOW - (NOW % 3_600_000) : null, pending_rx: rx, pending_tx: tx })
        .where('peer_id', '=', row.id)
        .execute();
    }
  }
}

describe('broadcast audiences on a real database', () => {
  let dir: string;
  let db: Db;
  let close: () => Promise<void>;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-aud-'));
    ({ db, close } = await openTestDatabase(dir));
    await build(db);
  });
  afterEach(async () => {
    await close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it.each(EXPECTED)('%o selects exactly its users; the count is the number of deliveries Send makes', async (choice, ids) => {
    const rows = await audienceUsers(db, choice, env).execute();
    expect(rows.map((r) => Number(r.id)).sort()).toEqual(ids);
    expect(await countAudience(db, choice, env)).toBe(ids.length);

    const draft = await createDraft(db, 900001, { kind: 'text', text: 'hi', entities: null, photo: null }, NOW);
    expect(await setDraftAudience(db, draft.id, choice)).toBe(true);
    expect(await startBroadcast(db, draft.id, { chatId: 900001, messageId: 1 }, env)).toBe(ids.length);
    const deliveries = await db.selectFrom('broadcast_deliveries').select('user_id').where('broadcast_id', '=', draft.id).orderBy('user_id').execute();
    expect(deliveries.map((d) => Number(d.user_id))).toEqual(ids);
    expect(await db.selectFrom('broadcasts').select(['audience', 'audience_arg']).where('id', '=', draft.id).executeTakeFirst()).toEqual({ audience: choice.audience, audience_arg: choice.arg });
  });

  it('the injected clock moves the audiences', async () => {
    const ids = async (choice: AudienceChoice, now: number) => (await audienceUsers(db, choice, { ...env, now }).execute()).map((r) => Number(r.id)).sort();
    // 101's last handshake was a day before NOW: 7 days without one at NOW + 6 days.
    expect(await ids({ audience: 'inactive', arg: '7' }, NOW + 6 * DAY - 1)).toEqual([102, 103, 104, 105, 111]);
    expect(await ids({ audience: 'inactive', arg: '7' }, NOW + 6 * DAY)).toEqual([101, 102, 103, 104, 105, 111]);
    expect(await ids({ audience: 'expiring', arg: '3' }, NOW + DAY)).toEqual([101]);
    // Three days on, 101's access ends that very moment (not "expiring" any more) and 102's is two days off.
    expect(await ids({ audience: 'expiring', arg: '3' }, NOW + 3 * DAY)).toEqual([102]);
  });

  it('a bad stored argument fails loudly instead of reaching the wrong users', async () => {
    expect(() => audienceUsers(db, { audience: 'inactive', arg: 'x' }, env)).toThrow(/days/);
    expect(() => audienceUsers(db, { audience: 'node', arg: null }, env)).toThrow(/argument/);
  });
});
