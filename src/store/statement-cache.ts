import Database from 'libsql';

const CACHED = Symbol.for('clausewatch.statementCache');
/** Distinct SQL texts kept per connection (oldest out): the service has a few hundred statements. */
const PER_CONNECTION = 500;

/**
 * Makes the embedded libSQL driver reuse prepared statements. `@libsql/client` prepares every
 * statement again on each execute; in a 2,000-webhook fan-out that was a third of the database
 * time (SQLite parsing and planning the same few statements thousands of times). Prepared
 * statements are reusable as they are (each run binds afresh and steps to the end), and SQLite
 * re-prepares one by itself when the schema changes under it. Installed once per process.
 */
export function reusePreparedStatements(): void {
  const proto = Database.prototype as unknown as { prepare(sql: string): unknown; [CACHED]?: true };
  if (proto[CACHED]) return;
  const prepare = proto.prepare;
  const caches = new WeakMap<object, Map<string, unknown>>();
  proto.prepare = function (this: object, sql: string) {
    let cache = caches.get(this);
    if (!cache) caches.set(this, (cache = new Map()));
    let stmt = cache.get(sql);
    if (stmt) {
      cache.delete(sql);
    } else {
      stmt = prepare.call(this, sql);
      if (cache.size >= PER_CONNECTION) cache.delete(cache.keys().next().value!);
    }
    cache.set(sql, stmt);
    return stmt;
  };
  proto[CACHED] = true;
}
