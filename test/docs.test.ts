import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';

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
