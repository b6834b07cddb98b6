/**
 * `npm run replay -- <events.jsonl> [--pause-ms 200]`: replays a recorded history of change events
 * against a running ClauseWatch, one monitor subscriber per platform, and prints per platform the
 * events, the alerts sent, what was held back and why, and alerts per event.
 *
 * Start the service for it with backfill and budget out of the way, and no group wait (each
 * capture run is grouped on its own; the pause lets the dispatcher do it):
 *
 *   ALERT_MAX_AGE_HOURS=100000 STALE_AFTER_HOURS=8760 ALERT_GROUP_WAIT_SECONDS=0 MAX_ALERTS_PER_DAY=10000 \
 *     DATABASE_URL=file:./data/replay.db npm start
 *   DATABASE_URL=file:./data/replay.db npm run replay -- test/fixtures/history/ai-terms.jsonl
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiClient } from './client.js';
import { progressBar } from './progress.js';
import { parseCli } from './args.js';
import { parseJsonl, replay, replayTable } from '../replay/replay.js';

const cli = parseCli({
  name: 'replay',
  usage: `usage: npm run replay -- <events.jsonl> [--pause-ms 200]

Replays a recorded history of change events against a running ClauseWatch (CLAUSEWATCH_URL), one
monitor subscriber per platform, and prints per platform the alerts sent and what was held back.

      --pause-ms <n>  milliseconds to wait after each capture run, for the dispatcher (default 200)`,
  allowPositionals: true,
  options: { 'pause-ms': { type: 'string', default: '200' } },
});

async function main() {
  const { positionals, values } = cli;
  const file = positionals[0] ?? cli.fail('<events.jsonl> is missing: name the recorded history to replay');
  if (positionals.length > 1) cli.fail(`one file at a time (also given: ${positionals.slice(1).join(' ')})`);
  const pauseMs = Number(values['pause-ms']);
  if (!Number.isInteger(pauseMs) || pauseMs < 0) cli.fail('--pause-ms takes a whole number of milliseconds');
  const events = parseJsonl(readFileSync(file, 'utf8'));
  const client = await apiClient();
  const bar = progressBar('replayed', events.length);

  const result = await replay(events, {
    call: client.call,
    ingestToken: client.ingest,
    adminToken: client.admin,
    settle: () => sleep(pauseMs),
    progress: (done) => bar.update(done),
    finish: async (accounts) => {
      bar.done(events.length);
      // Until every account's outbox is empty (a minute at most: whatever is left is reported as not sent).
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
        let open = 0;
        for (const id of accounts) {
          for (const status of ['queued', 'sending', 'retrying']) open += (await client.call('GET', `/v1/accounts/${id}/deliveries?status=${status}&limit=1`, client.admin)).data.length;
        }
        if (!open) return;
      }
      console.error('replay: some messages were still waiting after a minute (is MAX_ALERTS_PER_DAY large?)');
    },
  });
  if (result.duplicates) console.error(`replay: ${result.duplicates} events were already stored: replay against a fresh database for a true table`);
  console.log(`\n${result.accepted} events replayed from ${file} against ${client.base}\n`);
  console.log(replayTable(result));
}

main().catch((e) => {
  console.error(`replay: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
