/**
 * `npm run digest -- --at 2026-11-30T09:00:00Z [--dry-run]`: what a digest tick at `--at` does,
 * from a shell. Without --dry-run it enqueues the due digests and delivers them; with it, it
 * builds and renders them from the database in pages and reports, sending nothing.
 */
import { sql } from 'drizzle-orm';
import { loadConfig, ConfigError } from '../config.js';
import { openDatabase } from '../db.js';
import { createLogger } from '../log.js';
import { createService, defaultOutboxDir } from '../service.js';
import { systemClock } from '../core/clock.js';
import { parseTimestamp } from '../core/event.js';
import { countDueDigests, dueDigests } from '../schedule/digests.js';
import { digestTick, tickIsAhead } from '../schedule/tick.js';
import { loadDigests } from '../delivery/digest-content.js';
import { renderDigestEmail } from '../render/digest-email.js';
import { progressBar } from './progress.js';
import { parseCli } from './args.js';

const cli = parseCli({
  name: 'digest',
  usage: `usage: npm run digest [-- --at <time>] [--dry-run]

Does what the digest tick does at <time> (default now) on DATABASE_URL: enqueues the digests due
and delivers them. A running service's dispatcher may deliver some of them as well.

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
  const database = await openDatabase(config.database.url, config.database.authToken);
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
    const r = await digestTick(db, at, Date.now());
    console.log(
      `${r.due} digests due at ${new Date(at).toISOString()}, ${r.enqueued} new (the rest were already sent or queued); ${r.reminders} effective-date reminders.`,
    );
    const bar = progressBar('sending', r.enqueued + r.reminders);
    let handled = 0;
    for (let n = await service.dispatcher.runOnce(); n > 0; n = await service.dispatcher.runOnce()) {
      handled += n;
      bar.update(Math.min(handled, r.enqueued + r.reminders));
    }
    bar.done(Math.min(handled, r.enqueued + r.reminders));
    const states = await db.all<{ status: string; n: number }>(sql`
      SELECT status, count(*) AS n FROM outbox WHERE kind = 'digest' AND created_at >= ${Date.now() - 86_400_000} GROUP BY status`);
    console.log(states.map((s) => `${s.n} ${s.status}`).join(', ') || 'nothing to send');
  } finally {
    await service.stop();
    database.close();
  }
}

main().catch((e) => {
  console.error(`digest: ${e instanceof ConfigError || e instanceof Error ? e.message : e}`);
  process.exit(1);
});
