import { describe, expect, it } from 'vitest';
import { cancelUnreachableBursts, isLinksOnlyChange } from '../../src/core/noise.js';
import { buildDigest } from '../../src/core/digest.js';
import type { ChangeItem } from '../../src/core/message.js';

describe('link-only changes', () => {
  it('are recognised when every line pair differs only in URLs, query strings or link ids', () => {
    expect(
      isLinksOnlyChange({
        removed: ['See our [help centre](https://help.example.com/articles/1234?utm_source=a) for more.', 'Visit https://x.test/p?id=1'],
        added: ['See our [help centre](https://help.example.com/articles/9876?utm_source=b) for more.', 'Visit https://x.test/p?id=2'],
      }),
    ).toBe(true);
    expect(isLinksOnlyChange({ removed: ['<a href="/terms?v=1">Terms</a>'], added: ['<a href="/terms?v=2">Terms</a>'] })).toBe(true);
  });

  it('are not recognised when any wording changed, lines were added or removed, or there is no diff', () => {
    expect(isLinksOnlyChange({ removed: ['We keep data for 30 days (https://a.test/1).'], added: ['We keep data for 90 days (https://a.test/2).'] })).toBe(false);
    expect(isLinksOnlyChange({ removed: [], added: ['New clause https://a.test'] })).toBe(false);
    expect(isLinksOnlyChange({ removed: ['same'], added: ['same'] })).toBe(false);
    expect(isLinksOnlyChange(undefined)).toBe(false);
  });
});

const notice = (kind: 'unreachable' | 'restored', at: number, ev?: { sha256?: string; previous_sha256?: string }): ChangeItem => ({
  eventId: `${kind}-${at}`,
  platform: { slug: 'openai', name: 'OpenAI' },
  document: { title: 'OpenAI Terms of Use' },
  severity: 'low',
  categories: [],
  kind,
  title: kind,
  detectedAt: at,
  evidence: ev,
  raw: {} as any,
});

describe('unreachable bursts', () => {
  it('cancel an outage and its end with unchanged content inside one group', () => {
    expect(cancelUnreachableBursts([notice('unreachable', 1, { previous_sha256: 'a' }), notice('restored', 2, { sha256: 'a' })])).toEqual([]);
  });

  it('keep both when the document came back changed, and keep an outage still going on', () => {
    expect(cancelUnreachableBursts([notice('unreachable', 1, { previous_sha256: 'a' }), notice('restored', 2, { sha256: 'b' })])).toHaveLength(2);
    expect(cancelUnreachableBursts([notice('unreachable', 1)])).toHaveLength(1);
    // Given a bound, only outages shorter than it cancel (the digest's blips).
    expect(cancelUnreachableBursts([notice('unreachable', 0, { previous_sha256: 'a' }), notice('restored', 30 * 60_000, { sha256: 'a' })], 3_600_000)).toEqual([]);
    expect(cancelUnreachableBursts([notice('unreachable', 0, { previous_sha256: 'a' }), notice('restored', 2 * 3_600_000, { sha256: 'a' })], 3_600_000)).toHaveLength(2);
  });
});

describe('monitoring notices in a weekly digest', () => {
  it('leave out a blip under an hour that ended unchanged, and keep a longer outage', () => {
    const digest = (items: ChangeItem[]) =>
      buildDigest({
        period: { key: '2026-11-30', start: 0, end: 7 * 86_400_000 },
        items,
        watched: [],
        upcoming: [],
        quiet: { technical: 0 },
        reader: { timeZone: 'UTC', now: 7 * 86_400_000 },
        links: { unsubscribe: 'u', manage: 'm', view: 'v' },
        plan: 'free',
      });
    const blip = [notice('unreachable', 0, { previous_sha256: 'a' }), notice('restored', 20 * 60_000, { sha256: 'a' })];
    expect(digest(blip).notices).toEqual([]);
    const outage = [notice('unreachable', 0, { previous_sha256: 'a' }), notice('restored', 5 * 3_600_000, { sha256: 'a' })];
    expect(digest(outage).notices).toHaveLength(2);
  });
});

