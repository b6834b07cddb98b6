import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestSmtpServer } from '../support/smtp.js';
import { emailSubscriber, testService, withSmtpService, type TestService } from '../support/service.js';
import { makeEvent } from '../support/app.js';

const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '60' }, '2026-11-20T07:00:00Z');
const clock = ctx.clock;
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const delivery = async (id: string) => (await s.call('GET', '/v1/events')).json.data.find((e: any) => e.id === id).delivery;

describe('noise control', () => {
  it('stores a link-only change, explains it, counts it, and alerts nobody', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    const r = await s.ingest(
      makeEvent({ id: 'links', diff: { removed: ['Read [our FAQ](https://help.openai.com/a/1?utm=x).'], added: ['Read [our FAQ](https://help.openai.com/a/2?utm=y).'] } }),
    );
    expect(r.json).toMatchObject({ accepted: 1, matched: 0 });
    expect(await delivery('links')).toMatchObject({ alerted: false, suppressed_reason: 'links_only' });
    expect((await s.call('GET', '/metrics')).text).toMatch(/clausewatch_alerts_suppressed_total\{reason="links_only"\} 1/);
    const feed = await (await s.app.request('/feeds/openai.atom')).text();
    expect(feed).toContain('[Links only] OpenAI');
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails).toHaveLength(0);
  });

  it('alerts nobody for a whitespace-only, a reordered or a date-only change, and says which it was', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.ingest({
      events: [
        makeEvent({ id: 'spaces', diff: { removed: ['We keep your', 'data  for 30 days.'], added: ['We keep your data for 30\u00a0days.'] } }),
        makeEvent({ id: 'moved', diff: { removed: ['[About](https://h.test/1)', '[Terms](https://h.test/2)'], added: ['[Terms](https://h.test/2)', '[About](https://h.test/1)'] } }),
        makeEvent({ id: 'redated', diff: { removed: ['Last updated: 12 days ago'], added: ['Last updated: 13 days ago'] } }),
      ],
    });
    expect(await delivery('spaces')).toMatchObject({ alerted: false, suppressed_reason: 'whitespace' });
    expect(await delivery('moved')).toMatchObject({ alerted: false, suppressed_reason: 'reordered' });
    expect(await delivery('redated')).toMatchObject({ alerted: false, suppressed_reason: 'date_only' });
    // The feed keeps them, each marked as what it was instead of its severity.
    const feed = await (await s.app.request('/feeds/openai.atom')).text();
    for (const marker of ['Spacing only', 'Reordered', 'Date only']) expect(feed).toContain(`[${marker}] OpenAI`);
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails).toHaveLength(0);
  });

  it('classifies a 1 MB event of unclosed Markdown links without stalling ingest', async () => {
    // 100 lines of 10,000 characters, each a link and then `](` without `)` to its end: the old link
    // pattern retried from every position, about 5 s of CPU for this one request.
    const tail = ']('.repeat(4_985);
    const line = (n: number) => `[a](https://x.test/${n})${tail}`;
    const event = makeEvent({ id: 'hostile', diff: { removed: Array.from({ length: 50 }, (_, i) => line(i)), added: Array.from({ length: 50 }, (_, i) => line(i + 50)) } });
    const cpu = process.cpuUsage();
    const r = await s.ingest(event);
    const spent = process.cpuUsage(cpu);
    expect(r.json).toMatchObject({ accepted: 1 });
    // CPU milliseconds of this process, so other work on the shared machine does not count.
    expect((spent.user + spent.system) / 1000).toBeLessThan(1500);
    expect(await delivery('hostile')).toMatchObject({ suppressed_reason: 'links_only' });
  });

  it('withdraws alerts still gathering when their subscription is removed or the plan loses same-day alerts', async () => {
    const a = await emailSubscriber(s, 'gone@acme.test', ['openai']);
    const b = await emailSubscriber(s, 'downgraded@acme.test', ['openai']);
    await emailSubscriber(s, 'stays@acme.test', ['openai']);
    await s.ingest(makeEvent({ id: 'waiting' }));
    const [sub] = (await s.call('GET', `/v1/accounts/${a.account.id}/subscriptions`)).json.data;
    expect((await s.call('DELETE', `/v1/accounts/${a.account.id}/subscriptions/${sub.id}`)).status).toBe(204);
    expect((await s.call('PATCH', `/v1/accounts/${b.account.id}`, { plan: 'free' })).status).toBe(200);
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails.map((m) => m.to[0])).toEqual(['stays@acme.test']);
    expect(await delivery('waiting')).toMatchObject({ alerted: true, suppressed_destinations: { unsubscribed: 1, plan: 1 } });
  });

  it('sends nothing for an unreachable and restored pair with unchanged content inside the group wait', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.ingest(makeEvent({ id: 'down', kind: 'unreachable', severity: 'low', evidence: { previous_sha256: 'a'.repeat(64) }, detected_at: '2026-11-20T06:59:00Z' }));
    clock.advance(20_000);
    await s.ingest(makeEvent({ id: 'up', kind: 'restored', severity: 'low', evidence: { sha256: 'a'.repeat(64) }, detected_at: '2026-11-20T06:59:30Z' }));
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails).toHaveLength(0);
    for (const id of ['down', 'up']) expect(await delivery(id)).toMatchObject({ alerted: false, suppressed_destinations: { unreachable_burst: 1 } });
    expect((await s.call('GET', '/metrics')).text).toMatch(/clausewatch_alerts_suppressed_total\{reason="unreachable_burst"\} 2/);
    const log = (await s.call('GET', `/v1/accounts/${(await s.call('GET', '/v1/accounts?email=legal@acme.test')).json.data[0].id}/deliveries`)).json.data;
    expect(log.filter((d: any) => d.kind === 'alert')).toEqual([]);
  });

  it('still tells about an outage that lasted past the group wait', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.ingest(makeEvent({ id: 'down', kind: 'unreachable', severity: 'low', detected_at: '2026-11-20T06:59:00Z' }));
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails.map((m) => m.parsed.subject)).toEqual(['Monitoring: OpenAI Terms of Use cannot be watched']);
  });

  it('leaves an outage under an hour that ended unchanged out of the weekly digest, even when both notices were alerted, and keeps a longer one', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    const terms = { title: 'OpenAI Terms of Use' };
    const privacy = { title: 'OpenAI Privacy Policy' };
    await s.ingest(makeEvent({ id: 'blip-down', kind: 'unreachable', severity: 'low', document: terms, evidence: { previous_sha256: 'a'.repeat(64) }, detected_at: '2026-11-20T07:00:00Z' }));
    await s.ingest(makeEvent({ id: 'long-down', kind: 'unreachable', severity: 'low', document: privacy, evidence: { previous_sha256: 'b'.repeat(64) }, detected_at: '2026-11-20T07:00:00Z' }));
    clock.advance(61_000);
    await s.drain();
    clock.set('2026-11-20T07:20:00Z');
    await s.ingest(makeEvent({ id: 'blip-up', kind: 'restored', severity: 'low', document: terms, evidence: { sha256: 'a'.repeat(64) }, detected_at: '2026-11-20T07:20:00Z' }));
    clock.advance(61_000);
    await s.drain();
    clock.set('2026-11-20T12:00:00Z');
    await s.ingest(makeEvent({ id: 'long-up', kind: 'restored', severity: 'low', document: privacy, evidence: { sha256: 'b'.repeat(64) }, detected_at: '2026-11-20T12:00:00Z' }));
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails.map((m) => m.parsed.subject)).toEqual([
      'Monitoring: 2 notices',
      'Monitoring: OpenAI Terms of Use is watched again',
      'Monitoring: OpenAI Privacy Policy is watched again',
    ]);
    clock.set('2026-11-23T09:00:00Z');
    await s.call('POST', '/v1/digests/run', { at: '2026-11-23T09:00:00Z' });
    await s.drain();
    const html = smtp.mails[3]!.parsed.html as string;
    expect(html).toContain('OpenAI Privacy Policy could not be read');
    expect(html).toContain('OpenAI Privacy Policy could be read again');
    expect(html).not.toContain('OpenAI Terms of Use could not be read');
    expect(html).not.toContain('OpenAI Terms of Use could be read again');
  });

  it('explains why a subscriber was not alerted: below its minimum severity, its categories, or its plan', async () => {
    await emailSubscriber(s, 'high@acme.test', ['openai']);
    const high = (await s.call('GET', '/v1/accounts?email=high@acme.test')).json.data[0];
    const subs = (await s.call('GET', `/v1/accounts/${high.id}/subscriptions`)).json.data;
    await s.call('POST', `/v1/accounts/${high.id}/subscriptions`, { platform: 'openai', destination: subs[0].destination, min_severity: 'high' });
    const fees = await emailSubscriber(s, 'fees@acme.test', []);
    await s.call('POST', `/v1/accounts/${fees.account.id}/subscriptions`, { platform: 'openai', destination: fees.destination.id, categories: ['fees'] });
    await emailSubscriber(s, 'free@acme.test', ['openai'], 'free');
    await s.ingest(makeEvent({ id: 'med', severity: 'medium', categories: ['privacy'] }));
    expect(await delivery('med')).toMatchObject({
      matched_destinations: 1,
      alerted_destinations: 0,
      alerted: false,
      suppressed_destinations: { below_min_severity: 1, categories: 1, plan: 1 },
    });
    const metrics = (await s.call('GET', '/metrics')).text;
    for (const outcome of ['below_min_severity', 'categories', 'plan']) expect(metrics).toMatch(new RegExp(`clausewatch_decisions_total\\{outcome="${outcome}"\\} 1`));
    // A subscription made after the event was never judged for it: it is not counted as filtered out.
    clock.advance(60_000);
    const later = await emailSubscriber(s, 'later@acme.test', []);
    await s.call('POST', `/v1/accounts/${later.account.id}/subscriptions`, { platform: 'openai', destination: later.destination.id, categories: ['fees'] });
    expect((await delivery('med')).suppressed_destinations).toEqual({ below_min_severity: 1, categories: 1, plan: 1 });
  });
});

