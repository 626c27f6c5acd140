import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createDraft, findBroadcast } from '../../src/db/broadcasts.js';
import { type Db, migrate } from '../../src/db/index.js';
import { defaultTestDatabase, openTestDatabase } from '../support/database.js';

// Migration 0014 lets broadcasts.audience hold the audiences with an argument (SQLite rebuilds the
// table for it): the broadcasts and deliveries of the previous version stay as they were.
describe('migration 0014: broadcast audiences', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });

  /** A database migrated up to `to`, removed after the test. */
  const open = async (to: string): Promise<Db> => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-m14-'));
    const { db, close } = await openTestDatabase(dir, to);
    cleanup.push(() => fs.rm(dir, { recursive: true, force: true }), close);
    return db;
  };

  it('keeps old broadcasts, their deliveries, the cascade and the ids handed out; takes the new audiences, refuses unknown ones', async () => {
    const db = await open('0009_outbox_bulk');
    const row = (id: number, status: string, audience: string) =>
      sql`insert into broadcasts (id, admin_id, status, audience, kind, text, created_at) values (${id}, 1, ${status}, ${audience}, 'text', 'hi', 0)`.execute(db);
    await row(1, 'sending', 'active');
    await row(2, 'draft', 'pending');
    await row(3, 'draft', 'all');
    await sql`insert into broadcast_deliveries (broadcast_id, user_id, status, updated_at) values (1, 10, 'sent', 5), (1, 11, 'queued', 5)`.execute(db);
    // Rows given their ids here: the id counter is set as handing them out would have.
    if (defaultTestDatabase() === 'sqlite') await sql`update sqlite_sequence set seq = 3 where name = 'broadcasts'`.execute(db);
    else await sql`select setval(pg_get_serial_sequence('broadcasts', 'id'), 3)`.execute(db);
    await sql`delete from broadcasts where id = 3`.execute(db); // a discarded draft: its id is not handed out again

    await migrate(db);

    expect(await findBroadcast(db, 1)).toMatchObject({ status: 'sending', audience: 'active', audience_arg: null, text: 'hi' });
    expect(await findBroadcast(db, 2)).toMatchObject({ status: 'draft', audience: 'pending', audience_arg: null });
    const deliveries = await db.selectFrom('broadcast_deliveries').select(['user_id', 'status']).orderBy('user_id').execute();
    expect(deliveries.map((d) => [Number(d.user_id), d.status])).toEqual([
      [10, 'sent'],
      [11, 'queued'],
    ]);
    // The next draft gets a new id, never that of the deleted one.
    expect((await createDraft(db, 1, { kind: 'text', text: 'x', entities: null, photo: null }, 0)).id).toBe(4);

    await db.updateTable('broadcasts').set({ audience: 'node', audience_arg: 'awg0' }).where('id', '=', 2).execute();
    expect(await findBroadcast(db, 2)).toMatchObject({ audience: 'node', audience_arg: 'awg0' });
    await expect(sql`update broadcasts set audience = 'everyone' where id = 2`.execute(db)).rejects.toThrow(/constraint/i);
    await expect(sql`update broadcasts set status = 'lost' where id = 2`.execute(db)).rejects.toThrow(/constraint/i);
    // Deliveries still belong to their broadcast: deleting it deletes them, and an orphan is refused.
    await expect(sql`insert into broadcast_deliveries (broadcast_id, user_id, status, updated_at) values (99, 1, 'queued', 0)`.execute(db)).rejects.toThrow(/foreign key/i);
    await db.deleteFrom('broadcasts').where('id', '=', 1).execute();
    expect(await db.selectFrom('broadcast_deliveries').selectAll().execute()).toEqual([]);
  });
});
