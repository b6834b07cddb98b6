import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchCall } from '../src/cli/client.js';
import { captureBatches, parseJsonl, replay, replayTable, type ReplayResult } from '../src/replay/replay.js';
import { testService, type TestService } from './support/service.js';
import { ADMIN_TOKEN, INGEST_TOKEN } from './support/app.js';

const history = parseJsonl(readFileSync(new URL('./fixtures/history/ai-terms.jsonl', import.meta.url), 'utf8'));

describe('the replay of a noisy six-month history', () => {
  let s: TestService;
  let result: ReplayResult;
  beforeAll(async () => {
    s = await testService({ ALERT_MAX_AGE_HOURS: '100000', ALERT_GROUP_WAIT_SECONDS: '0', MAX_ALERTS_PER_DAY: '10000' }, { clock: () => Date.parse('2026-11-01T00:00:00Z') });
    result = await replay(history, {
      call: fetchCall('https://clausewatch.test', (url, init) => Promise.resolve(s.app.request(url, init))),
      ingestToken: INGEST_TOKEN,
      adminToken: ADMIN_TOKEN,
      settle: () => s.drain(),
    });
  }, 120_000);
  afterAll(() => s?.dispose());

  it('sends every event of the file in capture-run batches within the API limits', () => {
    const batches = captureBatches(history);
    expect(batches.flat()).toHaveLength(history.length);
    for (const b of batches) expect(b.length).toBeLessThanOrEqual(500);
    expect(result.accepted).toBe(history.length);
    expect(result.platforms.reduce((n, p) => n + p.events, 0)).toBe(history.length);
  });

  it('holds back each kind of noise with its reason, so far fewer alerts than events go out', () => {
    const total = (r: string) => result.platforms.reduce((n, p) => n + (p.suppressed[r] ?? 0), 0);
    for (const reason of ['reverted', 'flapping', 'links_only', 'unreachable_burst', 'first_recorded']) expect(total(reason), reason).toBeGreaterThan(0);
    // Most of a raw change stream is noise: on this history, about a quarter of the events are
    // changes worth an alert and a sixth are monitoring notices of outages longer than a run.
    const sum = (f: (p: (typeof result.platforms)[number]) => number) => result.platforms.reduce((n, p) => n + f(p), 0);
    expect(sum((p) => p.alerted.changes) / history.length).toBeLessThan(0.3);
    expect(sum((p) => p.messages) / history.length).toBeLessThan(0.6);
    expect(replayTable(result)).toMatch(/^\| platform \| events \| alerted: changes \| alerted: reversions \(low\) \| alerted: monitoring notices \| alert messages \| held back: reverted \| flapping \|/);
  });

  it('alerts every genuinely new version of a document, unless the same capture run undid it', async () => {
    const all: any[] = [];
    for (let cursor: string | null = ''; cursor !== null; ) {
      const page: { data: any[]; next_cursor: string | null } = (await s.call('GET', `/v1/events?limit=200${cursor ? `&cursor=${cursor}` : ''}`)).json;
      all.push(...page.data);
      cursor = page.next_cursor;
    }
    const seen = new Map<string, Set<string>>();
    for (const e of [...all].sort((a, b) => a.detected_at.localeCompare(b.detected_at))) {
      const doc = `${e.platform.slug}/${e.document.id ?? e.document.title}`;
      const hashes = seen.get(doc) ?? seen.set(doc, new Set()).get(doc)!;
      const substantive = (e.kind ?? 'changed') === 'changed' && !e.delivery.suppressed_reason;
      if (substantive && e.evidence?.sha256 && !hashes.has(e.evidence.sha256)) {
        expect(e.delivery.reversion, e.id).toBeNull();
        expect(e.delivery.alerted || e.delivery.suppressed_destinations.reverted === 1, e.id).toBe(true);
      }
      if (e.evidence?.previous_sha256) hashes.add(e.evidence.previous_sha256);
      if (e.evidence?.sha256) hashes.add(e.evidence.sha256);
    }
  });
});
