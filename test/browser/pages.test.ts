import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { testService, type TestService } from '../support/service.js';
import { fixedClock } from '../support/clock.js';
import { fixtureEvents } from '../support/app.js';
import { horizontalOverflow, launchChromium, seriousViolations } from '../support/browser.js';

let smtp: TestSmtpServer;
let s: TestService;
let server: ServerType;
let base: string;
let browser: Browser;
const clock = fixedClock('2026-11-20T07:00:00Z');
const SCREENSHOTS = new URL('../../docs/', import.meta.url);

beforeAll(async () => {
  smtp = await startSmtpServer();
  browser = await launchChromium();
  // PUBLIC_URL is set once the port is known: links in mails must open on this server.
  const probe = serve({ fetch: () => new Response(''), port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => probe.once('listening', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  base = `http://127.0.0.1:${port}`;
  s = await testService({ SMTP_URL: smtp.url, PUBLIC_URL: base, ALERT_GROUP_WAIT_SECONDS: '0', ALERT_MAX_AGE_HOURS: '100000' }, { clock });
  server = serve({ fetch: s.app.fetch, port, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await s?.dispose();
  await smtp?.close();
});

const linkIn = (text: string, path: string) => new RegExp(`${base.replace(/\./g, '\\.')}/${path}/[A-Za-z0-9._-]+(/\\d{4}-\\d{2}-\\d{2})?`).exec(text.replace(/=\r?\n/g, ''))![0];

async function open(url: string, width = 1024): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 800 } });
  await page.goto(url);
  return page;
}

async function expectAccessible(page: Page) {
  expect(await seriousViolations(page)).toEqual([]);
}

describe('what people see, in Chromium', () => {
  let manageUrl: string;

  it('confirms a sign-up from the link in the mail', async () => {
    const r = await fetch(`${base}/v1/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ana@example.test', platform: 'openai' }) });
    expect(r.status).toBe(202);
    await s.drain();
    const [mail] = await smtp.waitFor(1);
    const page = await open(linkIn(mail!.parsed.text!, 'confirm'), 375);
    // The link opens a page whose button confirms (mail scanners open links too).
    expect(await page.locator('h1').textContent()).toBe('Confirm your subscription');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await expectAccessible(page);
    await page.click('button:has-text("Confirm subscription")');
    await expect.poll(() => page.locator('h1').textContent()).toBe('You are subscribed');
    expect(await page.textContent('main')).toContain('OpenAI');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await expectAccessible(page);
    manageUrl = (await page.locator('a', { hasText: 'Manage your subscription' }).getAttribute('href'))!;
    await page.close();
  });

  it('manages subscriptions with plain forms, without JavaScript, at 375 px', async () => {
    // axe needs JavaScript: check the page with it first, then use it as a person without.
    const checked = await open(manageUrl, 375);
    await expectAccessible(checked);
    await checked.close();
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 375, height: 800 } });
    const page = await context.newPage();
    await page.goto(manageUrl);
    expect(await page.textContent('main')).toContain('1 of 1 platform');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);

    // The free plan takes one platform: adding a second is refused with the plan's words.
    await page.fill('input[name=platform]', 'anthropic');
    await page.click('button:has-text("Add")');
    expect(await page.textContent('[role=alert]')).toContain('The free plan includes 1 platform');

    await page.click('button:has-text("Remove")');
    expect(await page.textContent('[role=status]')).toContain('Stopped watching OpenAI');
    await page.fill('input[name=platform]', 'anthropic');
    await page.selectOption('select[name=min_severity]', 'high');
    await page.click('button:has-text("Add")');
    expect(await page.textContent('[role=status]')).toContain('Now watching Anthropic');
    expect(await page.textContent('main')).toContain('high and above');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await context.close();
  });

  it('shows the digest in the browser, and renders alert and digest mails at 600 and 375 px, light and dark', async () => {
    const account = (await s.call('POST', '/v1/accounts', { name: 'Acme Legal', plan: 'monitor' })).json;
    const dest = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'email', address: 'legal@acme.test' })).json;
    const events = Object.values(fixtureEvents()).filter((e: any) => !['first_recorded'].includes(e.kind) && !e.technical_upgrade);
    const slugs = [...new Set(events.map((e: any) => e.platform.slug))].slice(0, 25);
    for (const slug of slugs) await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: slug, destination: dest.id });
    const before = smtp.mails.length;
    clock.set('2026-11-24T06:10:00Z');
    await s.ingest({ events: events.filter((e: any) => slugs.includes(e.platform.slug)).map((e: any) => ({ ...e, detected_at: '2026-11-24T06:10:00Z' })) });
    await s.drain();
    const alert = (await smtp.waitFor(before + 1))[before]!;
    clock.set('2026-11-30T09:00:00Z');
    await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:00:00Z' });
    await s.drain();
    const digest = (await smtp.waitFor(before + 2)).find((m) => m.to[0] === 'legal@acme.test' && /this week/.test(m.parsed.subject ?? ''))!;

    for (const [name, html] of [
      ['alert', alert.parsed.html as string],
      ['digest', digest.parsed.html as string],
    ] as const) {
      for (const width of [600, 375]) {
        // Chromium's emulated prefers-color-scheme, as Apple Mail or iOS Mail set it in dark mode.
        for (const colorScheme of ['light', 'dark'] as const) {
          const page = await browser.newPage({ viewport: { width, height: 1400 }, colorScheme });
          await page.setContent(html);
          expect(await horizontalOverflow(page), `${name} at ${width}px overflows`).toBeLessThanOrEqual(0);
          // The page, a card and the title of the first change: dark backgrounds with light text in
          // dark mode, the light palette otherwise.
          const colours = await page.evaluate(() => {
            const bg = (el: Element | null) => (el ? getComputedStyle(el).backgroundColor : '');
            const card = document.querySelector('.cw-card > table');
            const summary = document.querySelector('.cw-summary');
            const title = document.querySelector('.cw-card .title div');
            return { body: bg(document.body), card: bg(card), summary: bg(summary), title: title ? getComputedStyle(title).color : '' };
          });
          expect(colours.summary, `${name}: the summary box`).not.toBe('');
          if (colorScheme === 'dark') {
            expect(colours).toEqual({ body: 'rgb(15, 23, 42)', card: 'rgb(30, 41, 59)', summary: 'rgb(15, 23, 42)', title: 'rgb(226, 232, 240)' });
          } else {
            expect(colours).toEqual({ body: 'rgb(243, 244, 246)', card: 'rgb(255, 255, 255)', summary: 'rgb(248, 250, 252)', title: 'rgb(31, 41, 51)' });
          }
          // The top of each mail, for the README (whole 25-change mails would be megabytes).
          await page.screenshot({ path: new URL(`mail-${name}-${width}${colorScheme === 'dark' ? '-dark' : ''}.png`, SCREENSHOTS).pathname });
          await page.close();
        }
      }
    }

    const view = await open(linkIn(digest.parsed.text!, 'digests'), 375);
    expect(await view.textContent('body')).toContain('policy changes this week');
    expect(await horizontalOverflow(view)).toBeLessThanOrEqual(0);
    await expectAccessible(view);
    await view.close();
  });

  it('reviews a change from the link in its alert mail, without JavaScript, at 375 px', async () => {
    const account = (await s.call('POST', '/v1/accounts', { name: 'Review Co', plan: 'monitor' })).json;
    const dest = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'email', address: 'review@acme.test' })).json;
    await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'anthropic', destination: dest.id });
    const before = smtp.mails.length;
    clock.set('2026-12-02T06:10:00Z');
    const event = fixtureEvents()['02-anthropic-consumer-terms-chat-retention-high.json'];
    await s.ingest({ ...event, id: 'review-page-change', detected_at: '2026-12-02T06:04:11Z' });
    await s.drain();
    const mail = (await smtp.waitFor(before + 1)).find((m) => m.to[0] === 'review@acme.test')!;
    const url = linkIn(mail.parsed.text!, 'review');
    const checked = await open(url, 375);
    expect(await checked.textContent('h1')).toBe(event.title);
    await expectAccessible(checked);
    expect(await horizontalOverflow(checked)).toBeLessThanOrEqual(0);
    await checked.close();
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 375, height: 800 } });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByRole('radio', { name: 'Not applicable' }).check();
    await page.getByLabel('Your name or email address').fill('Maria Rossi');
    await page.click('button:has-text("Record decision")');
    // Not applicable needs a reason: refused, with what was typed kept.
    expect(await page.textContent('[role=alert]')).toContain('Give a reason');
    expect(await page.getByLabel('Your name or email address').inputValue()).toBe('Maria Rossi');
    await page.getByLabel(/^Reason/).fill('Consumer terms: we use the API under commercial terms.');
    clock.set('2026-12-02T09:14:00Z');
    await page.click('button:has-text("Record decision")');
    expect(await page.textContent('[role=status]')).toBe('Your decision is recorded.');
    expect(await page.textContent('main')).toContain('Not applicable by Maria Rossi, 2 Dec 09:14');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await context.close();
    const shot = await open(url, 720);
    await expectAccessible(shot);
    await shot.screenshot({ path: new URL('review-page.png', SCREENSHOTS).pathname, fullPage: true });
    await shot.close();
  });

  it('signs up from the home page’s form, without JavaScript, at 375 px', async () => {
    const checked = await open(`${base}/`, 375);
    await expectAccessible(checked);
    expect(await horizontalOverflow(checked)).toBeLessThanOrEqual(0);
    await checked.close();
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 375, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${base}/`);
    expect(await page.textContent('h1')).toBe('Know when a platform changes its terms');
    await page.getByLabel('Email address').fill('home@example.test');
    await page.getByLabel('Platform').fill('anthropic');
    await page.click('button:has-text("Sign up")');
    expect(await page.textContent('[role=status]')).toBe('Check home@example.test for a link to confirm the weekly digest of Anthropic.');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await page.getByLabel('Platform').fill('anthropik');
    await page.getByLabel('Email address').fill('home2@example.test');
    await page.click('button:has-text("Sign up")');
    expect(await page.textContent('[role=alert]')).toContain("Did you mean 'anthropic'");
    await context.close();
    await s.drain();
    await expect.poll(() => smtp.mails.some((m) => m.to[0] === 'home@example.test')).toBe(true);
  });

  it('unsubscribes with the page’s button (a GET alone changes nothing)', async () => {
    const id = new URL(manageUrl).pathname.split('/')[2]!;
    const destinationId = await s.links.verify('manage', id);
    const page = await open(await s.links.url('unsubscribe', destinationId!), 375);
    expect(await page.textContent('h1')).toContain('Unsubscribe ana@example.test?');
    await expectAccessible(page);
    await page.click('button:has-text("Unsubscribe")');
    expect(await page.textContent('h1')).toBe('You are unsubscribed');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await expectAccessible(page);
    await page.close();
  });
});

describe('the API page, in Chromium', () => {
  it('shows every operation of /openapi.json from this server’s own Swagger UI, within its Content-Security-Policy', async () => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 800 } });
    const refused: string[] = [];
    const elsewhere: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) elsewhere.push(r.url());
    });
    await page.goto(`${base}/docs`);
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    expect(await page.locator('.opblock').count()).toBe(operations);
    expect(await page.locator('.opblock-summary-path', { hasText: '/v1/events' }).count()).toBeGreaterThan(0);
    expect(refused).toEqual([]);
    expect(elsewhere).toEqual([]);
    await page.close();
  });

  it('passes axe', async () => {
    // axe is injected as an inline script, which the page's CSP refuses: this context bypasses it.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1024, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${base}/docs`);
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    await expectAccessible(page);
    await context.close();
  });
});
