import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withServiceProcess } from './support/running-service.js';
import { ADMIN_TOKEN } from './support/app.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/**
 * Another process holding the database's write lock (as a ROLE=dispatcher process, `npm run
 * digest` or a replay does while it writes) must not freeze the service: /health answers at
 * once while writes wait, and the writes go through once the lock is released.
 */
const ctx = withServiceProcess();

/** A child process that takes the write lock (BEGIN IMMEDIATE), holds it `ms`, then commits. */
function holdWriteLock(url: string, ms: number) {
  const script = `
    import { createClient } from '@libsql/client';
    const client = createClient({ url: ${JSON.stringify(url)} });
    const tx = await client.transaction('write');
    await tx.execute("INSERT INTO settings (key, value) VALUES ('lock-holder', 'x')");
    console.log('locked');
    setTimeout(async () => { await tx.commit(); console.log('released'); client.close(); }, ${ms});`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const saw = (word: string) => new Promise<void>((resolve, reject) => {
    const check = () => (out.includes(word) ? resolve() : undefined);
    child.stdout!.on('data', (d) => ((out += d), check()));
    child.once('exit', (code) => (out.includes(word) ? resolve() : reject(new Error(`lock holder exited ${code} before '${word}'`))));
  });
  return { locked: saw('locked'), released: saw('released') };
}

const base = () => `http://127.0.0.1:${ctx.port}`;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('while another process holds the write lock', () => {
  it('/health answers within 100 ms, and writes complete once it is released', async () => {
    // Warm: the first request of a route compiles its code, which is not what is measured here.
    await fetch(`${base()}/v1/accounts`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'Warm', plan: 'monitor' }) });
    await fetch(`${base()}/health`);
    const lock = holdWriteLock(ctx.database.url, 3_000);
    await lock.locked;
    const writes = Array.from({ length: 3 }, (_, i) =>
      fetch(`${base()}/v1/accounts`, { method: 'POST', headers: admin, body: JSON.stringify({ name: `Acme ${i}`, plan: 'monitor' }) }).then((r) => r.status),
    );
    const latencies: number[] = [];
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      const t0 = performance.now();
      const r = await fetch(`${base()}/health`);
      latencies.push(performance.now() - t0);
      expect(r.status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    await lock.released;
    expect(await Promise.all(writes)).toEqual([201, 201, 201]);
    expect(latencies.length).toBeGreaterThan(20);
    expect(Math.max(...latencies)).toBeLessThan(100);
  });
});
