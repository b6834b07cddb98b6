/**
 * `npm run bench`: the speed and memory targets, measured on this machine (never in a timed unit
 * test). Prints a Markdown table for the README; exits 1 when a target is missed.
 *   npm run bench -- ingest        only the sections whose name contains "ingest"
 *   npm run bench -- peers         ClauseWatch beside Prometheus Alertmanager (peers.ts)
 *   BENCH_NODE_OPTIONS="--import ./profile.mjs"   Node options for the ROLE=api process of the HTTP ingest row (a profiler preload)
 */
import { markdownTable, type BenchRow } from './report.js';
import { benchBatchThroughput, benchFanOut } from './ingest.js';
import { benchEmail } from './email.js';
import { benchDigests } from './digest.js';
import { benchVerifications } from './verifications.js';
import { benchScaleOut } from './scale-out.js';
import { benchPeers } from './peers.js';
import { benchHttpIngest } from './ingest-http.js';

const sections: { name: string; run: () => Promise<BenchRow[]> }[] = [
  { name: 'ingest fan-out', run: benchFanOut },
  { name: 'ingest batches', run: benchBatchThroughput },
  { name: 'ingest http', run: benchHttpIngest },
  { name: 'email delivery', run: benchEmail },
  { name: 'digests', run: benchDigests },
  { name: 'verifications', run: benchVerifications },
  { name: 'dispatcher scale-out', run: benchScaleOut },
  // ClauseWatch (npm start) beside Alertmanager: a few minutes; skipped rows say so without the binary.
  { name: 'peers', run: benchPeers },
];

const filter = process.argv[2];
const rows: BenchRow[] = [];
for (const s of sections.filter((s) => !filter || s.name.includes(filter))) {
  process.stderr.write(`bench: ${s.name}…\n`);
  rows.push(...(await s.run()));
}
console.log(markdownTable(rows));
process.exit(rows.every((r) => r.ok) ? 0 : 1);
