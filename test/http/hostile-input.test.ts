import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { SLACK_SIGNING_SECRET, slackHeaders, slashCommand } from '../support/slack-sign.js';

let s: TestService;
beforeEach(async () => {
  s = await testService({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-test-token' });
});
afterEach(() => s.dispose());

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const timed = async <T>(work: () => Promise<T>) => {
  const start = performance.now();
  const result = await work();
  return { result, ms: performance.now() - start };
};

async function manageToken() {
  await s.call('POST', '/v1/signup', { email: 'ana@example.test', platform: 'openai' }, null);
  const id = (await s.database.db.all<{ id: string }>(sql`SELECT id FROM destinations`))[0]!.id;
  return s.links.token('manage', id);
}

describe('a hostile platform field', () => {
  it('on the manage page is refused at once, and never echoed into a header', async () => {
    const token = await manageToken();
    const huge = await timed(() => s.call('POST', `/manage/${token}/subscriptions`, `platform=${'a'.repeat(500_000)}&min_severity=low`, null, form));
    expect(huge.result.status).toBe(413);
    expect(huge.ms).toBeLessThan(400);
    // Within the form's cap: a long field that is no slug, and a slug of 64 letters that is in no catalog.
    for (const platform of ['a'.repeat(7_000), 'b'.repeat(64)]) {
      const { result: r, ms } = await timed(() => s.call('POST', `/manage/${token}/subscriptions`, `platform=${platform}&min_severity=low`, null, form));
      expect(r.status).toBe(400);
      expect(r.res.headers.get('location')).toBeNull();
      expect(ms).toBeLessThan(400);
      for (const [, value] of r.res.headers) expect(value).not.toMatch(/aaaa|bbbb/);
    }
  });

  it('in a chat command answers within a moment, without searching it', async () => {
    const body = slashCommand(`subscribe ${'q'.repeat(60_000)}`);
    const { result: r, ms } = await timed(() => s.call('POST', '/slack/commands', body, null, slackHeaders(body)));
    expect(r.status).toBe(200);
    expect(ms).toBeLessThan(400);
    const typo = slashCommand(`${'z'.repeat(60_000)} openai`);
    const t = await timed(() => s.call('POST', '/slack/commands', typo, null, slackHeaders(typo)));
    expect(t.ms).toBeLessThan(400);
  });
});
