import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { TestSmtpServer } from '../support/smtp.js';
import { emailSubscriber, testService, withSmtpService, type TestService } from '../support/service.js';
import { INGEST_TOKEN, makeEvent } from '../support/app.js';
import { checkStaleDocuments } from '../../src/ingest/health.js';

const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '0' }, '2026-11-20T07:00:00Z');
const clock = ctx.clock;
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const verify = (checks: unknown) => s.call('POST', '/v1/verifications', { checks }, INGEST_TOKEN);

describe('POST /v1/verifications', () => {
  it('keeps each document’s last-verified time, found by producer id or title, and reports unknown ones', async () => {
    await s.ingest(makeEvent({ document: { id: 'CA-D-1', title: 'OpenAI Terms of Use' }, detected_at: '2026-11-19T06:00:00Z' }));
    const r = await verify([
      { platform: 'openai', document: 'CA-D-1', checked_at: '2026-11-20T06:00:00Z', sha256: 'd'.repeat(64) },
      { platform: 'openai', document: 'OpenAI Privacy Policy', checked_at: '2026-11-20T06:01:00Z' },
      { platform: 'openai', document: 'No Such Document', checked_at: '2026-11-20T06:01:00Z' },
    ]);
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 3, verified: 2, unknown: [{ platform: 'openai', document: 'No Such Document' }] });
    const docs = (await s.call('GET', '/v1/platforms?q=openai', undefined, null)).json.data[0].documents;
    expect(docs.find((d: any) => d.title === 'OpenAI Terms of Use').last_verified_at).toBe('2026-11-20T06:00:00.000Z');
    expect(docs.find((d: any) => d.title === 'OpenAI Privacy Policy').last_verified_at).toBe('2026-11-20T06:01:00.000Z');
    // An older check never moves the time back.
    await verify([{ platform: 'openai', document: 'CA-D-1', checked_at: '2026-11-01T00:00:00Z' }]);
    const again = (await s.call('GET', '/v1/platforms?q=openai', undefined, null)).json.data[0].documents;
    expect(again.find((d: any) => d.title === 'OpenAI Terms of Use').last_verified_at).toBe('2026-11-20T06:00:00.000Z');
  });

  it('refuses bad checks naming each field, and an oversized batch, storing nothing', async () => {
    const r = await verify([{ platform: 'Open AI', document: '', checked_at: 'today', sha256: 'xyz' }]);
    expect(r.status).toBe(400);
    expect(r.json.issues.map((i: any) => i.path).sort()).toEqual(['checks.0.checked_at', 'checks.0.document', 'checks.0.platform', 'checks.0.sha256']);
    const big = Array.from({ length: 5001 }, () => ({ platform: 'openai', document: 'x', checked_at: '2026-11-20T06:00:00Z' }));
    expect((await verify(big)).status).toBe(400);
    expect((await s.call('POST', '/v1/verifications', { checks: [] }, null)).status).toBe(401);
    const [row] = await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM documents WHERE last_verified_at IS NOT NULL`);
    expect(row!.n).toBe(0);
  });
});

describe('monitor health', () => {
  it('turns a watched document silent past STALE_AFTER_HOURS into exactly one notice, and one restore', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai'], 'monitor');
    await s.ingest(makeEvent({ id: 'seen', detected_at: '2026-11-20T06:00:00Z' }));
    await s.drain();
    expect(smtp.mails).toHaveLength(1); // the change itself

    clock.advance(47 * 3_600_000);
    expect(await checkStaleDocuments(s.database.db, clock(), 48)).toBe(0);
    clock.advance(2 * 3_600_000);
    expect(await checkStaleDocuments(s.database.db, clock(), 48)).toBe(1);
    clock.advance(60 * 60_000);
    expect(await checkStaleDocuments(s.database.db, clock(), 48)).toBe(0); // once per outage
    await s.drain();
    await smtp.waitFor(2);
    expect(smtp.mails[1]!.parsed.subject).toBe('Monitoring: OpenAI Terms of Use cannot be watched');
    expect(smtp.mails[1]!.parsed.html).toContain('Monitoring · cannot be watched');

    await verify([{ platform: 'openai', document: 'OpenAI Terms of Use', checked_at: new Date(clock()).toISOString() }]);
    await s.drain();
    await smtp.waitFor(3);
    expect(smtp.mails[2]!.parsed.subject).toBe('Monitoring: OpenAI Terms of Use is watched again');
    await verify([{ platform: 'openai', document: 'OpenAI Terms of Use', checked_at: new Date(clock() + 1000).toISOString() }]);
    await s.drain();
    await new Promise((r) => setTimeout(r, 100));
    expect(smtp.mails).toHaveLength(3);
  });

  it('tells free accounts in the digest, apart from changes, with last-verified times', async () => {
    await emailSubscriber(s, 'free@acme.test', ['openai'], 'free');
    await s.ingest(makeEvent({ id: 'seen', detected_at: '2026-11-20T06:00:00Z' }));
    clock.set('2026-11-24T06:00:00Z');
    await verify([{ platform: 'openai', document: 'OpenAI Privacy Policy', checked_at: '2026-11-24T06:00:00Z' }]);
    clock.set('2026-11-25T00:00:00Z');
    await checkStaleDocuments(s.database.db, clock(), 48);
    await s.drain();
    expect(smtp.mails).toHaveLength(0); // free: no same-day notice
    clock.set('2026-11-30T09:00:00Z');
    await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:00:00Z' });
    await s.drain();
    const html = (await smtp.waitFor(1))[0]!.parsed.html as string;
    const monitoring = html.slice(html.indexOf('>Monitoring<'));
    expect(monitoring).toContain('OpenAI Terms of Use could not be read');
    expect(html).toContain('OpenAI Privacy Policy <span');
    expect(html).toContain('last verified 24 Nov 2026, 06:00 UTC');
    // The outage's own notice is no proof that monitoring ran: the last read stays the last read.
    expect(html).toContain('last verified 20 Nov 2026, 06:00 UTC');
    expect(html).not.toContain('last verified 25 Nov 2026');
  });

  it('takes the producer’s unreachable as the outage: once, never announced again by the silence check, ended by its restored', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai'], 'monitor');
    await s.ingest(makeEvent({ id: 'seen', detected_at: '2026-11-20T06:00:00Z' }));
    await s.drain();
    const down = (id: string) => makeEvent({ id, kind: 'unreachable', severity: 'low', title: 'Terms cannot be read', detected_at: new Date(clock()).toISOString() });
    clock.set('2026-11-21T07:00:00Z');
    await s.ingest(down('down-1'));
    await s.drain();
    clock.set('2026-11-21T13:00:00Z');
    await s.ingest(down('down-2')); // the producer repeats itself
    await s.drain();
    clock.set('2026-11-23T07:00:00Z');
    expect(await checkStaleDocuments(s.database.db, clock(), 48)).toBe(0); // already known to be down
    await s.drain();
    const subjects = smtp.mails.map((m) => m.parsed.subject);
    expect(subjects.filter((x) => /cannot be (read|watched)/.test(x ?? ''))).toHaveLength(1);
    const delivery = async (id: string) => (await s.call('GET', '/v1/events?limit=100')).json.data.find((e: any) => e.id === id).delivery;
    expect(await delivery('down-2')).toMatchObject({ alerted: false, suppressed_reason: 'still_unreachable' });
    expect((await s.call('GET', '/metrics')).text).toMatch(/clausewatch_alerts_suppressed_total\{reason="still_unreachable"\} 1/);

    // Its restored ends the outage: one notice from the producer, none from ClauseWatch besides.
    await s.ingest(makeEvent({ id: 'up', kind: 'restored', severity: 'low', title: 'Terms can be read again', detected_at: new Date(clock()).toISOString() }));
    await s.drain();
    await verify([{ platform: 'openai', document: 'OpenAI Terms of Use', checked_at: new Date(clock() + 1000).toISOString() }]);
    await s.drain();
    await new Promise((r) => setTimeout(r, 100));
    expect(smtp.mails.map((m) => m.parsed.subject).filter((x) => /again/.test(x ?? ''))).toHaveLength(1);
  });

  it('says “watched again” once when a verification ends the outage before the producer’s restored arrives', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai'], 'monitor');
    await s.ingest(makeEvent({ id: 'seen', detected_at: '2026-11-20T06:00:00Z' }));
    await s.drain();
    clock.set('2026-11-21T07:00:00Z');
    await s.ingest(makeEvent({ id: 'down', kind: 'unreachable', severity: 'low', detected_at: new Date(clock()).toISOString() }));
    await s.drain();
    clock.set('2026-11-22T07:00:00Z');
    await verify([{ platform: 'openai', document: 'OpenAI Terms of Use', checked_at: new Date(clock()).toISOString() }]);
    await s.drain();
    clock.advance(60_000);
    await s.ingest(makeEvent({ id: 'up', kind: 'restored', severity: 'low', detected_at: new Date(clock()).toISOString() }));
    await s.drain();
    await new Promise((r) => setTimeout(r, 100));
    const subjects = smtp.mails.map((m) => m.parsed.subject ?? '');
    expect(subjects.filter((x) => /cannot be (read|watched)/.test(x))).toHaveLength(1);
    expect(subjects.filter((x) => /again/.test(x))).toHaveLength(1);
    const up = (await s.call('GET', '/v1/events?limit=100')).json.data.find((e: any) => e.id === 'up').delivery;
    expect(up).toMatchObject({ alerted: false, suppressed_reason: 'already_restored' });
  });

  it('lets a late or replayed unreachable change nothing about a document verified since', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai'], 'monitor');
    await s.ingest(makeEvent({ id: 'seen', detected_at: '2026-11-20T06:00:00Z' }));
    await verify([{ platform: 'openai', document: 'OpenAI Terms of Use', checked_at: '2026-11-20T06:30:00Z' }]);
    await s.drain();
    const before = smtp.mails.length;
    // A replay of an old outage (backfill, older than ALERT_MAX_AGE_HOURS): stored, but no news.
    await s.ingest(makeEvent({ id: 'old-down', kind: 'unreachable', severity: 'low', detected_at: '2026-11-01T06:00:00Z' }));
    await s.drain();
    await new Promise((r) => setTimeout(r, 100));
    expect(smtp.mails).toHaveLength(before);
    const [doc] = await s.database.db.all<{ health: string }>(sql`SELECT health FROM documents WHERE title = 'OpenAI Terms of Use'`);
    expect(doc!.health).toBe('ok');
  });
});
