import { beforeEach, describe, expect, it } from 'vitest';
import type { TestSmtpServer } from '../support/smtp.js';
import { emailSubscriber, withSmtpService, type TestService } from '../support/service.js';
import { makeEvent } from '../support/app.js';

const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '60', FLAP_WINDOW_HOURS: '72' }, '2026-11-25T06:00:00Z');
const clock = ctx.clock;
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const subjects = () => smtp.mails.map((m) => m.parsed.subject);
const delivery = async (id: string) => (await s.call('GET', '/v1/events?limit=100')).json.data.find((e: any) => e.id === id).delivery;

/** A capture of the document, now, moving it from one content hash to another. */
const version = (id: string, from: string, to: string, overrides: Record<string, unknown> = {}) =>
  makeEvent({
    id,
    severity: 'high',
    title: to === A ? 'Arbitration clause restored' : 'Arbitration clause replaced',
    document: { id: 'D-1', title: 'ChatGPT Commercial Terms' },
    evidence: { sha256: to, previous_sha256: from },
    detected_at: new Date(clock()).toISOString(),
    ...overrides,
  });

describe('flap detection', () => {
  it('cancels a change and its reversion that meet in one alert group', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.ingest(version('first', 'f'.repeat(64), A, { kind: 'first_recorded' }));
    clock.advance(3_600_000);
    await s.ingest(version('change', A, B));
    clock.advance(20_000);
    await s.ingest(version('undo', B, A));
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails).toHaveLength(0);
    expect(await delivery('change')).toMatchObject({ alerted: false, suppressed_destinations: { reverted: 1 } });
    expect(await delivery('undo')).toMatchObject({
      alerted: false,
      suppressed_destinations: { reverted: 1 },
      reversion: { reverted_to_version_of: '2026-11-25T06:00:00.000Z', shown_severity: 'low', undoes: 'change' },
    });
    expect((await s.call('GET', '/metrics')).text).toMatch(/clausewatch_alerts_suppressed_total\{reason="reverted"\} 2/);
  });

  it('finds a reversion from the content hashes alone, for a producer that sends no previous hash', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    const only = (to: string) => ({ evidence: { sha256: to } });
    await s.ingest(version('first', '', A, { kind: 'first_recorded', ...only(A) }));
    clock.advance(3_600_000);
    await s.ingest(version('change', '', B, only(B)));
    clock.advance(20_000);
    // The undo's hash is only ever an earlier version's own hash: no version names it as the one it left.
    await s.ingest(version('undo', '', A, only(A)));
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails).toHaveLength(0);
    expect(await delivery('undo')).toMatchObject({ reversion: { reverted_to_version_of: '2026-11-25T06:00:00.000Z', undoes: 'change' } });
  });

  it('alerts a change undone hours later even when both arrive together (a producer posting a day at once)', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    const hoursAgo = (h: number) => new Date(clock() - h * 3_600_000).toISOString();
    await s.ingest(version('first', 'f'.repeat(64), A, { kind: 'first_recorded', detected_at: hoursAgo(13) }));
    await s.ingest({ events: [version('change', A, B, { detected_at: hoursAgo(12) }), version('undo', B, A)] });
    clock.advance(61_000);
    await s.drain();
    expect(await delivery('change')).toMatchObject({ alerted: true });
    expect(subjects()).toHaveLength(1);
    expect(smtp.mails[0]!.parsed.text).toContain('Arbitration clause replaced');
  });

  it('cancels the change for a destination that takes high changes only (the low reversion does not reach it), and alerts a later return to that version as the change it is', async () => {
    const { account, destination } = await emailSubscriber(s, 'high@acme.test', []);
    await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: destination.id, min_severity: 'high' });
    await s.ingest(version('change', A, B));
    await s.ingest(version('undo', B, A));
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails).toHaveLength(0);
    clock.advance(5 * 3_600_000);
    await s.ingest(version('again', A, B));
    clock.advance(61_000);
    await s.drain();
    await smtp.waitFor(1);
    expect(subjects()).toEqual(['[HIGH] OpenAI: Arbitration clause replaced']);
    expect(await delivery('again')).toMatchObject({ alerted: true, reversion: null });
  });

  it('tells a destination that takes high changes only of a later reversion of a change it was alerted to', async () => {
    const { account, destination } = await emailSubscriber(s, 'high@acme.test', []);
    await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: destination.id, min_severity: 'high' });
    await s.ingest(version('change', A, B));
    clock.advance(61_000);
    await s.drain();
    clock.advance(5 * 3_600_000);
    await s.ingest(version('undo', B, A));
    // An unrelated low change still does not reach it.
    await s.ingest(makeEvent({ id: 'minor', severity: 'low', title: 'Typo fixed', detected_at: new Date(clock()).toISOString() }));
    clock.advance(61_000);
    await s.drain();
    await smtp.waitFor(2);
    expect(subjects()).toEqual(['[HIGH] OpenAI: Arbitration clause replaced', '[LOW] OpenAI: Arbitration clause restored']);
    expect(smtp.mails[1]!.parsed.text).not.toContain('Typo fixed');
  });

  it('shows a later reversion as “reverted to the version of <date>” at low severity, never as a new high change', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.ingest(version('change', A, B));
    clock.advance(61_000);
    await s.drain();
    clock.advance(5 * 3_600_000);
    await s.ingest(version('undo', B, A));
    clock.advance(61_000);
    await s.drain();
    await smtp.waitFor(2);
    expect(subjects()).toEqual(['[HIGH] OpenAI: Arbitration clause replaced', '[LOW] OpenAI: Arbitration clause restored']);
    // The version returned to: the one in place before the change, known here only from the change's previous hash.
    expect(smtp.mails[1]!.parsed.text).toContain('Reverted to the version of 25 Nov 2026');
  });

  it('sends a flip-flopping document’s further flips to the digest only, with how often it flapped', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    const hashes = [A, B];
    for (let i = 0; i < 9; i++) {
      await s.ingest(version(`flip${i}`, hashes[i % 2]!, hashes[(i + 1) % 2]!));
      clock.advance(61_000);
      await s.drain();
      clock.advance(5 * 3_600_000);
    }
    // The change and 3 reversions alert; from the 4th reversion on the document is flapping.
    expect(subjects()).toEqual(['[HIGH] OpenAI: Arbitration clause replaced', ...Array(3).fill(expect.stringMatching(/^\[LOW\] OpenAI: Arbitration clause/))]);
    expect(await delivery('flip4')).toMatchObject({ alerted: false, suppressed_reason: 'flapping' });
    expect((await s.call('GET', '/metrics')).text).toMatch(/clausewatch_alerts_suppressed_total\{reason="flapping"\} 5/);

    clock.set('2026-11-30T09:00:00Z');
    await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:00:00Z' });
    await s.drain();
    const digest = smtp.mails.find((m) => /this week/.test(m.parsed.subject ?? ''))!;
    expect(digest.parsed.text).toContain('OpenAI · ChatGPT Commercial Terms flapped 8 times this week between 2 versions');
    // The flips are not listed one by one; the first change is.
    expect(digest.parsed.text).toContain('[HIGH] Arbitration clause replaced');
    expect(digest.parsed.text).not.toContain('[LOW] Arbitration clause restored');
  });

  it('does not alert a reversion to a destination that was never alerted to the change it undoes', async () => {
    await emailSubscriber(s, 'early@acme.test', ['openai']);
    await s.ingest(version('change', A, B));
    clock.advance(61_000);
    await s.drain();
    await emailSubscriber(s, 'late@acme.test', ['openai']);
    clock.advance(2 * 3_600_000);
    await s.ingest(version('undo', B, A));
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails.map((m) => m.to[0])).toEqual(['early@acme.test', 'early@acme.test']);
    expect(await delivery('undo')).toMatchObject({ alerted_destinations: 1, suppressed_destinations: { undoes_unalerted: 1 } });
  });
});
