import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('gathers alerts for 60 s by default, and for 10 s on a development start (NODE_ENV unset or development)', () => {
    expect(loadConfig({ NODE_ENV: 'production', INGEST_TOKENS: 'a'.repeat(16), ADMIN_TOKENS: 'b'.repeat(16), SECRET_KEY: 'c'.repeat(32), PUBLIC_URL: 'https://cw.example' }).alertGroupWaitSeconds).toBe(60);
    expect(loadConfig({ NODE_ENV: 'test' }).alertGroupWaitSeconds).toBe(60);
    expect(loadConfig({}).alertGroupWaitSeconds).toBe(10);
    expect(loadConfig({ NODE_ENV: 'development' }).alertGroupWaitSeconds).toBe(10);
    expect(loadConfig({ ALERT_GROUP_WAIT_SECONDS: '60' }).alertGroupWaitSeconds).toBe(60);
    expect(loadConfig({ NODE_ENV: 'production', ALERT_GROUP_WAIT_SECONDS: '5', INGEST_TOKENS: 'a'.repeat(16), ADMIN_TOKENS: 'b'.repeat(16), SECRET_KEY: 'c'.repeat(32), PUBLIC_URL: 'https://cw.example' }).alertGroupWaitSeconds).toBe(5);
  });

  it('starts under npm run start:api only as an API process, whose V8 options that script sets', () => {
    for (const script of [{ npm_lifecycle_event: 'start:api' }, { NODE_RUN_SCRIPT_NAME: 'start:api' }]) {
      expect(loadConfig({ ...script, ROLE: 'api' }).role).toBe('api');
      for (const env of [{}, { ROLE: 'all' }, { ROLE: 'dispatcher' }, { ROLE: '' }]) {
        expect(() => loadConfig({ ...script, ...env })).toThrow(/^ROLE: expected api under npm run start:api/);
      }
    }
    // npm start, the tests and benchmarks (whose children inherit their script's name) and any
    // other script start every role.
    for (const event of [undefined, 'start', 'test', 'bench', 'start:api2']) {
      expect(loadConfig({ npm_lifecycle_event: event, ROLE: 'dispatcher' }).role).toBe('dispatcher');
    }
  });

  it('has the contract’s defaults', () => {
    const c = loadConfig({ NODE_ENV: 'test' });
    expect(c).toMatchObject({
      port: 8787,
      publicUrl: 'http://localhost:8787',
      database: { url: 'file:./data/clausewatch.db' },
      mailFrom: 'ClauseWatch <alerts@localhost>',
      alertGroupWaitSeconds: 60,
      digest: { weekday: 'monday', hour: 9 },
      staleAfterHours: 48,
      flapWindowHours: 72,
      alertMaxAgeHours: 48,
      maxAlertsPerDay: 20,
      deliveryLeaseSeconds: 60,
      role: 'all',
      slack: undefined,
      discord: undefined,
      smtpUrl: undefined,
    });
  });

  it('reads comma-separated tokens for rotation', () => {
    expect(loadConfig({ INGEST_TOKENS: 'aaaaaaaaaaaaaaaa1, bbbbbbbbbbbbbbbb2' }).ingestTokens).toEqual(['aaaaaaaaaaaaaaaa1', 'bbbbbbbbbbbbbbbb2']);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT: expected a whole number from 1 to 65535'],
    [{ PUBLIC_URL: 'clausewatch.example' }, 'PUBLIC_URL: expected an http(s) URL'],
    [{ DATABASE_URL: 'postgres://x' }, 'DATABASE_URL: expected a libSQL URL'],
    [{ SMTP_URL: 'mail.example.com' }, 'SMTP_URL: expected an smtp:// or smtps:// URL'],
    [{ MAIL_FROM: 'ClauseWatch alerts' }, 'MAIL_FROM: expected a sender such as "ClauseWatch <alerts@example.com>"'],
    [{ MAIL_FROM: 'a@b.test, c@d.test' }, 'MAIL_FROM: expected a sender'],
    [{ DIGEST_WEEKDAY: 'someday' }, 'DIGEST_WEEKDAY: expected a weekday name'],
    [{ DIGEST_HOUR: '25' }, 'DIGEST_HOUR: expected a whole number from 0 to 23'],
    [{ ALERT_GROUP_WAIT_SECONDS: '-1' }, 'ALERT_GROUP_WAIT_SECONDS: expected a whole number'],
    [{ DELIVERY_LEASE_SECONDS: '4' }, 'DELIVERY_LEASE_SECONDS: expected a whole number from 5 to 3600'],
    [{ FLAP_WINDOW_HOURS: '0' }, 'FLAP_WINDOW_HOURS: expected a whole number'],
    [{ ROLE: 'worker' }, 'ROLE: expected one of all, api, dispatcher'],
    [{ INGEST_TOKENS: 'short' }, 'INGEST_TOKENS: expected comma-separated tokens of at least 16 characters'],
    [{ DISCORD_PUBLIC_KEY: 'nothex' }, 'DISCORD_PUBLIC_KEY: expected the application public key'],
    [{ SLACK_BOT_TOKEN: 'xoxb-1' }, 'SLACK_SIGNING_SECRET: expected a value whenever Slack is configured'],
    [{ SLACK_SIGNING_SECRET: 'secret' }, 'SLACK_BOT_TOKEN: expected a bot token'],
    [{ SLACK_SIGNING_SECRET: 'secret', SLACK_CLIENT_ID: '1.2' }, 'SLACK_CLIENT_SECRET: expected to be set together'],
    [{ NODE_ENV: 'production' }, 'INGEST_TOKENS: expected a value in production'],
  ])('stops on %j with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('makes the default PUBLIC_URL from PORT, so links point where the service listens', () => {
    expect(loadConfig({ PORT: '9090' }).publicUrl).toBe('http://localhost:9090');
    expect(loadConfig({ PORT: '9090', PUBLIC_URL: 'https://cw.example.com/' }).publicUrl).toBe('https://cw.example.com');
  });

  it('stops a production start whose PUBLIC_URL is not https, set or defaulted', () => {
    const production = { NODE_ENV: 'production', INGEST_TOKENS: 'aaaaaaaaaaaaaaaa1', ADMIN_TOKENS: 'bbbbbbbbbbbbbbbb2', SECRET_KEY: 'cccccccccccccccccccccccccccccccc' };
    for (const env of [production, { ...production, PUBLIC_URL: 'http://cw.example.com' }]) {
      expect(() => loadConfig(env)).toThrow('PUBLIC_URL: expected an https:// URL in production (one-click unsubscribe, RFC 8058, needs https links)');
    }
    expect(loadConfig({ ...production, PUBLIC_URL: 'https://cw.example.com' }).publicUrl).toBe('https://cw.example.com');
    // Nor an http one that merely looks local: only a loopback address, set on purpose, may be http.
    for (const url of ['http://127.example.com', 'http://localhost.example.com', 'http://10.0.0.1:8787', 'http://[::2]']) {
      expect(() => loadConfig({ ...production, PUBLIC_URL: url }), url).toThrow('PUBLIC_URL: expected an https:// URL in production');
    }
  });

  it('lets a production build run on a loopback PUBLIC_URL set on purpose (a local replay or benchmark)', () => {
    const production = { NODE_ENV: 'production', INGEST_TOKENS: 'aaaaaaaaaaaaaaaa1', ADMIN_TOKENS: 'bbbbbbbbbbbbbbbb2', SECRET_KEY: 'cccccccccccccccccccccccccccccccc' };
    for (const url of ['http://127.0.0.1:4000', 'http://localhost:4000', 'http://[::1]:4000']) expect(loadConfig({ ...production, PUBLIC_URL: url }).publicUrl).toBe(url);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', SMTP_URL: ' ' }).port).toBe(8787);
  });
});
