import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emailSubscriber, testService, type TestService } from '../support/service.js';
import { fixedClock } from '../support/clock.js';
import { fixtureEvents } from '../support/app.js';

// Debian's `spamassassin` package; -L keeps it to local tests (no DNS blocklists from a test).
const spamassassin = spawnSync('spamassassin', ['--version'], { encoding: 'utf8' }).status === 0;
if (!spamassassin) console.warn('test/render/spam.test.ts: spamassassin is not installed, mails are not scored (apt-get install -y spamassassin)');

/** Below SpamAssassin's default threshold of 5 with room to spare: a filter adding 2 for a new sender still passes it. */
const MAX_SCORE = 2.5;

const clock = fixedClock('2026-11-24T06:10:00Z');
let s: TestService;
let outbox: string;
beforeAll(async () => {
  // No SMTP_URL: mails are written as .eml files, exactly as they would go out.
  s = await testService({ PUBLIC_URL: 'https://clausewatch.example.com', MAIL_FROM: 'ClauseWatch <alerts@clausewatch.example.com>', ALERT_GROUP_WAIT_SECONDS: '0', ALERT_MAX_AGE_HOURS: '100000' }, { clock });
  outbox = join(s.database.dir, 'outbox');
  const events = Object.values(fixtureEvents()).filter((e: any) => e.kind !== 'first_recorded' && !e.technical_upgrade && !e.id.includes('hostile'));
  const slugs = [...new Set(events.map((e: any) => e.platform.slug as string))].slice(0, 25);
  await emailSubscriber(s, 'legal@acme.example', slugs);
  await s.ingest({ events: events.filter((e: any) => slugs.includes(e.platform.slug)).map((e: any) => ({ ...e, detected_at: '2026-11-24T06:10:00Z' })) });
  await s.drain();
  clock.set('2026-11-30T09:00:00Z');
  await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:00:00Z' });
  await s.drain();
}, 60_000);
afterAll(() => s?.dispose());

function mail(subject: RegExp): string {
  const files = readdirSync(outbox).map((f) => readFileSync(join(outbox, f), 'utf8'));
  const found = files.find((raw) => subject.test(/^Subject: (.*)$/m.exec(raw)?.[1] ?? ''));
  expect(found, `no mail with a subject like ${subject}`).toBeDefined();
  return found!;
}

// Scored with every rule, the Bitcoin-address ones included: a signed link's token is one word of
// base32 that can never read as an address (src/links.ts; the property test is test/links.test.ts).
function score(raw: string): { score: number; rules: string } {
  const r = spawnSync('spamassassin', ['-L', '-t'], { input: raw, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const status = /^X-Spam-Status: \w+, score=(-?[\d.]+)[\s\S]*?tests=([\s\S]*?)autolearn/m.exec(r.stdout);
  expect(status, r.stdout.slice(0, 2000)).not.toBeNull();
  const result = { score: Number(status![1]), rules: status![2]!.replace(/\s+/g, ' ').trim() };
  console.info(`spamassassin: ${/^Subject: (.*)$/m.exec(raw)?.[1]}: ${result.score} (${result.rules})`);
  return result;
}

describe.skipIf(!spamassassin)(`mails scored by spamassassin -t${spamassassin ? '' : ' (skipped: spamassassin is not installed)'}`, () => {
  it(`score an alert of many changes below ${MAX_SCORE}`, () => {
    const r = score(mail(/policy changes/i));
    expect(r.score, r.rules).toBeLessThan(MAX_SCORE);
  }, 120_000);

  it(`score a weekly digest below ${MAX_SCORE}`, () => {
    const r = score(mail(/this week/));
    expect(r.score, r.rules).toBeLessThan(MAX_SCORE);
  }, 120_000);
});
