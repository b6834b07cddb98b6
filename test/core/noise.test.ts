import { describe, expect, it } from 'vitest';
import { isLinksOnlyChange } from '../../src/core/noise.js';

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
