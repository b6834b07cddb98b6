import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { freePort, startScriptNodeOptions, startScriptOf, startServiceProcess, type ServiceProcess } from './support/service-process.js';
import { tempDatabase, type TempDatabase } from './support/db.js';

let service: ServiceProcess | undefined;
let database: TempDatabase | undefined;
afterEach(async () => {
  await service?.stop();
  database?.dispose();
  service = database = undefined;
});

describe('a service process started by the tests and benchmarks', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
  const argvOf = (p: ServiceProcess) => readFileSync(`/proc/${p.child.pid}/cmdline`, 'utf8').split('\0');

  it('runs with the node options of the npm script its role is started with', async () => {
    for (const script of ['start', 'start:api'] as const) {
      expect(startScriptNodeOptions(script).length).toBeGreaterThan(0);
      for (const option of startScriptNodeOptions(script)) expect(pkg.scripts[script]).toContain(` ${option} `);
    }
    // Both build a stale checkout first.
    expect(pkg.scripts['prestart:api']).toBe(pkg.scripts.prestart);
    expect(startScriptOf('api')).toBe('start:api');
    expect(startScriptOf('all')).toBe('start');
    expect(startScriptOf('dispatcher')).toBe('start');
    database = await tempDatabase({ catalog: false });
    for (const [role, script] of [['api', 'start:api'], ['all', 'start'], ['dispatcher', 'start']] as const) {
      await service?.stop();
      service = startServiceProcess(role, { DATABASE_URL: database.url }, await freePort());
      await service.ready;
      const options = startScriptNodeOptions(script);
      expect(argvOf(service).slice(1, 1 + options.length)).toEqual(options);
    }
  });

  it('gives an API process a young generation of its own size and leaves the fan-out bound to the others', () => {
    // A POST of 500 events allocates about 16 MB; the fan-out's 160 MB bound is held by npm
    // start's 4 MB semi-space (README, "npm start runs Node with").
    expect(startScriptNodeOptions('start:api')).toContain('--max-semi-space-size=16');
    expect(startScriptNodeOptions('start')).toContain('--max-semi-space-size=4');
    // The interrupt budget is for bursts of code run a few times (a fan-out); an API process's code runs all day.
    expect(startScriptNodeOptions('start:api').some((o) => o.startsWith('--interrupt-budget'))).toBe(false);
    // Baseline code from the first call is for the same bursts; it costs the API process memory all day.
    expect(startScriptNodeOptions('start')).toEqual(expect.arrayContaining(['--always-sparkplug', '--no-lazy-feedback-allocation']));
    expect(startScriptNodeOptions('start:api')).not.toContain('--always-sparkplug');
  });
});