describe('the alert budget', () => {
  it('sends at most MAX_ALERTS_PER_DAY alerts a destination, then one “N more today” message at the day’s end', async () => {
    const budget = await testService({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_SECONDS: '60', MAX_ALERTS_PER_DAY: '2' }, { clock });
    try {
      await emailSubscriber(budget, 'legal@acme.test', ['openai']);
      for (let i = 0; i < 5; i++) {
        await budget.ingest(makeEvent({ id: `e${i}`, title: `Change ${i}`, detected_at: new Date(clock()).toISOString() }));
        clock.advance(61_000);
        await budget.drain();
      }
      expect(smtp.mails.map((m) => m.parsed.subject)).toEqual(['[MEDIUM] OpenAI: Change 0', '[MEDIUM] OpenAI: Change 1']);
      clock.set('2026-11-21T00:00:30Z'); // the local (UTC) day is over
      await budget.drain();
      await smtp.waitFor(3);
      const summary = smtp.mails[2]!;
      expect(summary.parsed.subject).toBe("3 more policy changes today (past today's alert limit)");
      for (const i of [2, 3, 4]) expect(summary.parsed.html).toContain(`Change ${i}`);
      // A new day, a new budget.
      await budget.ingest(makeEvent({ id: 'next-day', title: 'Next day', detected_at: new Date(clock()).toISOString() }));
      clock.advance(61_000);
      await budget.drain();
      await smtp.waitFor(4);
      expect(smtp.mails[3]!.parsed.subject).toBe('[MEDIUM] OpenAI: Next day');
    } finally {
      await budget.dispose();
    }
  });

  it('sends no end-of-day message for a subscription removed before the day ended', async () => {
    const budget = await testService({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_SECONDS: '60', MAX_ALERTS_PER_DAY: '1' }, { clock });
    try {
      const { account } = await emailSubscriber(budget, 'legal@acme.test', ['openai']);
      for (let i = 0; i < 3; i++) {
        await budget.ingest(makeEvent({ id: `e${i}`, title: `Change ${i}`, detected_at: new Date(clock()).toISOString() }));
        clock.advance(61_000);
        await budget.drain();
      }
      expect(smtp.mails).toHaveLength(1);
      const [sub] = (await budget.call('GET', `/v1/accounts/${account.id}/subscriptions`)).json.data;
      await budget.call('DELETE', `/v1/accounts/${account.id}/subscriptions/${sub.id}`);
      clock.set('2026-11-21T00:00:30Z');
      await budget.drain();
      await new Promise((r) => setTimeout(r, 100));
      expect(smtp.mails).toHaveLength(1);
      const log = (await budget.call('GET', `/v1/accounts/${account.id}/deliveries`)).json.data;
      expect(log.find((l: any) => l.kind === 'budget')).toMatchObject({ status: 'cancelled' });
    } finally {
      await budget.dispose();
    }
  });
});
