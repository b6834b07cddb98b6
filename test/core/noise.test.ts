import { describe, expect, it } from 'vitest';
import { diffNoise, intrinsicNoise } from '../../src/core/noise.js';

const diff = (removed: string[], added: string[]) => diffNoise({ removed, added });
const long = (text: string, length = 500) => text.padEnd(length, ' lorem ipsum dolor').slice(0, length);

describe('noise kinds of a diff', () => {
  it('whitespace: double or non-breaking spaces, re-wrapped lines, and a diff with no non-blank line', () => {
    expect(diff(['We keep  your data.'], ['We keep your\u00a0data. '])).toBe('whitespace');
    expect(diff(['We keep your', 'data for 30 days.'], ['We keep your data for 30 days.'])).toBe('whitespace');
    expect(diff([], [])).toBe('whitespace');
    expect(diff(['   '], [''])).toBe('whitespace');
    expect(diff(['We keep your data.'], ['We sell your data.'])).toBeNull();
    expect(diff(['We keep your', 'data.'], ['We keep your data', 'forever.'])).toBeNull();
  });

  it('links_only: Markdown and HTML link targets, bare URLs, image sources and percent-encoded redirect links', () => {
    expect(diff(['See our [help centre](https://help.example.com/articles/1234?utm_source=a) for more.', 'Visit https://x.test/p?id=1'], ['See our [help centre](https://help.example.com/articles/9876?utm_source=b) for more.', 'Visit https://x.test/p?id=2'])).toBe('links_only');
    expect(diff(['<a href="/terms?v=1">Terms</a>'], ['<a HREF = \'/terms?v=2\'>Terms</a>'])).toBe('links_only');
    expect(diff(['![](https://cdn.test/v/t39/123_n.png?_nc_ohc=aaa&oh=00_AT8)'], ['![](https://cdn.test/v/t39/123_n.png?_nc_ohc=bbb&oh=00_AT9)'])).toBe('links_only');
    expect(diff(['<img src="https://cdn.test/a.png?x=1" alt="Logo">'], ['<img src="https://cdn.test/a.png?x=2" alt="Logo">'])).toBe('links_only');
    expect(
      diff(
        ['[Messenger](https://www.facebook.com/legal/https%3A%2F%2Fl.facebook.com%2Fl.php%3Fu=https%3A%2F%2Fmessenger.com%2F%26h%3DAT0xYz(1))[Lite](/lite)'],
        ['[Messenger](https://www.facebook.com/legal/https%3A%2F%2Fl.facebook.com%2Fl.php%3Fu=https%3A%2F%2Fmessenger.com%2F%26h%3DAT9qRs(2))[Lite](/lite)'],
      ),
    ).toBe('links_only');
    // The words people read changed: a link text, or the sentence around the link.
    expect(diff(['Read [our FAQ](https://a.test/1).'], ['Read [our new FAQ](https://a.test/2).'])).toBeNull();
    expect(diff(['We keep data for 30 days (https://a.test/1).'], ['We keep data for 90 days (https://a.test/2).'])).toBeNull();
    expect(diff([], ['New clause https://a.test'])).toBeNull();
  });

  it('links_only: lines the producer cut to one length, ending mid-URL where a link grew or shrank', () => {
    const before = `Logos may be [downloaded](https://brand.test/downloads) for reporting. ${'Use them as they are. '.repeat(30)}`;
    const after = before.replace('https://brand.test/downloads', 'https://brand.test/downloads.html?session=a1b2c3');
    const cutEnd = `Details in our [cookie policy](https://a.test/policies/cookies?id=${'9'.repeat(400)}`;
    expect(diff([long(before), long(cutEnd)], [long(after), long(cutEnd.replace('id=9', 'id=8'))])).toBe('links_only');
    // One long line that stops mid-sentence where the other side is complete.
    const complete = `Meta uses cookies, including [device information](https://a.test/cookies) and information about your activity. ${'More text here. '.repeat(22)}End.`;
    const grown = complete.replace('https://a.test/cookies', 'https://a.test/privacy/policy?subpage=1.subpage.3-AppBrowserAndDevice');
    expect(diff([complete], [grown.slice(0, complete.length + 20).replace(/[.\s]+$/, ' x')])).toBe('links_only');
    // A word changed before the cut is news, cut or not.
    expect(diff([long(before)], [long(after.replace('reporting', 'advertising'))])).toBeNull();
  });

  it('is not judged when every changed line was cut before anything differs: the change is out of sight', () => {
    const line = long('Either you or we may start arbitration proceedings under the Consumer Arbitration Rules');
    expect(diff([line, line], [line, line])).toBeNull();
  });

  it('date_only: dates and relative times changed, nothing else', () => {
    expect(diff(['Last updated: May 3, 2026'], ['Last updated: June 1, 2026'])).toBe('date_only');
    expect(diff(['Last updated: 17 hours ago', 'Last updated: 12 days ago'], ['Last updated: 18 hours ago', 'Last updated: a month ago'])).toBe('date_only');
    expect(diff(['Last Modified: 2024-05-07', 'Last modified on 07/19/2022'], ['Last Modified: 2024-12-20', 'Last modified on 08/15/2022'])).toBe('date_only');
    expect(diff(['Effective Date: January 12 2024'], ['Effective Date: 12 January 2024'])).toBe('date_only');
    expect(diff(['Effective March 4, 2024 | [PDF](https://a.test/pdf/20240304/a.pdf)'], ['Effective March 28, 2024 | [PDF](https://a.test/pdf/20240328/b.pdf)'])).toBe('date_only');
    // A number that is no date is news: a retention period, a fee.
    expect(diff(['We keep your data for 30 days.'], ['We keep your data for 90 days.'])).toBeNull();
    expect(diff(['Last updated: May 3, 2026', 'Fees: $5'], ['Last updated: June 1, 2026', 'Fees: $9'])).toBeNull();
  });

  it('reordered: the same lines in another order', () => {
    expect(diff(['[About Threads](https://h.test/1?ref=a)', '[Threads terms](https://h.test/2?ref=a)'], ['[Threads terms](https://h.test/2?ref=b)', '[About Threads](https://h.test/1?ref=b)'])).toBe('reordered');
    expect(diff(['First.', 'Second.'], ['Second.', 'Third.'])).toBeNull();
  });

  it('events: first records and technical upgrades by their flags, a changed event by its diff, no diff as news', () => {
    const event = (e: Record<string, unknown>) => intrinsicNoise({ kind: 'changed', technical_upgrade: false, ...e } as never);
    expect(event({ kind: 'first_recorded' })).toBe('first_recorded');
    expect(event({ technical_upgrade: true, diff: { removed: ['a'], added: ['b'] } })).toBe('technical_upgrade');
    expect(event({ diff: { removed: ['a  b'], added: ['a b'] } })).toBe('whitespace');
    expect(event({})).toBeNull();
    expect(event({ kind: 'removed', diff: { removed: [], added: [] } })).toBeNull();
  });
});

describe('noise classification time', () => {
  // Each shape used to (or could) make a backtracking pattern retry from every position: the old
  // link pattern took 1.2 s for 40,000 characters of `](` and grew with the square of the length.
  const shapes = ['](', '](((', '[', '(', 'http://', 'https://a', 'href=', 'href ', 'src="', 'HREF = \'', '1 ', '12345', 'May 1, ', '1/', '1 days ', '3 of May ', ' ', '\u00a0'];
  it.each(shapes)('classifies a 1 MB line of %j in linear time', (shape) => {
    const line = shape.repeat(Math.ceil(1_000_000 / shape.length)).slice(0, 1_000_000);
    let best = Infinity;
    for (let k = 0; k < 3; k++) {
      const cpu = process.cpuUsage();
      diff([line], [`x${line}`]);
      const spent = process.cpuUsage(cpu);
      best = Math.min(best, (spent.user + spent.system) / 1000);
    }
    // CPU milliseconds of this process (tens on an idle core), so other work on the shared
    // machine does not count; the bound is generous, the real guard is the single pass.
    expect(best).toBeLessThan(500);
  });
});
