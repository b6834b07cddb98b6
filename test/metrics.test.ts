import { beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { emailSubscriber, withSmtpService, type TestService } from './support/service.js';
import { makeEvent } from './support/app.js';
import type { TestSmtpServer } from './support/smtp.js';

const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '60' }, '2026-11-20T07:00:00Z');
const clock = ctx.clock;
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const scrape = async () => (await s.call('GET', '/metrics')).text;
/** The value of one series, by its name and exact label set as prom-client writes it. */
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('GET /metrics', () => {
  it('has prom-client’s process and Node.js metrics, the event-loop lag among them', async () => {
    const text = await scrape();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });

  it('times HTTP answers by method, route pattern and status, never by the raw path', async () => {
    await s.call('GET', '/v1/accounts/acc_nobody');
    await s.call('GET', '/v1/accounts/acc_someone_else');
    await s.call('GET', '/v1/accounts/acc_nobody', undefined, null);
    await s.call('GET', '/no/such/page/4711');
    const text = await scrape();
    expect(value(text, 'clausewatch_http_request_duration_seconds_count{method="GET",route="/v1/accounts/:id",status="404"}')).toBe(2);
    // Refused by the token check before the handler ran: still the handler's pattern.
    expect(value(text, 'clausewatch_http_request_duration_seconds_count{method="GET",route="/v1/accounts/:id",status="401"}')).toBe(1);
    expect(value(text, 'clausewatch_http_request_duration_seconds_count{method="GET",route="(unmatched)",status="404"}')).toBe(1);
    expect(text).toMatch(/^clausewatch_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/v1\/accounts\/:id",status="404"\} \d/m);
    expect(text).not.toContain('acc_nobody');
    expect(text).not.toContain('4711');
  });

  it('records ingest → delivered latency by channel and kind, the group wait included', async () => {
    await emailSubscriber(s, 'legal@acme.test');
    await s.ingest(makeEvent({ id: 'lat-1', severity: 'high', title: 'A change' }));
    clock.advance(10_000);
    await s.ingest(makeEvent({ id: 'lat-2', severity: 'low', title: 'Another change' }));
    clock.advance(80_000);
    await s.drain();
    await smtp.waitFor(1);
    const text = await scrape();
    // From the first change's ingest: 90 s, though the mail was queued 60 s after the second one.
    expect(value(text, 'clausewatch_delivery_latency_seconds_count{channel="email",kind="alert"}')).toBe(1);
    expect(value(text, 'clausewatch_delivery_latency_seconds_sum{channel="email",kind="alert"}')).toBe(90);
    expect(value(text, 'clausewatch_delivery_latency_seconds_bucket{le="75",channel="email",kind="alert"}')).toBe(0);
    expect(value(text, 'clausewatch_delivery_latency_seconds_bucket{le="90",channel="email",kind="alert"}')).toBe(1);
  });

  it('counts a batch’s decisions per subscriber and its matched destinations once each, however many share their filters', async () => {
    for (const who of ['a', 'b', 'c']) await emailSubscriber(s, `${who}@acme.test`, ['openai']);
    const filtered = async (address: string, platform: string, filters: Record<string, unknown>) => {
      const { account, destination } = await emailSubscriber(s, address, []);
      await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform, destination: destination.id, ...filters });
      return { account, destination };
    };
    await filtered('h1@acme.test', 'openai', { min_severity: 'high' });
    await filtered('h2@acme.test', 'openai', { min_severity: 'high' });
    await filtered('fees@acme.test', 'openai', { categories: ['fees'] });
    // One destination on two platforms: filtered out of one change, alerted to the other, matched once.
    const both = await filtered('both@acme.test', 'openai', { min_severity: 'high' });
    await s.call('POST', `/v1/accounts/${both.account.id}/subscriptions`, { platform: 'anthropic', destination: both.destination.id });
    const r = await s.ingest({
      events: [
        makeEvent({ id: 'med', severity: 'medium', categories: ['privacy'] }),
        makeEvent({ id: 'high', severity: 'high', platform: { slug: 'anthropic' }, document: { title: 'Usage Policy' } }),
      ],
    });
    expect(r.json).toEqual({ accepted: 2, duplicates: 0, matched: 4 });
    const text = await scrape();
    expect(value(text, 'clausewatch_decisions_total{outcome="alert"}')).toBe(4);
    expect(value(text, 'clausewatch_decisions_total{outcome="below_min_severity"}')).toBe(3);
    expect(value(text, 'clausewatch_decisions_total{outcome="categories"}')).toBe(1);
  });

  it('shows the age of the oldest due outbox row, 0 once it is sent', async () => {
    expect(value(await scrape(), 'clausewatch_outbox_oldest_due_age_seconds')).toBe(0);
    // A sign-up queues its confirmation mail, due at once.
    await s.call('POST', '/v1/signup', { email: 'new@acme.test', platform: 'openai' }, null);
    clock.advance(125_000);
    expect(value(await scrape(), 'clausewatch_outbox_oldest_due_age_seconds')).toBe(125);
    await s.drain();
    await smtp.waitFor(1);
    const text = await scrape();
    expect(value(text, 'clausewatch_outbox_oldest_due_age_seconds')).toBe(0);
    expect(value(text, 'clausewatch_delivery_latency_seconds_sum{channel="email",kind="confirmation"}')).toBe(125);
  });
});

// Debian's `prometheus` package has it (apt-get install -y prometheus); CI images may not.
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;

describe('a scrape of /metrics', () => {
  it.skipIf(!promtool)(
    promtool ? 'passes `promtool check metrics`' : 'is NOT checked with promtool: it is not installed here (apt-get install -y prometheus), so this test is skipped',
    async () => {
      await emailSubscriber(s, 'legal@acme.test');
      await s.ingest(makeEvent({ id: 'p-1', severity: 'high' }));
      clock.advance(61_000);
      await s.drain();
      const check = spawnSync('promtool', ['check', 'metrics'], { input: await scrape(), encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      expect(check.stdout + check.stderr).toBe('');
    },
  );
});
