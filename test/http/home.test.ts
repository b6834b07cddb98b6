import { beforeEach, describe, expect, it } from 'vitest';
import type { TestSmtpServer } from '../support/smtp.js';
import { withSmtpService, type TestService } from '../support/service.js';

const ctx = withSmtpService({ SIGNUP_LIMIT_PER_HOUR: '3' }, '2026-11-20T07:00:00Z');
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const form = (fields: Record<string, string>, client = '10.0.0.7') =>
  s.call('POST', '/signup', new URLSearchParams(fields).toString(), null, { 'content-type': 'application/x-www-form-urlencoded', 'x-test-client': client });

describe('GET /', () => {
  it('says what the service is, links the feeds, and has a sign-up form listing the catalog', async () => {
    const r = await s.call('GET', '/', undefined, null);
    expect(r.status).toBe(200);
    expect(r.res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.text).toContain('<h1>Know when a platform changes its terms</h1>');
    expect(r.text).toContain('href="/feeds/all.atom"');
    expect(r.text).toMatch(/<form method="post" action="\/signup"/);
    expect(r.text).toContain('name="email"');
    expect(r.text).toMatch(/<option value="openai">OpenAI<\/option>/);
    // Every link on it answers.
    for (const [, href] of r.text.matchAll(/href="(\/[^"]*)"/g)) expect((await s.call('GET', href!.replace(/&amp;/g, '&'), undefined, null)).status, href).toBe(200);
  });
});

describe('POST /signup (the home page form)', () => {
  it('signs up as POST /v1/signup does: a confirmation mail, and the same sentence on the page', async () => {
    const r = await form({ email: 'Bea@Example.test', platform: 'OpenAI' });
    expect(r.status).toBe(200);
    expect(r.text).toContain('role="status">Check bea@example.test for a link to confirm the weekly digest of OpenAI.');
    await s.drain();
    const [mail] = await smtp.waitFor(1);
    expect(mail!.to).toEqual(['bea@example.test']);
    expect(mail!.parsed.subject).toBe('Confirm your ClauseWatch subscription');
  });

  it('shows a refusal on the page, with what was typed, escaped', async () => {
    const bad = await form({ email: 'not an <b>address</b>', platform: 'openai' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('role="alert">Please check the form: email an email address such as legal@example.com.');
    expect(bad.text).toContain('value="not an &lt;b&gt;address&lt;/b&gt;"');
    expect(bad.text).not.toContain('<b>address');
    const unknown = await form({ email: 'cy@example.test', platform: 'opnai' });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toMatch(/role="alert">No platform &#39;opnai&#39;\. Did you mean &#39;openai&#39;/);
  });

  it('shares the API sign-up’s limit per client address', async () => {
    const api = (email: string) => s.call('POST', '/v1/signup', { email, platform: 'openai' }, null, { 'x-test-client': '10.0.0.9' });
    expect((await api('d1@example.test')).status).toBe(202);
    expect((await form({ email: 'd2@example.test', platform: 'openai' }, '10.0.0.9')).status).toBe(200);
    expect((await api('d3@example.test')).status).toBe(202);
    const limited = await form({ email: 'd4@example.test', platform: 'openai' }, '10.0.0.9');
    expect(limited.status).toBe(429);
    expect(limited.res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.text).toContain('Too many sign-ups from this address.');
    expect((await api('d5@example.test')).status).toBe(429);
    // Another address is not limited.
    expect((await form({ email: 'd6@example.test', platform: 'openai' }, '10.0.0.10')).status).toBe(200);
  });
});
