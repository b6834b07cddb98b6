import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { testService } from './support/service.js';

const readme = readFileSync('README.md', 'utf8');

describe('the README', () => {
  it('names the contract it keeps by a file in the repository, docs/contract.md', () => {
    expect(readme).toContain('[docs/contract.md](docs/contract.md)');
    expect(readFileSync('docs/contract.md', 'utf8')).toMatch(/^# ClauseWatch — product contract\n/);
    // No pointer outside the repository (the contract used to be "DESIGN.md of the product").
    expect(readme).not.toContain('DESIGN.md');
  });

  it('lists the fields of every destination type the contract names', () => {
    const contract = readFileSync('docs/contract.md', 'utf8');
    const types = [...new Set([...contract.matchAll(/\{"type": "(\w+)"/g)].map((m) => m[1]!))].filter((t) => !t.includes('.'));
    expect(types).toEqual(expect.arrayContaining(['email', 'slack', 'discord', 'webhook']));
    const table = readme.slice(readme.indexOf('### Destination types'));
    for (const type of types) expect(table, type).toMatch(new RegExp(`^\\| \`${type}\` \\| \`\\w+\``, 'm'));
  });

  it('links only files that exist', () => {
    for (const [, target] of readme.matchAll(/\]\((?!https?:|#|…)([^)#]+)\)/g)) expect(existsSync(target!), target).toBe(true);
  });
});

// Debian's `prometheus` package has it (apt-get install -y prometheus); CI images may not.
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
if (!promtool) console.warn('test/docs.test.ts: promtool is not installed, docs/alerts.yml is not checked (apt-get install -y prometheus)');

describe('docs/alerts.yml and docs/grafana-dashboard.json', () => {
  it('use only metric names GET /metrics exposes', async () => {
    const s = await testService();
    try {
      const exposed = (await s.call('GET', '/metrics')).text;
      const names = new Set([...exposed.matchAll(/^# TYPE ((?:clausewatch|nodejs|process)_\w+) /gm)].map((m) => m[1]!));
      // A histogram's series are its name with _bucket, _sum and _count.
      const histograms = [...exposed.matchAll(/^# TYPE (\w+) histogram$/gm)].map((m) => m[1]!);
      for (const h of histograms) for (const suffix of ['_bucket', '_sum', '_count']) names.add(h + suffix);
      const dashboard = JSON.parse(readFileSync('docs/grafana-dashboard.json', 'utf8')) as { panels: { targets: { expr: string }[] }[] };
      const used = [readFileSync('docs/alerts.yml', 'utf8'), ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))].join('\n');
      const referenced = new Set([...used.matchAll(/\b((?:clausewatch|nodejs|process)_\w+)/g)].map((m) => m[1]!));
      expect(referenced.size).toBeGreaterThan(5);
      for (const name of referenced) expect(names, `${name} is not in /metrics`).toContain(name);
      // Every panel queries something, and the rules cover the four failures an on-call person is paged for.
      expect(dashboard.panels.every((p) => p.targets.length > 0)).toBe(true);
      for (const alert of ['ClauseWatchOutboxStuck', 'ClauseWatchDeadLetters', 'ClauseWatchChannelFailing', 'ClauseWatchMonitoringStale', 'ClauseWatchOutboxBehind']) expect(used).toContain(`alert: ${alert}`);
    } finally {
      await s.dispose();
    }
  }, 30_000);

  // Named for what happened: a run without promtool says so in the test list, not silently.
  it.skipIf(!promtool)(
    promtool
      ? 'pass `promtool check rules`, and the rule unit tests of docs/alerts.test.yml fire each alert'
      : 'are NOT checked with promtool: it is not installed here (apt-get install -y prometheus), so this test is skipped',
    () => {
      const check = spawnSync('promtool', ['check', 'rules', 'docs/alerts.yml'], { encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      const unit = spawnSync('promtool', ['test', 'rules', 'docs/alerts.test.yml'], { encoding: 'utf8' });
      expect(unit.status, unit.stdout + unit.stderr).toBe(0);
    },
    30_000,
  );
});
