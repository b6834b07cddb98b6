/**
 * `npm run demo`: sends the shipped sample events to a running ClauseWatch and prints what each
 * matched. It first makes a demo account (monitor plan) whose email destination watches the
 * samples' platforms, so the matches and the resulting mails (data/outbox/*.eml by default) show.
 *
 *   npm run demo                     re-dates the samples to end a minute ago (spacing kept), with fresh ids
 *   npm run demo -- --as-is          sends them exactly as shipped (a second run: all duplicates)
 *   CLAUSEWATCH_URL=… INGEST_TOKEN=… ADMIN_TOKEN=… npm run demo     against another instance
 */
import { readdirSync, readFileSync } from 'node:fs';
import { apiClient } from './client.js';
import { parseCli } from './args.js';

const { values } = parseCli({
  name: 'demo',
  usage: `usage: npm run demo [-- --as-is]

Sends the sample events to a running ClauseWatch (CLAUSEWATCH_URL, default http://localhost:$PORT)
through a demo account whose email destination watches their platforms, and prints what each matched.
Tokens: INGEST_TOKEN and ADMIN_TOKEN, or those a development start generated (npm run tokens).

      --as-is    send the samples exactly as shipped (no fresh ids or dates: a second run is all duplicates)`,
  options: { 'as-is': { type: 'boolean', default: false } },
});
const asIs = values['as-is'];

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
    events = events.map((e) => ({ ...e, id: `${e.id}_${run}`, detected_at: new Date(Date.parse(e.detected_at) + shift).toISOString() }));
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

  let accepted = 0;
  for (const e of events) {
    const r = await call('POST', '/v1/events', ingest, e);
    accepted += r.accepted;
    const what = r.duplicates ? 'duplicate' : `matched ${r.matched} destination${r.matched === 1 ? '' : 's'}`;
    console.log(`${e.severity.padEnd(6)} ${String(e.kind ?? 'changed').padEnd(14)} ${e.platform.slug.padEnd(14)} ${what.padEnd(24)} ${e.title}`);
  }
  console.log(`\n${accepted} of ${events.length} events accepted. Deliveries: GET ${base}/v1/accounts/${account.id}/deliveries`);
}

main().catch((e) => {
  console.error(`demo: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
