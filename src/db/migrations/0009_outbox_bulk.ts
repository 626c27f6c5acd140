import { type Kysely, sql } from 'kysely';

// outbox.bulk: a row sent at broadcast priority, after every other queued message (a config
// re-sent to every user after the imitation preset changed). Never imported by app code.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('bulk', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.createIndex('outbox_due').on('outbox').columns(['bulk', 'id']).where(sql.ref('status'), '=', 'queued').execute();
}
