import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../infra/dialect.js';

// Broadcast audiences with an argument: inactive for N days, over 80 % of the quota, expiring
// within N days, on a node, by language. audience_arg holds the days, the node's name or the
// locale (null for active, all and pending, so the rows of earlier versions stay as they are).
// Migrations use Kysely<any> and never import application code (see 0001_init).
const AUDIENCES = sql`audience in ('active','all','pending','inactive','quota','expiring','node','language')`;

export async function up(db: Kysely<any>): Promise<void> {
  if (isPostgres(db)) {
    await db.schema.alterTable('broadcasts').addColumn('audience_arg', 'text').execute();
    await db.schema.alterTable('broadcasts').dropConstraint('broadcasts_audience').execute();
    await db.schema.alterTable('broadcasts').addCheckConstraint('broadcasts_audience', AUDIENCES).execute();
    return;
  }
  // SQLite cannot change a CHECK constraint: the table is rebuilt (sqlite.org/lang_altertable.html,
  // "other kinds of table schema changes"). Foreign keys are off meanwhile, or dropping the old
  // table would delete every delivery with it (ON DELETE CASCADE).
  const fk = (await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db)).rows[0]?.foreign_keys ?? 0;
  await sql`pragma foreign_keys = off`.execute(db);
  try {
    await db.transaction().execute(async (trx) => {
      await trx.schema
        .createTable('broadcasts_new')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('admin_id', 'bigint', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('audience', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('text', 'text')
        .addColumn('entities', 'text')
        .addColumn('photo', 'text')
        .addColumn('progress_chat_id', 'bigint')
        .addColumn('progress_message_id', 'integer')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('audience_arg', 'text')
        .addCheckConstraint('broadcasts_status', sql`status in ('draft','sending','done','cancelled')`)
        .addCheckConstraint('broadcasts_audience', AUDIENCES)
        .addCheckConstraint('broadcasts_kind', sql`kind in ('text','photo')`)
        .execute();
      const columns = sql.raw('id, admin_id, status, audience, kind, text, entities, photo, progress_chat_id, progress_message_id, created_at, started_at, finished_at');
      await sql`insert into broadcasts_new (${columns}) select ${columns} from broadcasts`.execute(trx);
      // Ids of deleted drafts are not handed out again: a stale button of one must not act on a new broadcast.
      const seq = (await sql<{ seq: number }>`select seq from sqlite_sequence where name = 'broadcasts'`.execute(trx)).rows[0]?.seq;
      await sql`drop table broadcasts`.execute(trx);
      await sql`alter table broadcasts_new rename to broadcasts`.execute(trx);
      if (seq !== undefined) {
        await sql`delete from sqlite_sequence where name = 'broadcasts'`.execute(trx);
        await sql`insert into sqlite_sequence (name, seq) values ('broadcasts', ${seq})`.execute(trx);
      }
      await trx.schema.createIndex('broadcasts_status_idx').on('broadcasts').column('status').execute();
      const broken = await sql`pragma foreign_key_check`.execute(trx);
      if (broken.rows.length) throw new Error(`foreign keys broken by the rebuild of broadcasts: ${JSON.stringify(broken.rows)}`);
    });
  } finally {
    if (fk) await sql`pragma foreign_keys = on`.execute(db);
  }
}
