import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { freePort, startScriptNodeOptions, startServiceProcess, type ServiceProcess } from './support/service-process.js';
import { tempDatabase, type TempDatabase } from './support/db.js';

let service: ServiceProcess | undefined;
let database: TempDatabase | undefined;
afterEach(async () => {
  await service?.stop();
  database?.dispose();
});

describe('a service process started by the tests and benchmarks', () => {
  it('runs with the node options npm start gives the service', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
    expect(startScriptNodeOptions().length).toBeGreaterThan(0);
    for (const option of startScriptNodeOptions()) expect(pkg.scripts.start).toContain(` ${option} `);
    database = await tempDatabase({ catalog: false });
    service = startServiceProcess('api', { DATABASE_URL: database.url }, await freePort());
    await service.ready;
    const argv = readFileSync(`/proc/${service.child.pid}/cmdline`, 'utf8').split('\0');
    expect(argv.slice(1, 1 + startScriptNodeOptions().length)).toEqual(startScriptNodeOptions());
  });
});
