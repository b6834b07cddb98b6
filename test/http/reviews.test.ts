import { beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { TestSmtpServer } from '../support/smtp.js';
import { emailSubscriber, withSmtpService, type TestService } from '../support/service.js';
import { makeEvent } from '../support/app.js';

/** makeEvent, detected this morning (older events are backfill, never alerted). */
const change = (o: Record<string, any>) => makeEvent({ detected_at: '2026-12-02T08:30:00Z', ...o });
const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '60' }, '2026-12-02T09:00:00Z');
const clock = ctx.clock;
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const SHA = 'a'.repeat(64);
const PREV = 'b'.repeat(64);
const evidence = { sha256: SHA, previous_sha256: PREV, archive_url: 'https://web.archive.org/web/2026/https://openai.com/terms' };

/** A monitor account alerted by mail to the events given; returns the review links of the mail, by change title. */
async function alerted(events: any[], address = 'legal@acme.test') {
  const sub = await emailSubscriber(s, address);
  await s.ingest({ events: events.map((e) => ({ detected_at: '2026-12-02T08:30:00Z', ...e })) });
  clock.advance(61_000);
  await s.drain();
  const [mail] = await smtp.waitFor(1);
  const html = mail!.parsed.html as string;
  const links = [...html.matchAll(/href="https:\/\/clausewatch\.test(\/review\/[A-Za-z0-9._-]+)"/g)].map((m) => m[1]!);
  return { ...sub, html, text: mail!.parsed.text as string, links };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  s.call('POST', path, form(fields), null, { 'content-type': 'application/x-www-form-urlencoded', ...headers });
const historyRows = async () => (await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM review_history`))[0]!.n;

describe('the review trail', () => {
  it('links each change of an alert mail to its review page, whose GET shows the change and its evidence and records nothing', async () => {
    const { links, text } = await alerted([
      change({ id: 'evt_a', title: 'Retention extended', provision: { id: 'P-1', title: 'Data retention' }, evidence }),
      change({ id: 'evt_b', title: 'Arbitration added', severity: 'high' }),
    ]);
    expect(links).toHaveLength(2);
    expect(text).toContain('Review: https://clausewatch.test/review/');
    const page = await s.call('GET', links[1]!, undefined, null);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Retention extended');
    expect(page.text).toContain('Data retention');
    expect(page.text).toContain(SHA);
    expect(page.text).toContain(PREV);
    expect(page.text).toContain('Awaiting review');
    expect(page.text).toMatch(/<form method="post"/);
    expect(await historyRows()).toBe(0);
    // A link made for another purpose, or altered, opens nothing.
    expect((await s.call('GET', `${links[0]}x`, undefined, null)).status).toBe(400);
    expect((await s.call('GET', links[0]!.replace('/review/', '/manage/'), undefined, null)).status).toBe(400);
  });

  it('records a decision from the page under the name typed, and shows it on the page and in the API', async () => {
    const { account, links } = await alerted([change({ id: 'evt_a', title: 'Retention extended', evidence })]);
    clock.set('2026-12-02T09:14:00Z');
    const r = await post(links[0]!, { status: 'reviewed', name: 'Maria Rossi', reason: 'Checked against our DPA.' });
    expect(r.status).toBe(303);
    const page = await s.call('GET', r.res.headers.get('location')!, undefined, null);
    expect(page.text).toContain('Your decision is recorded.');
    expect(page.text).toContain('Reviewed by Maria Rossi, 2 Dec 09:14: Checked against our DPA.');
    const list = await s.call('GET', `/v1/accounts/${account.id}/reviews`);
    expect(list.status).toBe(200);
    expect(list.json.data).toEqual([
      expect.objectContaining({
        change: 'evt_a',
        status: 'reviewed',
        by: { name: 'Maria Rossi', id: null, via: 'page' },
        at: '2026-12-02T09:14:00.000Z',
        reason: 'Checked against our DPA.',
        evidence: { sha256: SHA, previous_sha256: PREV, archive_url: evidence.archive_url },
      }),
    ]);
    expect(list.json.next_cursor).toBeNull();
  });

  it('refuses what the rules refuse, the typed text kept and escaped, and records nothing', async () => {
    const { links } = await alerted([change({ id: 'evt_a' })]);
    const noName = await post(links[0]!, { status: 'reviewed', name: '   ' });
    expect(noName.status).toBe(400);
    expect(noName.text).toContain('Give your name');
    const noReason = await post(links[0]!, { status: 'not_applicable', name: '<script>alert(1)</script>' });
    expect(noReason.status).toBe(400);
    expect(noReason.text).toContain('Give a reason');
    expect(noReason.text).not.toContain('<script>alert(1)</script>');
    expect(noReason.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect((await post(links[0]!, { status: 'reviewed', name: 'x'.repeat(121) })).status).toBe(400);
    expect((await post(links[0]!, { status: 'not_applicable', name: 'Ana', reason: 'r'.repeat(501) })).status).toBe(400);
    expect((await post(links[0]!, { status: 'open', name: 'Ana' })).status).toBe(400);
    expect((await post(links[0]!, { status: 'assigned', name: 'Ana' })).status).toBe(400);
    expect(await historyRows()).toBe(0);
    // A body past the form cap is refused before it is read.
    expect((await post(links[0]!, { status: 'reviewed', name: 'Ana', reason: 'x'.repeat(9000) })).status).toBe(413);
    expect(await historyRows()).toBe(0);
  });

  it('keeps every decision: two at once on one change are both in the history, the later one current', async () => {
    const { account, links } = await alerted([change({ id: 'evt_a' })]);
    const [a, b] = await Promise.all([
      post(links[0]!, { status: 'reviewed', name: 'Maria' }),
      post(links[0]!, { status: 'not_applicable', name: 'Jon', reason: 'We do not use this product.' }),
    ]);
    expect([a.status, b.status]).toEqual([303, 303]);
    const rows = await s.database.db.all<{ id: number; status: string; actor_name: string }>(sql`SELECT id, status, actor_name FROM review_history ORDER BY id`);
    expect(rows).toHaveLength(2);
    const current = (await s.call('GET', `/v1/accounts/${account.id}/reviews`)).json.data[0];
    expect(current.status).toBe(rows[1]!.status);
    expect(current.by.name).toBe(rows[1]!.actor_name);
    // The page lists both, oldest first.
    const page = await s.call('GET', links[0]!, undefined, null);
    expect(page.text.indexOf(`by ${rows[0]!.actor_name}`)).toBeLessThan(page.text.indexOf(`by ${rows[1]!.actor_name}, `, page.text.indexOf('<ol class="history">')));
    // History rows are never edited in place, nor removed: the database refuses.
    const refusal = (e: any) => String(e?.cause?.message ?? e?.message);
    await expect(s.database.db.run(sql`UPDATE review_history SET status = 'open'`).catch(refusal)).resolves.toMatch(/append-only/);
    await expect(s.database.db.run(sql`DELETE FROM review_history`).catch(refusal)).resolves.toMatch(/append-only/);
    expect(await historyRows()).toBe(2);
  });

  it('assigns a change, which stays awaiting review; once decided it can no longer be assigned', async () => {
    const { account, links } = await alerted([change({ id: 'evt_a' })]);
    expect((await post(links[0]!, { status: 'assigned', name: 'Maria', assignee: 'jon@acme.test' })).status).toBe(303);
    let list = (await s.call('GET', `/v1/accounts/${account.id}/reviews?status=open,assigned`)).json.data;
    expect(list).toEqual([expect.objectContaining({ status: 'assigned', assigned_to: { name: 'jon@acme.test', id: null } })]);
    expect((await post(links[0]!, { status: 'reviewed', name: 'Jon' })).status).toBe(303);
    const late = await post(links[0]!, { status: 'assigned', name: 'Maria', assignee: 'ana@acme.test' });
    expect(late.status).toBe(400);
    expect(late.text).toContain('already reviewed');
    list = (await s.call('GET', `/v1/accounts/${account.id}/reviews?status=open,assigned`)).json.data;
    expect(list).toEqual([]);
    expect(await historyRows()).toBe(2);
  });

  it('offers reviews on the monitor plan only: after a downgrade to free, a decision is refused and nothing recorded', async () => {
    const { links, account } = await alerted([change({ id: 'evt_a' })]);
    await s.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'free' });
    const r = await post(links[0]!, { status: 'reviewed', name: 'Maria' });
    expect(r.status).toBe(403);
    expect(r.text).toContain('monitor plan');
    expect(await historyRows()).toBe(0);
  });

  it('rate-limits the review form per client address', async () => {
    const { links } = await alerted([change({ id: 'evt_a' })]);
    let last = 0;
    for (let i = 0; i < 31; i++) last = (await post(links[0]!, { status: 'reviewed', name: `P${i}` }, { 'x-test-client': '203.0.113.9' })).status;
    expect(last).toBe(429);
    expect((await post(links[0]!, { status: 'reviewed', name: 'Other' }, { 'x-test-client': '203.0.113.10' })).status).toBe(303);
  });

  it('lists the open reviews on the manage page, and drops a change once it is decided', async () => {
    const { links, text } = await alerted([change({ id: 'evt_a', title: 'First <b>change</b>' }), change({ id: 'evt_b', title: 'Second' })]);
    const manage = /https:\/\/clausewatch\.test(\/manage\/[A-Za-z0-9._-]+)/.exec(text)![1]!;
    let page = (await s.call('GET', manage, undefined, null)).text;
    expect(page).toContain('Awaiting review (2)');
    expect(page).toContain('First &lt;b&gt;change&lt;/b&gt;');
    await post(links[0]!, { status: 'reviewed', name: 'Maria' });
    page = (await s.call('GET', manage, undefined, null)).text;
    expect(page).toContain('Awaiting review (1)');
    await post(links[1]!, { status: 'not_applicable', name: 'Maria', reason: 'Not ours' });
    expect((await s.call('GET', manage, undefined, null)).text).not.toContain('Awaiting review');
  });

  it('lists what still awaits review in the weekly digest, linked to each review page', async () => {
    const { account, links } = await alerted([change({ id: 'evt_a', title: 'First' }), change({ id: 'evt_b', title: 'Second' }), change({ id: 'evt_c', title: 'Third' })]);
    await post(links[0]!, { status: 'reviewed', name: 'Maria' });
    await s.call('PATCH', `/v1/accounts/${account.id}`, { digest_weekday: 'wednesday', digest_hour: 10 });
    clock.set('2026-12-02T10:00:00Z');
    expect((await s.call('POST', '/v1/digests/run', { at: '2026-12-02T10:00:00Z' })).status).toBe(202);
    await s.drain();
    const digest = (await smtp.waitFor(2))[1]!;
    const html = digest.parsed.html as string;
    expect(html).toContain('Awaiting review (2)');
    const listed = [...html.slice(html.indexOf('Awaiting review (2)')).matchAll(/href="https:\/\/clausewatch\.test(\/review\/[A-Za-z0-9._-]+)"/g)].map((m) => m[1]);
    expect(listed.slice(0, 2).sort()).toEqual([links[1], links[2]].sort());
    expect(digest.parsed.text).toContain('== Awaiting review (2)');
  });

  it('lists the trail as paged JSON filtered by status and time, and refuses bad filters', async () => {
    const { account, links } = await alerted([
      change({ id: 'evt_old', detected_at: '2026-12-01T06:00:00Z', title: 'Old' }),
      change({ id: 'evt_new', detected_at: '2026-12-02T06:00:00Z', title: 'New' }),
      change({ id: 'evt_mid', detected_at: '2026-12-01T18:00:00Z', title: 'Mid' }),
    ]);
    const newLink = links[0]!; // same severity: newest first
    await post(newLink, { status: 'reviewed', name: 'Maria' });
    const page1 = (await s.call('GET', `/v1/accounts/${account.id}/reviews?limit=2`)).json;
    expect(page1.data.map((r: any) => r.change)).toEqual(['evt_new', 'evt_mid']);
    const page2 = (await s.call('GET', `/v1/accounts/${account.id}/reviews?limit=2&cursor=${page1.next_cursor}`)).json;
    expect(page2.data.map((r: any) => r.change)).toEqual(['evt_old']);
    expect(page2.next_cursor).toBeNull();
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews?status=open`)).json.data.map((r: any) => r.change)).toEqual(['evt_mid', 'evt_old']);
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews?since=2026-12-01T12:00:00Z`)).json.data.map((r: any) => r.change)).toEqual(['evt_new', 'evt_mid']);
    const bad = await s.call('GET', `/v1/accounts/${account.id}/reviews?status=done`);
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: 'invalid_query', issues: [expect.objectContaining({ path: 'status' })] });
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews?format=xml`)).status).toBe(400);
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews`, undefined, null)).status).toBe(401);
    expect((await s.call('GET', `/v1/accounts/acc_nope/reviews`)).status).toBe(404);
    // Another account sees none of it.
    const other = (await s.call('POST', '/v1/accounts', { name: 'Other', plan: 'monitor' })).json;
    expect((await s.call('GET', `/v1/accounts/${other.id}/reviews`)).json.data).toEqual([]);
  });

  it('exports the trail as CSV with a header row, RFC 4180 quoting, and no cell a spreadsheet would run as a formula', async () => {
    const { account, links } = await alerted([
      change({ id: 'evt_a', title: '=HYPERLINK("https://evil.test","click")', provision: { title: 'Fees, "late"' }, document: { title: '+Terms' }, evidence, effective_at: '2026-12-31' }),
    ]);
    await s.call('POST', '/v1/verifications', { checks: [{ platform: 'openai', document: '+Terms', checked_at: '2026-12-02T08:00:00Z', sha256: SHA }] }, 'test-ingest-token-0123456789');
    clock.set('2026-12-02T09:14:00Z');
    await post(links[0]!, { status: 'not_applicable', name: '@maria', reason: '-not ours\nsecond line' });
    const r = await s.call('GET', `/v1/accounts/${account.id}/reviews?format=csv`);
    expect(r.status).toBe(200);
    expect(r.res.headers.get('content-type')).toMatch(/^text\/csv/);
    // The reason's own line break is inside a quoted field; rows end with CRLF.
    const [header, row, end] = r.text.split('\r\n');
    expect(header).toBe('change_id,platform,document,clause,title,severity,detected_at,effective_at,evidence_sha256,previous_sha256,archive_url,last_verified_at,status,by,at,reason,assigned_to');
    expect(end).toBe('');
    expect(row).toBe(
      [
        'evt_a',
        'openai',
        "'+Terms",
        '"Fees, ""late"""',
        `"'=HYPERLINK(""https://evil.test"",""click"")"`,
        'medium',
        '2026-12-02T08:30:00.000Z',
        '2026-12-31',
        SHA,
        PREV,
        evidence.archive_url,
        '2026-12-02T08:00:00.000Z',
        'not_applicable',
        "'@maria (review page)",
        '2026-12-02T09:14:00.000Z',
        `"'-not ours\nsecond line"`,
        '',
      ].join(','),
    );
  });
});
