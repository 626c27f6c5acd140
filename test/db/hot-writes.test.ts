import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/db/infra/group-commit.js';
import type { Db } from '../../src/db/index.js';
import { compiledOnce } from '../../src/db/infra/compiled.js';
import { getCaptcha, putCaptcha, startCaptcha } from '../../src/db/captchas.js';
import { chatState, chooseChatLocale } from '../../src/db/chat-locales.js';
import { requestAccess } from '../../src/db/users.js';
import { openTestDatabase } from '../support/database.js';

const captcha = (user_id: number) => ({ user_id, nonce: `n${user_id}`, answer: 7, expires_at: 1_000 });

describe('GroupCommit and compiledOnce on a real database', () => {
  let dir: string;
  let db: Db;
  let close: () => Promise<void>;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'avpn-group-'));
    ({ db, close } = await openTestDatabase(dir));
  });
  afterEach(async () => {
    await close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes asked for in one turn share one transaction; each caller gets its own result after the commit', async () => {
    const group = new GroupCommit(db);
    const seen: Db[] = [];
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((id) =>
        group.run(async (trx) => {
          seen.push(trx);
          return startCaptcha(trx, captcha(id), 0).then((stored) => `${id}:${stored}`);
        }),
      ),
    );
    expect(results).toEqual(['1:0', '2:0', '3:0', '4:0', '5:0']);
    expect(new Set(seen).size).toBe(1);
    expect(seen[0]!.isTransaction).toBe(true);
    for (const id of [1, 2, 3, 4, 5]) expect((await getCaptcha(db, id))?.nonce).toBe(`n${id}`);
    // A later turn gets a transaction of its own.
    const later: Db[] = [];
    await Promise.all(
      [6, 7].map((id) =>
        group.run((trx) => {
          later.push(trx);
          return startCaptcha(trx, captcha(id), 0);
        }),
      ),
    );
    expect(new Set(later).size).toBe(1);
    expect(later[0]).not.toBe(seen[0]);
  });

  it('a write that fails fails only its own caller; the others are stored', async () => {
    const group = new GroupCommit(db);
    const outcomes = await Promise.allSettled([
      group.run((trx) => startCaptcha(trx, captcha(1), 0)),
      // NOT NULL violated: the shared transaction fails with it.
      group.run((trx) => trx.insertInto('captchas').values({ ...captcha(2), attempts: 0, nonce: null as unknown as string }).execute()),
      group.run((trx) => startCaptcha(trx, captcha(3), 0)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/null/i);
    expect(await getCaptcha(db, 1)).toBeDefined();
    expect(await getCaptcha(db, 2)).toBeUndefined();
    expect(await getCaptcha(db, 3)).toBeDefined();
  });

  it('startCaptcha does not replace a question while its user cools down, and does once the cooldown is over (the wrong answers counted again from 0)', async () => {
    await putCaptcha(db, { ...captcha(1), attempts: 3, cooldown_until: 5_000 });
    expect(await startCaptcha(db, { ...captcha(1), nonce: 'new' }, 4_999)).toBeNull();
    expect((await getCaptcha(db, 1))?.nonce).toBe('n1');
    expect(await startCaptcha(db, { ...captcha(1), nonce: 'new' }, 5_000)).toBe(0);
    expect(await getCaptcha(db, 1)).toMatchObject({ nonce: 'new', cooldown_until: null, attempts: 0 });
    // Without a cooldown, a new question keeps the wrong answers so far.
    await putCaptcha(db, { ...captcha(2), attempts: 2, cooldown_until: null });
    expect(await startCaptcha(db, { ...captcha(2), nonce: 'again' }, 6_000)).toBe(2);
  });

  it('a query compiled once runs with each call\'s own arguments', async () => {
    const nonceOf = compiledOnce((db, userId: number) => db.selectFrom('captchas').select('nonce').where('user_id', '=', userId));
    for (const id of [1, 2, 3]) await startCaptcha(db, captcha(id), 0);
    expect(await nonceOf(db, 2)).toEqual([{ nonce: 'n2' }]);
    expect(await nonceOf(db, 3)).toEqual([{ nonce: 'n3' }]);
    expect(await nonceOf(db, 4)).toEqual([]);
    // chatState is one: a newcomer, a user without a language row, a user who chose one.
    await requestAccess(db, { id: 10, first_name: 'Ann' }, 0);
    await requestAccess(db, { id: 11, first_name: 'Bob' }, 0);
    await chooseChatLocale(db, 11, 'ru');
    expect(await chatState(db, 9)).toEqual({});
    expect(await chatState(db, 10)).toMatchObject({ user: { id: 10, first_name: 'Ann', status: 'pending' } });
    expect((await chatState(db, 10)).locale).toBeUndefined();
    expect(await chatState(db, 11)).toMatchObject({ user: { id: 11, first_name: 'Bob' }, locale: { locale: 'ru', chosen: 1 } });
  });
});
