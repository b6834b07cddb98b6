/**
 * `npm run demo`: sends the shipped sample events to a running ClauseWatch and prints what each
 * matched. It first makes a demo account (monitor plan) whose email destination watches the
 * samples' platforms, so the matches and the resulting mails (data/outbox/*.eml by default) show.
 *
 *   npm run demo                     re-dates the samples to end a minute ago (spacing and effective dates kept), with fresh ids
 *   npm run demo -- --as-is          sends them exactly as shipped (a second run: all duplicates)
 *   npm run demo -- --no-wait        does not wait for the alert mail
 *   CLAUSEWATCH_URL=… INGEST_TOKEN=… ADMIN_TOKEN=… npm run demo     against another instance
 */
import { readdirSync, readFileSync } from 'node:fs';
import { apiClient } from './client.js';
import { parseCli } from './args.js';
import { addDays, isoDate } from '../core/zoned-time.js';

const { values } = parseCli({
  name: 'demo',
  usage: `usage: npm run demo [-- --as-is]

Sends the sample events to a running ClauseWatch (CLAUSEWATCH_URL, default http://localhost:$PORT)
through a demo account whose email destination watches their platforms, and prints what each matched.
Tokens: INGEST_TOKEN and ADMIN_TOKEN, or those a development start generated (npm run tokens).

Then it waits for the alert mail (the service gathers a destination's changes for its group wait,
ALERT_GROUP_WAIT_SECONDS: 10 s on a development start, 60 s otherwise) and says how to read it.

      --as-is    send the samples exactly as shipped (no fresh ids or dates: a second run is all duplicates)
      --no-wait  do not wait for the alert mail`,
  options: { 'as-is': { type: 'boolean', default: false }, 'no-wait': { type: 'boolean', default: false } },
});
const asIs = values['as-is'];
/** Longer than the default group wait (60 s) plus a dispatcher's poll and a slow SMTP server. */
const ALERT_WAIT_MS = 120_000;

async function main() {
  const dir = new URL('../../test/fixtures/events/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  let events = files.map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Record<string, any>);
  if (!asIs) {
    // Keep the samples' order and spacing, moved so the latest was detected a minute ago: those of
    // the last ALERT_MAX_AGE_HOURS (48 by default) are same-day news, the older ones backfill
    // (stored and in the weekly digest, not alerted), as they would be for a real tracker.
    const run = Date.now().toString(36);
    const latest = Math.max(...events.map((e) => Date.parse(e.detected_at)));
    const shift = Date.now() - 60_000 - latest;
    // Effective dates move with them, by whole days, so each change still takes effect as long
    // after its detection as it did: left as shipped, they passed within weeks, and on the way each
    // fell due for its 7-day reminder on some day of a demo run.
    const days = Math.round(shift / 86_400_000);
    const later = (date: string) => {
      const [y, m, d] = date.split('-').map(Number) as [number, number, number];
      return isoDate(addDays(y, m, d, days));
    };
    events = events.map((e) => ({
      ...e,
      id: `${e.id}_${run}`,
      detected_at: new Date(Date.parse(e.detected_at) + shift).toISOString(),
      ...(typeof e.effective_at === 'string' ? { effective_at: later(e.effective_at) } : {}),
    }));
  }

  const { base, ingest, admin, call } = await apiClient();
  const slugs = [...new Set(events.map((e) => e.platform.slug as string))].slice(0, 25);
  const found = await call('GET', `/v1/accounts?email=${encodeURIComponent('demo@clausewatch.localhost')}`, admin);
  const account = found.data[0] ?? (await call('POST', '/v1/accounts', admin, { name: 'ClauseWatch demo', plan: 'monitor' }));
  const dest = await call('POST', `/v1/accounts/${account.id}/destinations`, admin, { type: 'email', address: 'demo@clausewatch.localhost' });
  for (const platform of slugs) {
    await call('POST', `/v1/accounts/${account.id}/subscriptions`, admin, { platform, destination: dest.id });
  }
  console.log(`demo account ${account.id} (monitor) watches ${slugs.length} platforms with ${dest.address}\n`);
  const deliveries = () => call('GET', `/v1/accounts/${account.id}/deliveries?limit=20`, admin) as Promise<{ data: Delivery[] }>;
  const before = (await deliveries()).data[0]?.id ?? 0;

  let accepted = 0;
  for (const e of events) {
    const r = await call('POST', '/v1/events', ingest, e);
    accepted += r.accepted;
    const what = r.duplicates ? 'duplicate' : `matched ${r.matched} destination${r.matched === 1 ? '' : 's'}`;
    console.log(`${e.severity.padEnd(6)} ${String(e.kind ?? 'changed').padEnd(14)} ${e.platform.slug.padEnd(14)} ${what.padEnd(24)} ${e.title}`);
  }
  console.log(`\n${accepted} of ${events.length} events accepted. Deliveries: GET ${base}/v1/accounts/${account.id}/deliveries`);
  // As shipped, the samples are weeks old: backfill, which no alert is sent for.
  if (asIs || values['no-wait'] || accepted === 0) return;

  console.log(
    `\nWaiting for the alert mail: the service gathers a destination's changes for its group wait ` +
      `(ALERT_GROUP_WAIT_SECONDS: 10 s on a development start, 60 s otherwise), then sends them as one mail…`,
  );
  const started = Date.now();
  for (;;) {
    const alert = (await deliveries()).data.find((d) => d.kind === 'alert' && d.id > before);
    if (alert?.status === 'sent') {
      console.log(`Alert mail sent after ${Math.round((Date.now() - started) / 1000)} s: ${alert.changes ?? 'its'} changes in one mail to ${dest.address}.`);
      console.log(
        `With no SMTP_URL it is the newest .eml under data/outbox/ (beside DATABASE_URL). Its parts are base64,\n` +
          `so print its text with:  npm run -s eml      (a given file: npm run -s eml -- data/outbox/<file>.eml; --html for the HTML)`,
      );
      return;
    }
    if (alert && (alert.status === 'retrying' || alert.status === 'dead')) {
      console.log(`The alert mail is ${alert.status}: ${alert.last_error ?? 'no error recorded'} (GET ${base}/v1/accounts/${account.id}/deliveries follows it).`);
      return;
    }
    if (Date.now() - started > ALERT_WAIT_MS) {
      console.log(
        `No alert mail after ${ALERT_WAIT_MS / 1000} s. GET ${base}/v1/accounts/${account.id}/deliveries shows the queue; ` +
          `an API-only process (ROLE=api) needs a dispatcher beside it, and MAX_ALERTS_PER_DAY may hold repeated runs back.`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface Delivery {
  id: number;
  kind: string;
  status: string;
  changes?: number;
  last_error: string | null;
}

main().catch((e) => {
  console.error(`demo: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
