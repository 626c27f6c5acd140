import type { Compilable, CompiledQuery } from 'kysely';
import type { Db } from '../index.js';
import { isPostgres } from './dialect.js';

/** Stands for the i-th argument while a query is built once. */
class Arg {
  constructor(readonly i: number) {}
}

/**
 * A query that every update runs, built and compiled once per dialect: Kysely builds and compiles
 * each query anew, which costs about as much as SQLite running it. `build` gets placeholders for
 * its arguments; each call runs the same SQL text with its arguments in their places. Arguments
 * may only stand for values (not lists, not identifiers): the SQL text must not depend on them.
 */
export function compiledOnce<A extends unknown[], R>(build: (db: Db, ...args: A) => Compilable<R>): (db: Db, ...args: A) => Promise<R[]> {
  const compiled = new Map<string, CompiledQuery<R>>();
  return async (db, ...args) => {
    const dialect = isPostgres(db) ? 'postgres' : 'sqlite';
    let query = compiled.get(dialect);
    if (!query) {
      query = build(db, ...(args.map((_, i) => new Arg(i)) as unknown as A)).compile();
      compiled.set(dialect, query);
    }
    const parameters = query.parameters.map((p) => (p instanceof Arg ? args[p.i] : p));
    return (await db.executeQuery<R>({ ...query, parameters })).rows;
  };
}
