import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { testService, type TestService } from '../support/service.js';
import { startTeamsWebhook } from '../support/teams-webhook.js';
import { fixedClock } from '../support/clock.js';
import { fixtureEvents } from '../support/app.js';
import { launchChromium } from '../support/browser.js';

const ADAPTIVE_CARDS = readFileSync(createRequire(import.meta.url).resolve('adaptivecards/dist/adaptivecards.min.js'), 'utf8');
const SCREENSHOT = fileURLToPath(new URL('../../docs/teams-card.png', import.meta.url));

let browser: Browser;
let s: TestService;
let teams: Awaited<ReturnType<typeof startTeamsWebhook>>;
const clock = fixedClock('2026-11-20T07:00:00Z');

beforeAll(async () => {
  browser = await launchChromium();
  teams = await startTeamsWebhook();
  s = await testService({ WEBHOOK_ALLOW_PRIVATE: 'true', ALERT_GROUP_WAIT_SECONDS: '0', ALERT_MAX_AGE_HOURS: '100000' }, { clock });
});
afterAll(async () => {
  await browser?.close();
  await s?.dispose();
  await teams?.close();
});

describe('a Teams alert, drawn by the Adaptive Cards renderer', () => {
  it('renders the card Teams received, without parse errors, into docs/teams-card.png', async () => {
    const account = (await s.call('POST', '/v1/accounts', { name: 'Legal', plan: 'monitor' })).json;
    const dest = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'teams', webhook_url: teams.url })).json;
    await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'anthropic', destination: dest.id });
    await s.ingest({ ...fixtureEvents()['02-anthropic-consumer-terms-chat-retention-high.json'], detected_at: '2026-11-20T06:59:00Z' });
    await s.dispatcher.runOnce();
    expect(teams.received).toHaveLength(1);
    const card = teams.received[0]!.card;

    const page = await browser.newPage({ viewport: { width: 640, height: 900 } });
    await page.setContent('<!doctype html><html><body style="margin:0;padding:16px;background:#f5f5f5;font-family:Segoe UI,Helvetica,Arial,sans-serif"><div id="card" style="max-width:600px;background:#fff;border-radius:4px;box-shadow:0 1px 3px rgba(0,0,0,.2)"></div></body></html>');
    await page.addScriptTag({ content: ADAPTIVE_CARDS });
    const result = await page.evaluate((json) => {
      const AC = (window as any).AdaptiveCards;
      // Teams renders the card markdown subset: bold, italics, line breaks, backslash escapes.
      AC.AdaptiveCard.onProcessMarkdown = (text: string, out: { outputHtml: string; didProcess: boolean }) => {
        const html = text
          .replace(/&/g, '&amp;')
          .replace(/</g, '&lt;')
          .replace(/\\([\\`*_~[\]()#>|{}!+.-])/g, (_m: string, c: string) => `&#${c.charCodeAt(0)};`)
          .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
          .replace(/(^|\s)_([^_]+)_/g, '$1<em>$2</em>')
          .replace(/ {2}\n|\n/g, '<br>');
        out.outputHtml = html;
        out.didProcess = true;
      };
      const ac = new AC.AdaptiveCard();
      ac.hostConfig = new AC.HostConfig({ fontFamily: 'Segoe UI, Helvetica, Arial, sans-serif', spacing: { small: 4, default: 8, medium: 16, large: 24 } });
      const context = new AC.SerializationContext();
      ac.parse(json, context);
      const errors: string[] = [];
      for (let i = 0; i < context.eventCount; i++) {
        const e = context.getEventAt(i);
        if (e.phase !== undefined && e.event !== undefined) errors.push(`${e.event}: ${e.message}`);
      }
      const el = ac.render();
      document.getElementById('card')!.appendChild(el);
      return { errors, text: el.innerText as string };
    }, card);
    expect(result.errors).toEqual([]);
    expect(result.text).toContain('Why it matters:');
    expect(result.text).toContain('View change');
    await page.locator('#card').screenshot({ path: SCREENSHOT });
    await page.close();
  });
});
