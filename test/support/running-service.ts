import { afterAll, beforeAll } from 'vitest';
import { tempDatabase, type TempDatabase } from './db.js';
import { freePort, startServiceProcess, type ServiceProcess } from './service-process.js';

/**
 * One running service (`ROLE=all`) on a fresh database file for a whole test file, started before
 * its tests and stopped after. Read `port`, `service` and `database` inside tests.
 */
export function withServiceProcess(env: Record<string, string> = {}) {
  const ctx = { port: 0, service: undefined as unknown as ServiceProcess, database: undefined as unknown as TempDatabase };
  beforeAll(async () => {
    ctx.database = await tempDatabase();
    ctx.port = await freePort();
    ctx.service = startServiceProcess('all', { DATABASE_URL: ctx.database.url, ...env }, ctx.port);
    await ctx.service.ready;
  }, 60_000);
  afterAll(async () => {
    await ctx.service?.stop(2_000);
    ctx.database?.dispose();
  });
  return ctx;
}
