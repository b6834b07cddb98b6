/**
 * `npm run digest -- --at 2026-11-30T09:00:00Z [--dry-run]`: what a digest tick at `--at` does,
 * from a shell. Without --dry-run it enqueues the due digests and delivers them; with it, it
 * builds and renders them from the database in pages and reports, sending nothing.
 */
import { sql } from 'drizzle-orm';
import { loadConfig, ConfigError } from '../config.js';
import { openDatabase, READER_PAGE_CACHE_KIB } from '../db.js';
import { createLogger } from '../log.js';
import { createService, defaultOutboxDir } from '../service.js';
import { systemClock } from '../core/clock.js';
import { parseTimestamp } from '../core/event.js';
import { countDueDigests, dueDigests } from '../schedule/digests.js';
import { digestTick, tickIsAhead } from '../schedule/tick.js';
import { loadDigests } from '../delivery/digest-content.js';
import { renderDigestEmail } from '../render/digest-email.js';
import { progressBar } from './progress.js';
import { createDeliverer } from '../delivery/deliver.js';
import { claimById } from '../delivery/outbox.js';
import type { Db } from '../db.js';
import { parseCli } from './args.js';

const cli = parseCli({
  name: 'digest',
  usage: `usage: npm run digest [-- --at <time>] [--dry-run]

Does what the digest tick does at <time> (default now) on DATABASE_URL: enqueues the digests (and
effective-date reminders) due and delivers those it enqueued; the last line counts them. Messages
already queued (a running service's alerts, earlier runs' digests) are left to their dispatcher.

      --at <time>  an RFC 3339 time, such as 2026-11-30T09:00:00Z (in the future only with --dry-run)
      --dry-run    build and render the due digests from the database and report; send nothing`,
  options: { at: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
});

async function main() {
  const { values } = cli;
  const given = values.at === undefined ? Date.now() : parseTimestamp(values.at);
  const at = given ?? cli.fail('--at takes an RFC 3339 time such as 2026-11-30T09:00:00Z');
  // Only a dry run may look ahead: a real one would build a week that has not ended yet.
  if (!values['dry-run'] && tickIsAhead(at, Date.now())) throw new Error('--at is in the future: a digest covers a week that has ended (use --dry-run to look ahead)');
  const config = loadConfig(process.env);
  const database = await openDatabase(config.database.url, config.database.authToken, { pageCacheKib: READER_PAGE_CACHE_KIB });
  const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
  const service = await createService(config, { db: database.db, clock: systemClock, log, outboxDir: defaultOutboxDir(config.database.url) });
  const { db } = database;
  try {
    if (values['dry-run']) {
      const total = await countDueDigests(db, at);
      const bar = progressBar('building digests', total);
      let built = 0;
      let empty = 0;
      let bytes = 0;
      let largest = 0;
      const cache = new Map<string, string>();
      for await (const page of dueDigests(db, at)) {
        const digests = await loadDigests(db, page, service.links, Date.now());
        for (const d of digests.values()) {
          const html = renderDigestEmail(service.templates, d, { address: '', planLine: `on the ${d.plan} plan`, cache }).html;
          bytes += html.length;
          largest = Math.max(largest, html.length);
          if (d.total === 0) empty++;
          built++;
        }
        if (cache.size > 50_000) cache.clear();
        bar.update(built);
      }
      bar.done(built);
      console.log(
        `dry run at ${new Date(at).toISOString()}: ${built} digests due (${empty} with no change); ` +
          `average ${Math.round(bytes / Math.max(1, built) / 1024)} KB of HTML, largest ${Math.round(largest / 1024)} KB. Nothing was sent.`,
      );
      return;
    }
    // The rows this run enqueues are told apart from everyone else's by id and creation time:
    // a running service's alerts, confirmations and digests are its dispatcher's to send (its
    // dispatcher would otherwise find them claimed by this shell, and its metrics would miss them).
    const [top] = await db.all<{ last: number | null }>(sql`SELECT max(id) AS last FROM outbox`);
    const enqueuedAt = Date.now();
    const r = await digestTick(db, at, enqueuedAt);
    console.log(
      `${r.due} digests due at ${new Date(at).toISOString()}, ${r.enqueued} new (the rest were already sent or queued); ${r.reminders} effective-date reminders.`,
    );
    const mine = (
      await db.all<{ id: number }>(sql`
        SELECT id FROM outbox WHERE id > ${top?.last ?? 0} AND created_at = ${enqueuedAt} AND kind IN ('digest', 'reminder') ORDER BY id`)
    ).map((row) => row.id);
    const owner = `digest-cli:${process.pid}:${enqueuedAt.toString(36)}`;
    const leaseMs = config.deliveryLeaseSeconds * 1000;
    const deliver = createDeliverer({ db, clock: systemClock, log, channels: service.channels, links: service.links, metrics: service.metrics, leaseMs });
    const bar = progressBar('sending', mine.length);
    let handled = 0;
    for (const id of mine) {
      // Null: a running service's dispatcher took it first (it is then its to send, once).
      const row = await claimById(db, id, owner, Date.now(), leaseMs);
      if (row) await deliver(row, owner);
      bar.update(++handled);
    }
    bar.done(handled);
    console.log(await thisRunLine(db, mine));
  } finally {
    await service.stop();
    database.close();
  }
}

/** The last line: what became of the messages this run enqueued, and only those. */
async function thisRunLine(db: Db, ids: number[]): Promise<string> {
  if (!ids.length) return 'This run enqueued nothing new, so it sent nothing.';
  const states = await db.all<{ kind: string; status: string; n: number }>(sql`
    SELECT kind, status, count(*) AS n FROM outbox WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))
    GROUP BY kind, status ORDER BY kind, status`);
  const what = (kind: string) => (kind === 'digest' ? 'digest' : 'reminder');
  const parts = states.map((s) => `${s.n} ${what(s.kind)}${s.n === 1 ? '' : 's'} ${s.status === 'sending' ? 'being sent by a running service' : s.status}`);
  return `This run: ${parts.join(', ')}.`;
}

main().catch((e) => {
  console.error(`digest: ${e instanceof ConfigError || e instanceof Error ? e.message : e}`);
  process.exit(1);
});
