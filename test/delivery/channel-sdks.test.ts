import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The modules `src/main.ts` imports: main.ts starts the service when imported, so the graph is
 * walked from its imports (read from the file, so a new one is covered without editing this).
 */
const mainImports = [...readFileSync(new URL('../../src/main.ts', import.meta.url), 'utf8').matchAll(/^import [^;]*? from '(\.[^']+)\.js';$/gm)].map(
  (m) => `./src/${m[1]!.slice(2)}.ts`,
);

/**
 * The Slack and Discord SDKs are loaded with the first message to them, so a service without
 * those destinations never holds them. A static import anywhere on the service's module graph
 * would load them at start again: this runs the graph in a process of its own and lists every
 * package the loader resolved.
 */
describe('the chat SDKs a service loads at start', () => {
  it('are neither @slack/web-api nor @discordjs/rest, even once both channels exist', () => {
    const hook = `export async function resolve(s, c, next) { const r = await next(s, c); const m = /.*node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url); if (m) process.stdout.write('resolved ' + m[1] + '\\n'); return r; }`;
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
      for (const file of ${JSON.stringify(mainImports)}) await import(file);
      const { createDiscordChannel } = await import('./src/delivery/channels/discord/send.ts');
      const { createSlackChannel } = await import('./src/delivery/channels/slack/send.ts');
      createDiscordChannel({ botToken: 'x' });
      createSlackChannel({ clock: Date.now, tokenFor: async () => 'x' });
      process.stdout.write('done\\n');`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    const resolved = new Set(out.split('\n').filter((l) => l.startsWith('resolved ')).map((l) => l.slice(9)));
    expect(mainImports).toContain('./src/service.ts');
    expect(mainImports).toContain('./src/schedule/ticker.ts');
    expect(out).toContain('done');
    // The hook sees the loads: the service's own packages are there.
    expect(resolved).toContain('hono');
    expect(resolved).not.toContain('@slack/web-api');
    expect(resolved).not.toContain('@discordjs/rest');
  });
});
