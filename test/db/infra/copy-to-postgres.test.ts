// migrate-db: a community built on SQLite through the bot's own flows, moved into a fresh
// PostgreSQL schema, and the bot started again on that schema. Runs in the postgres project.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import SQLite from 'better-sqlite3';
import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { cb } from '../../../src/bot/callback-data.js';
import { type Db, MIGRATIONS, appliedMigrations, migrate, openSqlite } from '../../../src/db/index.js';
import { type MoveOptions, TABLE_ORDER, applicationTables } from '../../../src/db/infra/copy-to-postgres.js';
import { peersOfUser, peersOnNode } from '../../../src/db/peers.js';
import { requestAccess } from '../../../src/db/users.js';
import { startMonitor } from '../../../src/monitor/index.js';
import { runMigrateDb } from '../../../src/ops/migrate-db.js';
import { generateKeyPair } from '../../../src/vpn/keys.js';
import { attachBroadcaster, buttonData, callWithButton, draft } from '../../broadcast/support.js';
import { activeUser } from '../../devices/support.js';
import { createPostgresSchema, schemaUrl } from '../../support/database.js';
import { ADMIN_A, createHarness, type Harness } from '../../support/harness.js';
import type { From } from '../../support/recorder.js';

const ANN: From = { id: 5101, first_name: 'Ann', username: 'ann', language_code: 'en' };
const BOB: From = { id: 5102, first_name: 'Bob', language_code: 'en' };
const CID: From = { id: 5103, first_name: 'Cid', language_code: 'en' };
const DAN: From = { id: 5104, first_name: 'Dan', language_code: 'en' };
const EVE: From = { id: 5105, first_name: 'Eve', last_name: 'Über <b>', language_code: 'ru' };
const NEW: From = { id: 5106, first_name: 'Nick', language_code: 'en' };
const HOUR = 3_600_000;

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A fresh, empty PostgreSQL schema, dropped after the test. */
async function targetSchema() {
  const { schema, db, drop } = await createPostgresSchema();
  cleanup.push(drop, () => db.destroy());
  return { schema, db, url: schemaUrl(schema) };
}

/** Every row of every table, as sorted JSON lines: equal across dialects when the data is. */
async function contents(db: Db): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of TABLE_ORDER) {
    const rows = await (db as Kysely<any>).selectFrom(t).selectAll().execute();
    out[t] = rows.map((r) => JSON.stringify(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)))).sort();
  }
  return out;
}

const rowCounts = (c: Record<string, string[]>) => Object.fromEntries(Object.entries(c).map(([t, rows]) => [t, rows.length]));

async function move(from: string, to: string, opts: MoveOptions = {}) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const code = await runMigrateDb({ from, to }, { out, err }, opts);
  return { code, stdout, stderr };
}

/** A SQLite bot with one user who asked for access (and was approved, with `approved`); crash() it before the move. */
async function smallSource(approved: boolean) {
  const h = await createHarness({ database: 'sqlite', captcha: false });
  cleanup.push(() => h.close());
  await h.send(ANN, '/start');
  if (approved) await h.press(ADMIN_A, `apr:${ANN.id}`);
  return { h, file: path.join(h.dir, 'bot.db') };
}

/** A live community on SQLite, built the way the bot builds it. */
async function community(): Promise<Harness> {
  const h = await createHarness({ database: 'sqlite', captcha: true });
  const { broadcaster } = attachBroadcaster(h);
  for (const u of [ANN, CID, EVE]) await activeUser(h, u);
  // Ann's second device.
  await h.press(ANN, cb.deviceAdd.pack({}));
  await h.replyTo(ANN, h.rec.last('sendMessage', ANN.id)!, 'Laptop');
  expect(await peersOfUser(h.db, ANN.id)).toHaveLength(2);
  await activeUser(h, BOB); // the newest peer: revoked below
  // Eve picks her language.
  await h.send(EVE, '/language');
  await h.press(EVE, 'lng:ru', h.rec.last('sendMessage', EVE.id)!);

  // Traffic over two days, counted by the monitor: totals, hour and day buckets.
  const monitor = startMonitor({ db: h.db, nodes: () => h.fleet.services(), log: h.deps.log, intervalMs: HOUR, now: h.deps.now });
  try {
    const peers = await peersOnNode(h.db, 'awg0', 'active');
    for (const step of [1, 2, 3]) {
      for (const [i, p] of peers.entries()) h.wg.traffic(p.public_key, step * 1000 * (i + 1), step * 7000 * (i + 1), 1_700_000_000 + step);
      await monitor.tick();
      h.advance(13 * HOUR);
    }
  } finally {
    await monitor.stop();
  }

  // Bob revoked (his peer leaves a tombstone), Cid disabled, Dan waiting for approval.
  await h.press(ADMIN_A, `rvk:${BOB.id}`);
  await h.press(ADMIN_A, `rvy:${BOB.id}`);
  await h.press(ADMIN_A, `dis:${CID.id}`);
  await h.send(DAN, '/start');
  await h.solveCaptcha(DAN);

  // A broadcast to the active users, and an invite link.
  const { confirm, id } = await draft(h, ADMIN_A, { text: 'Maintenance at 22:00' });
  await h.press(ADMIN_A, `bcs:${id}`, confirm);
  await broadcaster.idle();
  await h.send(ADMIN_A, '/invite');
  const ask = callWithButton(h, ADMIN_A.id, 'ivu:');
  await h.press(ADMIN_A, buttonData(ask, 'ivu:'), ask);
  const expiry = callWithButton(h, ADMIN_A.id, 'ivc:');
  await h.press(ADMIN_A, buttonData(expiry, 'ivc:'), expiry);
  return h;
}

