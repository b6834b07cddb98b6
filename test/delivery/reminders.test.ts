import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestSmtpServer } from '../support/smtp.js';
import { emailSubscriber, testService, withSmtpService, type TestService } from '../support/service.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { makeEvent } from '../support/app.js';

const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '0', WEBHOOK_ALLOW_PRIVATE: 'true' }, '2026-11-20T07:00:00Z');
const clock = ctx.clock;
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const tick = async (at: string) => {
  clock.set(at);
  const r = await s.call('POST', '/v1/digests/run', { at });
  await s.drain();
  return r.json.reminders as number;
};

describe('effective-date reminders', () => {
  it('remind each monitor destination once, reminder_days before, from its digest hour, across runs', async () => {
    await emailSubscriber(s, 'monitor@acme.test', ['openai'], 'monitor');
    await emailSubscriber(s, 'free@acme.test', ['openai'], 'free');
    await s.ingest(makeEvent({ id: 'eff', title: 'Arbitration clause added', effective_at: '2026-12-07', detected_at: '2026-11-20T06:00:00Z' }));
    await s.drain();
    const alerts = smtp.mails.length;
    expect(await tick('2026-11-29T09:30:00Z')).toBe(0); // 8 days before
    expect(await tick('2026-11-30T08:30:00Z')).toBe(0); // 7 days before, before the digest hour
    expect(await tick('2026-11-30T09:30:00Z')).toBe(1);
    expect(await tick('2026-11-30T10:30:00Z')).toBe(0); // already sent
    const reminders = smtp.mails.slice(alerts).filter((m) => /^Reminder/.test(m.parsed.subject ?? ''));
    expect(reminders.map((m) => m.to[0])).toEqual(['monitor@acme.test']);
    expect(reminders[0]!.parsed.subject).toBe('Reminder: OpenAI OpenAI Terms of Use change takes effect in 7 days');
    expect(reminders[0]!.parsed.html).toContain('Arbitration clause added');
  });

  it('are not sent by a run catching up on a past day: they would arrive late', async () => {
    await emailSubscriber(s, 'monitor@acme.test', ['openai'], 'monitor');
    await s.ingest(makeEvent({ id: 'eff', effective_at: '2026-12-07', detected_at: '2026-11-20T06:00:00Z' }));
    await s.drain();
    clock.set('2026-12-02T09:30:00Z');
    const catchUp = await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:30:00Z' }); // the reminder's day, missed
    expect(catchUp.status).toBe(202);
    expect(catchUp.json.reminders).toBe(0);
  });

  it('follow each account’s reminder_days, and 0 turns them off', async () => {
    const a = await emailSubscriber(s, 'three@acme.test', ['openai'], 'monitor');
    const b = await emailSubscriber(s, 'off@acme.test', ['openai'], 'monitor');
    await s.call('PATCH', `/v1/accounts/${a.account.id}`, { reminder_days: 3 });
    await s.call('PATCH', `/v1/accounts/${b.account.id}`, { reminder_days: 0 });
    await s.ingest(makeEvent({ id: 'eff', effective_at: '2026-12-07', detected_at: '2026-11-20T06:00:00Z' }));
    await s.drain();
    expect(await tick('2026-11-30T09:30:00Z')).toBe(0);
    expect(await tick('2026-12-04T09:30:00Z')).toBe(1);
    expect(smtp.mails.filter((m) => /^Reminder/.test(m.parsed.subject ?? '')).map((m) => m.to[0])).toEqual(['three@acme.test']);
  });

  it('leave out changes whose date no longer stands: link-only, and changed then reverted', async () => {
    await emailSubscriber(s, 'monitor@acme.test', ['openai'], 'monitor');
    const [A, B] = ['a'.repeat(64), 'b'.repeat(64)];
    const doc = { id: 'D-1', title: 'ChatGPT Commercial Terms' };
    await s.ingest({
      events: [
        makeEvent({ id: 'first', kind: 'first_recorded', document: doc, evidence: { sha256: A }, detected_at: '2026-11-18T06:00:00Z' }),
        makeEvent({
          id: 'links',
          effective_at: '2026-12-07',
          diff: { removed: ['Read [our FAQ](https://help.openai.com/a/1).'], added: ['Read [our FAQ](https://help.openai.com/a/2).'] },
          detected_at: '2026-11-19T06:00:00Z',
        }),
        makeEvent({ id: 'change', effective_at: '2026-12-07', document: doc, evidence: { sha256: B, previous_sha256: A }, detected_at: '2026-11-19T07:00:00Z' }),
        makeEvent({ id: 'undo', effective_at: '2026-12-07', document: doc, evidence: { sha256: A, previous_sha256: B }, detected_at: '2026-11-20T06:00:00Z' }),
      ],
    });
    await s.drain();
    expect(await tick('2026-11-30T09:30:00Z')).toBe(0);
    expect(smtp.mails.filter((m) => /^Reminder/.test(m.parsed.subject ?? ''))).toHaveLength(0);
  });

  it('reach webhooks as effective.reminder', async () => {
    const hook = await startWebhookReceiver();
    try {
      const account = (await s.call('POST', '/v1/accounts', { name: 'Hooks', plan: 'monitor' })).json;
      const dest = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url: hook.url })).json;
      await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: dest.id });
      await s.ingest(makeEvent({ id: 'eff', effective_at: '2026-12-07', detected_at: '2026-11-20T06:00:00Z' }));
      await s.drain();
      await tick('2026-11-30T09:30:00Z');
      const types = hook.received.map((r) => r.body.type).filter((t) => t !== 'digest.weekly');
      expect(types).toEqual(['change.alert', 'effective.reminder']);
      expect(hook.received.find((r) => r.body.type === 'effective.reminder')!.body.data.changes[0].id).toBe('eff');
    } finally {
      await hook.close();
    }
  });
});
