import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';

describe('start-up', () => {
  it('stops on a bad variable with one line naming it and what it expects', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'eighty', DATABASE_URL: 'file::memory:' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(['clausewatch: cannot start: PORT: expected a whole number from 1 to 65535']);
  });

  it('stops a process of another role started by npm run start:api with one line', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, npm_lifecycle_event: 'start:api', ROLE: 'dispatcher', DATABASE_URL: 'file::memory:' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'clausewatch: cannot start: ROLE: expected api under npm run start:api, whose V8 options suit a process that serves HTTP alone (npm start runs the other roles)',
    ]);
  });

  it('stops a production start on an http PUBLIC_URL with one line', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, NODE_ENV: 'production', PUBLIC_URL: 'http://cw.example.com', INGEST_TOKENS: 'aaaaaaaaaaaaaaaa1', ADMIN_TOKENS: 'bbbbbbbbbbbbbbbb2', SECRET_KEY: 'cccccccccccccccccccccccccccccccc', DATABASE_URL: 'file::memory:' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(['clausewatch: cannot start: PUBLIC_URL: expected an https:// URL in production (one-click unsubscribe, RFC 8058, needs https links)']);
  });
});
