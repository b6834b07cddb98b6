/**
 * Run in its own process by the benchmark, so its peak RSS is the digest build's alone:
 * 100,000 personalised digests (10 changes each) built from the database in pages and rendered.
 */
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { tempDatabase, type TempDatabase } from '../support/db.js';
import { openDatabase, READER_PAGE_CACHE_KIB, type Db } from '../../src/db.js';
import { makeEvent } from '../support/app.js';
import { seedSubscribers } from './seed.js';
import { ingestEvents } from '../../src/ingest/ingest.js';
import { parseEventBody } from '../../src/core/event.js';
import { createLinkSigner } from '../../src/links.js';
import { emailTemplates as templates } from '../../src/render/templates.js';
import { renderDigestEmail } from '../../src/render/digest-email.js';
import { loadDigests } from '../../src/delivery/digest-content.js';
import { dueDigests } from '../../src/schedule/digests.js';

const N = Number(process.env.DIGESTS ?? 100_000);
const AT = Date.parse('2026-11-30T09:00:00Z');
let peak = 0;
const rssStart = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);

/**
 * The database the digests are built from: 100,000 subscribers and the week's 200 changes,
 * ingested in a process of its own (`setup`, as the service would have), so this process is the
 * digest run alone, opened as `npm run digest` opens it (READER_PAGE_CACHE_KIB).
 */
async function setUp(db: Db) {
  const slugs = (await db.all<{ slug: string; title: string }>(sql`
    SELECT p.slug, min(d.title) AS title FROM platforms p JOIN documents d ON d.platform_id = p.id GROUP BY p.slug ORDER BY p.slug LIMIT 20`));
  await seedSubscribers(db, { count: N, platformSlugs: slugs.map((s) => s.slug), plan: 'monitor', digest: { weekday: 'monday', hour: 9 } });
  const events = slugs.flatMap((p, i) =>
    Array.from({ length: 10 }, (_, j) =>
      makeEvent({
        id: `d-${i}-${j}`,
        platform: { slug: p.slug },
        document: { title: p.title },
        severity: ['low', 'medium', 'high'][j % 3],
        title: `Change ${j} to ${p.slug}`,
        summary: 'The provider may now keep conversation logs for longer and use them to improve its models.',
        change_url: `https://tracker.test/${i}/${j}`,
        evidence: { sha256: 'b'.repeat(64), archive_url: `https://archive.test/${i}/${j}` },
        detected_at: `2026-11-2${4 + (j % 5)}T06:00:00Z`,
      }),
    ),
  );
  const parsed = parseEventBody({ events });
  if (!parsed.ok) throw new Error('bad events');
  await ingestEvents({ db, clock: () => AT, alertMaxAgeHours: 1, flapWindowHours: 72 }, parsed.events);
}

if (process.argv[2] === 'setup') {
  const database = await tempDatabase();
  await setUp(database.db);
  database.close();
  console.log(JSON.stringify({ dir: database.dir, url: database.url }));
  process.exit(0);
}
const given = process.env.DIGEST_DATABASE_URL;
const database = given ? await openDatabase(given, undefined, { pageCacheKib: READER_PAGE_CACHE_KIB }) : await tempDatabase();
if (!given) await setUp(database.db);
const { db } = database;

const links = createLinkSigner('bench-secret-key-0123456789-0123456789', 'https://clausewatch.test', () => AT, (key, data) => createHmac('sha256', key).update(data).digest('base64url'));
const cache = new Map<string, string>();
let built = 0;
let bytes = 0;
let items = 0;
const sample: Parameters<typeof renderDigestEmail>[1][] = [];
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
let tPage = 0, tLoad = 0, tRender = 0;
let tq = performance.now();
for await (const page of dueDigests(db, AT, Number(process.env.PAGE ?? 1000))) {
  tPage += performance.now() - tq;
  let tl = performance.now();
  const digests = await loadDigests(db, page, links, AT);
  tLoad += performance.now() - tl;
  tl = performance.now();
  peak = Math.max(peak, process.memoryUsage().rss);
  for (const d of digests.values()) {
    const m = renderDigestEmail(templates, d, { address: `reader${built}@bench.test`, planLine: 'on the monitor plan', cache });
    bytes += m.html.length + m.text.length;
    items += d.total;
    if (sample.length < 20 && built % 5000 === 0) sample.push(d);
    built++;
  }
  tRender += performance.now() - tl;
  tq = performance.now();
  peak = Math.max(peak, process.memoryUsage().rss);
}
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);

// The same digests through MJML once per digest, as a template engine that fills the MJML source
// and compiles it every time would: one MJML section per platform and per change.
const { default: mjml2html } = await import('mjml'); // loaded only now, so the RSS above is the service's
const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));
const source = readFileSync(`${TEMPLATES_DIR}digest.mjml`, 'utf8');
const x = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
let mjmlMs = 0;
let fillMs = 0;
for (const d of sample) {
  const f0 = performance.now();
  renderDigestEmail(templates, d, { address: 'x@bench.test', planLine: 'on the monitor plan' });
  fillMs += performance.now() - f0;
  const sections = d.groups
    .map(
      (g) =>
        `<mj-section><mj-column><mj-text font-size="17px" font-weight="700">${x(g.platform.name)}</mj-text></mj-column></mj-section>` +
        g.changes
          .map(
            (c) => `<mj-section><mj-column>
              <mj-text><span class="badge">${x(c.severity)}</span> <strong>${x(c.title)}</strong></mj-text>
              <mj-text css-class="muted">${x(c.document.title)}</mj-text>
              <mj-text>${x(c.summary ?? '')}</mj-text>
              <mj-button href="${x(c.changeUrl ?? '')}">View the change</mj-button>
              <mj-text><a href="${x(c.evidence?.archive_url ?? '')}">Evidence</a></mj-text>
            </mj-column></mj-section>`,
          )
          .join(''),
    )
    .join('');
  const doc = source.replace('<mj-raw><!--slot:groups--></mj-raw>', sections);
  const m0 = performance.now();
  await mjml2html(doc, { filePath: `${TEMPLATES_DIR}digest.mjml`, validationLevel: 'skip' });
  mjmlMs += performance.now() - m0;
}
const mjmlPerDigestMs = mjmlMs / sample.length;
const fillPerDigestMs = fillMs / sample.length;
if (given) database.close();
else (database as TempDatabase).dispose();
console.log(JSON.stringify({ rssStart, rssBefore, built, seconds, pageMs: tPage, loadMs: tLoad, renderMs: tRender, rate: built / seconds, avgItems: items / built, avgBytes: bytes / built, peakRss: peak, mjmlPerDigestMs, fillPerDigestMs, renderPerDigestMs: tRender / built }));