describe('migrate-db: SQLite → PostgreSQL', () => {
  it('moves every user, peer, key, total and bucket; the bot on PostgreSQL hands out the same configs and approves newcomers with fresh ids and addresses', async () => {
    const h = await community();
    cleanup.push(() => h.close());
    const file = path.join(h.dir, 'bot.db');
    const { schema, db: target, url } = await targetSchema();
    await h.crash(); // the bot is stopped for the move

    const result = await move(file, url);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const t of TABLE_ORDER) expect(result.stdout).toMatch(new RegExp(`^${t} +\\d+ +\\d+ +[0-9a-f]{16} +[0-9a-f]{16} +ok$`, 'm'));
    expect(result.stdout).toContain('every count and checksum matches');

    // Row for row the same data, and a real community in it.
    const source = await openSqlite(file, { readonly: true });
    cleanup.push(() => source.destroy());
    const before = await contents(source);
    expect(await contents(target)).toEqual(before);
    expect(await appliedMigrations(target)).toEqual([...MIGRATIONS].sort());
    const counts = rowCounts(before);
    expect(counts).toMatchObject({ users: 5, peers: 4, servers: 1, removed_peers: 1, broadcasts: 1, broadcast_deliveries: 2, invites: 1 });
    for (const t of ['traffic_hourly', 'traffic_daily', 'audit_log', 'chat_locales', 'approval_messages'] as const) expect(counts[t], t).toBeGreaterThan(0);
    const totals = (await peersOnNode(target, 'awg0')).map((p) => [p.public_key, p.private_key, p.preshared_key, p.rx_total, p.tx_total]);
    expect(totals.every(([, , , rx, tx]) => Number(rx) > 0 && Number(tx) > 0)).toBe(true);
    // Keys are copied, never printed.
    for (const [, privateKey] of totals) expect(result.stdout).not.toContain(privateKey);
    for (const [, , psk] of totals) expect(result.stdout).not.toContain(psk);

    // DATABASE_URL now points at the schema: the bot starts on it with the same interface.
    const livePeers = [...h.wg.peers.keys()].sort();
    const pg = await createHarness({ postgresSchema: schema, restartOf: { dir: h.dir, wg: h.wg, telegram: h.rec.state }, captcha: true });
    expect(pg.database).toBe('postgres');
    expect([...pg.wg.peers.keys()].sort()).toEqual(livePeers);

    // The configs users get are byte for byte the ones they got from the SQLite bot.
    await pg.send(EVE, '/config');
    const eveConf = pg.rec.last('sendDocument', EVE.id)!.files.document!.data.toString();
    expect(eveConf).toBe(h.rec.find('sendDocument', EVE.id)[0]!.files.document!.data.toString());
    const laptop = (await peersOfUser(pg.db, ANN.id)).find((p) => p.name === 'Laptop')!;
    await pg.press(ANN, cb.deviceConfig.pack({ id: laptop.id }));
    expect(pg.rec.last('sendDocument', ANN.id)!.files.document!.data.toString()).toBe(h.rec.find('sendDocument', ANN.id).at(-1)!.files.document!.data.toString());

    // A newcomer is approved: a new peer id (past every id SQLite ever used, Bob's deleted one
    // included), a new audit row, and an address nobody has.
    const maxPeerId = Math.max(...before.peers!.map((r) => (Object.fromEntries(JSON.parse(r)) as { id: number }).id));
    const usedIps = new Set((await peersOnNode(pg.db, 'awg0')).map((p) => p.ip));
    const { rows: seq } = await sql<{ seq: number }>`select seq from sqlite_sequence where name = 'peers'`.execute(source);
    const { rows: audit } = await sql<{ id: number }>`select max(id) as id from audit_log`.execute(pg.db);
    await pg.send(NEW, '/start');
    await pg.solveCaptcha(NEW);
    await pg.press(ADMIN_A, `apr:${NEW.id}`);
    const [fresh] = await peersOfUser(pg.db, NEW.id);
    expect(fresh!.id).toBe(Math.max(maxPeerId, seq[0]!.seq) + 1);
    expect(seq[0]!.seq).toBeGreaterThan(maxPeerId); // Bob's revoked peer had the highest id
    expect(usedIps.has(fresh!.ip)).toBe(false);
    expect(pg.wg.peers.get(fresh!.public_key)?.ip).toBe(fresh!.ip);
    expect(pg.rec.last('sendDocument', NEW.id)!.files.document!.data.toString()).toContain(`Address = ${fresh!.ip}/32`);
    const newAudit = await pg.db.selectFrom('audit_log').select('id').where('user_id', '=', NEW.id).execute();
    expect(newAudit.length).toBeGreaterThan(0);
    expect(Math.min(...newAudit.map((r) => r.id))).toBe(audit[0]!.id + 1);
    await pg.close();
  }, 60_000);

  it('thousands of rows in batches, with the counts and checksums of each table', async () => {
    const h = await createHarness({ database: 'sqlite', captcha: false });
    cleanup.push(() => h.close());
    const N = 2500;
    const k = generateKeyPair();
    await h.db.transaction().execute(async (trx) => {
      for (let i = 0; i < N; i += 500) {
        const ids = Array.from({ length: Math.min(500, N - i) }, (_, j) => 1_000_000 + i + j);
        await trx.insertInto('users').values(ids.map((id) => ({ id, first_name: `U${id}`, last_name: null, username: null, status: 'active' as const, created_at: id, updated_at: id, decided_by: null, decided_at: null, blocked_at: null, max_devices: null, quota_bytes: null, expires_at: null, usage_period: null }))).execute();
        await trx.insertInto('peers').values(ids.map((id) => ({ user_id: id, node: 'awg0', public_key: `pk${id}`, private_key: k.privateKey, preshared_key: 'psk', ip: `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${id & 255}`, status: 'active' as const, created_at: id, delivered_at: null, name: null }))).execute();
      }
      const peers = await trx.selectFrom('peers').select(['id', 'user_id']).execute();
      for (let i = 0; i < peers.length; i += 500) {
        await trx.insertInto('peer_traffic').values(peers.slice(i, i + 500).map((p) => ({ peer_id: p.id, rx_total: p.user_id * 3, tx_total: p.user_id * 5, last_handshake_at: null, pending_hour: null }))).execute();
      }
      for (let hour = 0; hour < 8; hour++) {
        for (let i = 0; i < peers.length; i += 500) {
          await trx.insertInto('traffic_hourly').values(peers.slice(i, i + 500).map((p) => ({ peer_id: p.id, hour: hour * HOUR, rx: p.id + hour, tx: 2 * p.id }))).execute();
        }
      }
    });
    await h.crash();
    const { db: target, url } = await targetSchema();
    const started = Date.now();
    const result = await move(path.join(h.dir, 'bot.db'), url);
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.stdout).toMatch(/^traffic_hourly +20000 +20000 +[0-9a-f]{16} +[0-9a-f]{16} +ok$/m);
    expect(result.stdout).toMatch(new RegExp(`^peers +${N} +${N} .* ok$`, 'm'));
    const source = await openSqlite(path.join(h.dir, 'bot.db'), { readonly: true });
    cleanup.push(() => source.destroy());
    expect(await contents(target)).toEqual(await contents(source));
  }, 60_000);

  it('copies one snapshot: what a running bot writes during the move is not half taken', async () => {
    const { h, file } = await smallSource(true);
    await h.crash();
    const source = await openSqlite(file, { readonly: true });
    cleanup.push(() => source.destroy());
    const before = await contents(source);
    const { db: target, url } = await targetSchema();
    // Another process approves someone right after the users table was copied.
    const bot = new SQLite(file);
    cleanup.push(async () => bot.close());
    const onCopied = (table: string) => {
      if (table !== 'users') return;
      bot.prepare("insert into users (id, first_name, status, created_at, updated_at) values (77, 'Late', 'active', 1, 1)").run();
      bot.prepare("insert into peers (user_id, node, public_key, private_key, preshared_key, ip, status, created_at) values (77, 'awg0', 'late', 'k', 'p', '10.8.0.99', 'active', 1)").run();
    };
    const result = await move(file, url, { onCopied });
    expect(result.code, result.stderr).toBe(0);
    expect(await contents(target)).toEqual(before);
    expect(rowCounts(await contents(source))).toMatchObject({ users: 2, peers: 2 });
  });

  it('a target that already holds data is refused and left exactly as it was', async () => {
    const { h, file } = await smallSource(false);
    await h.crash();
    const { db: target, url } = await targetSchema();
    await migrate(target);
    await requestAccess(target, { id: 42, first_name: 'Already here' }, 1);
    const before = await contents(target);

    const result = await move(file, url);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the target already holds data (users: 1 row); move into an empty database or schema');
    expect(await contents(target)).toEqual(before);
  });

  it('refuses a missing source file, or one at another schema version (nothing written anywhere)', async () => {
    const { db: target, url } = await targetSchema();
    const missing = await move('/nonexistent/bot.db', url);
    expect(missing).toMatchObject({ code: 2, stderr: 'migrate-db: there is no SQLite database at /nonexistent/bot.db\n' });

    const h = await createHarness({ database: 'sqlite', captcha: false });
    cleanup.push(() => h.close());
    await h.db.deleteFrom('kysely_migration' as any).where('name', '=', MIGRATIONS.at(-1)!).execute();
    await h.crash();
    const old = await move(path.join(h.dir, 'bot.db'), url);
    expect(old.code).toBe(2);
    expect(old.stderr).toMatch(/the source's schema is not this version's .*start this version of the bot on it once/);
    expect(await applicationTables(target)).toEqual([]);
  });

  it('a copy that fails half way (a value PostgreSQL refuses) leaves the target empty: the command exits 1', async () => {
    const { h, file } = await smallSource(true);
    // audit_log is copied after users and peers; PostgreSQL text cannot hold NUL.
    await h.db.insertInto('audit_log').values({ at: 1, actor_id: null, action: 'note', user_id: null, details: 'a\u0000b' }).execute();
    const [peer] = await peersOfUser(h.db, ANN.id);
    await h.crash();
    const { db: target, url } = await targetSchema();

    // The real entry point, as `npm run migrate-db -- --from … --to …` runs it.
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'migrate-db', '--from', `sqlite:${file}`, '--to', url], {
      env: { PATH: process.env.PATH ?? '' },
      timeout: 30_000,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('copied users: 1 row');
    expect(r.stderr).toMatch(/^migrate-db: copy failed, the target was rolled back: .*0x00/m);
    expect(r.stdout + r.stderr).not.toContain(peer!.private_key);
    expect(rowCounts(await contents(target))).toEqual(Object.fromEntries(TABLE_ORDER.map((t) => [t, 0])));
  }, 60_000);

  it('a checksum that differs after the copy rolls everything back: exit 1, the table printed with the mismatch', async () => {
    const { h, file } = await smallSource(false);
    await h.crash();
    const { db: target, url } = await targetSchema();
    await migrate(target);
    // Something on the server rewrites rows as they arrive.
    await sql`create function shout() returns trigger language plpgsql as $$ begin new.first_name := upper(new.first_name); return new; end $$`.execute(target);
    await sql`create trigger shout before insert on users for each row execute function shout()`.execute(target);

    const result = await move(file, url);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^users +1 +1 +([0-9a-f]{16}) +(?!\1)[0-9a-f]{16} +MISMATCH$/m);
    expect(result.stdout).toMatch(/^peers +0 +0 .* ok$/m);
    expect(result.stderr).toContain('verification failed for users: the target was rolled back');
    expect(rowCounts(await contents(target))).toEqual(Object.fromEntries(TABLE_ORDER.map((t) => [t, 0])));
  });

  it('TABLE_ORDER holds exactly the tables of a freshly migrated database, each after the tables it references', async () => {
    const h = await createHarness({ database: 'sqlite', captcha: false });
    cleanup.push(() => h.close());
    const { db: target } = await targetSchema();
    await migrate(target);
    const listed = [...TABLE_ORDER].sort();
    expect(await applicationTables(h.db)).toEqual(listed);
    expect(await applicationTables(target)).toEqual(listed);
    for (const [i, table] of TABLE_ORDER.entries()) {
      const { rows } = await sql<{ table: string }>`select "table" from pragma_foreign_key_list(${table})`.execute(h.db);
      for (const { table: parent } of rows) expect(TABLE_ORDER.indexOf(parent as never), `${table} → ${parent}`).toBeLessThan(i);
    }
  });
});
