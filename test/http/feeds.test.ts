import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { XMLParser } from 'fast-xml-parser';
import { sql } from 'drizzle-orm';
import { fixtureEvents, makeEvent, testApp, type TestApp } from '../support/app.js';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(() => t.dispose());

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' });
const get = (path: string, headers: Record<string, string> = {}) => t.app.request(path, { headers });
const entries = (xml: string) => {
  const e = parser.parse(xml).feed.entry ?? [];
  return Array.isArray(e) ? e : [e];
};

describe('Atom feeds', () => {
  it('list a platform’s changes, newest first, with summary, document, clause, severity and evidence', async () => {
    await t.ingest(makeEvent({ id: 'old', title: 'Older change', detected_at: '2026-11-18T06:00:00Z', provision: { title: 'Section 4' }, evidence: { sha256: 'c'.repeat(64), archive_url: 'https://archive.test/1' }, change_url: 'https://tracker.test/1' }));
    await t.ingest(makeEvent({ id: 'new', title: 'Newer change', severity: 'high', detected_at: '2026-11-19T06:00:00Z' }));
    await t.ingest(makeEvent({ id: 'noise', title: 'Noise', technical_upgrade: true, detected_at: '2026-11-19T07:00:00Z' }));
    await t.ingest(makeEvent({ id: 'first', title: 'First seen', kind: 'first_recorded', detected_at: '2026-11-19T07:00:00Z' }));
    const r = await get('/feeds/openai.atom');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/atom+xml');
    const list = entries(await r.text());
    expect(list.map((e: any) => e.title['#text'] ?? e.title)).toEqual(['[High] OpenAI: Newer change', '[Medium] OpenAI: Older change']);
    const older = list[1];
    expect(older.link['@href']).toBe('https://tracker.test/1');
    const content = older.content['#text'] ?? older.content;
    expect(content).toContain('Section 4');
    expect(content).toContain('c'.repeat(64));
    expect([older.category].flat().map((c: any) => c['@term'])).toContain('medium');
  });

  it('answer 304 to a matching If-None-Match or If-Modified-Since, and change the ETag on news', async () => {
    await t.ingest(makeEvent({ id: 'a' }));
    const first = await get('/feeds/openai.atom');
    const etag = first.headers.get('etag')!;
    expect(etag).toBeTruthy();
    expect((await get('/feeds/openai.atom', { 'if-none-match': etag })).status).toBe(304);
    expect((await get('/feeds/openai.atom', { 'if-modified-since': first.headers.get('last-modified')! })).status).toBe(304);
    t.clock.advance(60_000);
    await t.ingest(makeEvent({ id: 'b' }));
    const next = await get('/feeds/openai.atom', { 'if-none-match': etag });
    expect(next.status).toBe(200);
    expect(next.headers.get('etag')).not.toBe(etag);
  });

  it('filter all.atom by min_severity, and 404 an unknown platform', async () => {
    await t.ingest(makeEvent({ id: 'low', severity: 'low', title: 'Low one' }));
    await t.ingest(makeEvent({ id: 'high', severity: 'high', title: 'High one', platform: { slug: 'stripe', name: 'Stripe' }, document: { title: 'Stripe Services Agreement' } }));
    const all = entries(await (await get('/feeds/all.atom?min_severity=high')).text());
    expect(all.map((e: any) => e.title['#text'] ?? e.title)).toEqual(['[High] Stripe: High one']);
    expect((await get('/feeds/all.atom?min_severity=urgent')).status).toBe(400);
    const missing = await get('/feeds/no-such-platform.atom');
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toBe('not_found');
  });

  it('escape hostile titles so the feed stays well-formed XML with the text intact', async () => {
    const hostile = fixtureEvents()['99-hostile-escaping.json'];
    t.clock.set(hostile.detected_at);
    await t.ingest(hostile);
    const xml = await (await get(`/feeds/${hostile.platform.slug}.atom`)).text();
    expect(() => new XMLParser().parse(xml, true)).not.toThrow();
    expect(xml).not.toContain('<script>');
    const [entry] = entries(xml);
    // type="html": the reader decodes the HTML and shows the text, tags and all, as text.
    const title = String(entry.title['#text'] ?? entry.title);
    expect(title).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(title.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')).toContain('<script>alert(1)</script>');
  });
});

/** A python3 with feedparser (Debian's python3-feedparser is for /usr/bin/python3), or null. */
const feedparserPython = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import feedparser'], { stdio: 'ignore' }).status === 0) ?? null;

describe('Atom feeds as a feed reader sees them', () => {
  it('carry an author on the feed and on every entry (RFC 4287), and their alternate link is the home page', async () => {
    await t.ingest(makeEvent({ id: 'a', title: 'First change' }));
    await t.ingest(makeEvent({ id: 'b', title: 'Second change', severity: 'high' }));
    const feed = parser.parse(await (await get('/feeds/openai.atom')).text()).feed;
    expect(feed.author).toMatchObject({ name: 'ClauseWatch' });
    const list = entries(await (await get('/feeds/openai.atom')).text());
    expect(list).toHaveLength(2);
    for (const entry of list) expect(entry.author).toMatchObject({ name: 'ClauseWatch' });
    const alternate = [feed.link].flat().find((l: any) => (l['@rel'] ?? 'alternate') === 'alternate');
    expect(alternate['@href']).toBe('https://clausewatch.test/');
    const home = await get(new URL(alternate['@href']).pathname);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('/feeds/all.atom');
  });

  it.skipIf(!feedparserPython)(`parse without errors in feedparser, author and alternate link included${feedparserPython ? '' : ' (skipped: no python3 with feedparser; apt-get install python3-feedparser)'}`, async () => {
    await t.ingest(makeEvent({ id: 'a', title: 'First change' }));
    await t.ingest(makeEvent({ id: 'b', title: 'Second <change> & more', severity: 'high' }));
    for (const path of ['/feeds/openai.atom', '/feeds/all.atom']) {
      const xml = await (await get(path)).text();
      const script = [
        'import sys, json, feedparser',
        'd = feedparser.parse(sys.stdin.buffer.read())',
        'print(json.dumps({"bozo": d.bozo, "bozo_exception": str(d.get("bozo_exception", "")), "version": d.version,',
        '  "author": d.feed.get("author"), "link": d.feed.get("link"),',
        '  "entries": [{"title": e.get("title"), "author": e.get("author")} for e in d.entries]}))',
      ].join('\n');
      const run = spawnSync(feedparserPython!, ['-c', script], { input: xml, encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const parsed = JSON.parse(run.stdout);
      expect(parsed).toMatchObject({ bozo: false, version: 'atom10', author: 'ClauseWatch', link: 'https://clausewatch.test/' });
      expect(parsed.entries.map((e: any) => e.author)).toEqual(['ClauseWatch', 'ClauseWatch']);
      // feedparser gives type="html" titles as HTML: the tags of the event's text arrive escaped, shown as text.
      expect(parsed.entries.map((e: any) => e.title)).toContain('[High] OpenAI: Second &lt;change&gt; &amp; more');
    }
  });
});

describe('Atom feeds under load', () => {
  it('are rendered once per version: a reader polling gets the feed as it was built', async () => {
    await t.ingest(makeEvent({ id: 'a', summary: 'As first stored.' }));
    expect(await (await get('/feeds/openai.atom')).text()).toContain('As first stored.');
    // The same feed version (the same changes): the rendered feed is served, the payloads are not read again.
    await t.database.db.run(sql`UPDATE events SET payload = json_set(payload, '$.summary', 'Changed behind its back.')`);
    const again = await (await get('/feeds/openai.atom', { 'x-test-client': '10.9.0.2' })).text();
    expect(again).toContain('As first stored.');
    expect(await (await get('/feeds/openai.atom?utm_source=x')).text()).toContain('As first stored.');
    // News is a new version: built anew.
    await t.ingest(makeEvent({ id: 'b', title: 'Second change' }));
    const news = await (await get('/feeds/openai.atom')).text();
    expect(news).toContain('Second change');
    expect(news).toContain('Changed behind its back.');
  });

  it('and the catalog search are limited per client address, with 429 and Retry-After', async () => {
    for (const path of ['/feeds/all.atom', '/v1/platforms?q=open']) {
      const answers: Response[] = [];
      for (let i = 0; i < 121; i++) answers.push(await get(path, { 'x-test-client': '10.9.9.9' }));
      expect(answers.slice(0, 120).every((r) => r.status === 200)).toBe(true);
      const over = answers[120]!;
      expect(over.status).toBe(429);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await over.json()).toMatchObject({ error: 'rate_limited', message: expect.stringContaining('Try again in') });
      expect((await get(path, { 'x-test-client': '10.9.9.10' })).status).toBe(200);
    }
  });
});
