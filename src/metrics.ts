import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { sql } from 'drizzle-orm';
import type { Db } from './db.js';

/**
 * Prometheus metrics. Counters are per process; queue depth is read from the database at scrape
 * time, so every instance reports the shared outbox.
 */
export interface Metrics {
  eventsIngested(accepted: number, duplicates: number): void;
  matched(destinations: number): void;
  suppressed(reason: string, n?: number): void;
  /** (event, destination) decisions of the delivery policy, by outcome: `alert` or its reason. */
  decided(outcome: string, n: number): void;
  delivered(channel: string, kind: string): void;
  failed(channel: string, kind: string): void;
  dead(channel: string, kind: string): void;
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(db: Db): Metrics {
  const registry = new Registry();
  // prom-client's process metrics, among them nodejs_eventloop_lag_seconds and the event-loop
  // delay percentiles (nodejs_eventloop_lag_p99_seconds, _max_): how long a request could wait
  // behind work on the main thread.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const events = new Counter({ name: 'clausewatch_events_ingested_total', help: 'Change events stored', registers: [registry] });
  const dups = new Counter({ name: 'clausewatch_events_duplicate_total', help: 'Change events re-sent with an id already stored', registers: [registry] });
  const matches = new Counter({ name: 'clausewatch_matches_total', help: 'Destinations matched by ingested events', registers: [registry] });
  const suppressed = new Counter({ name: 'clausewatch_alerts_suppressed_total', help: 'Events kept from same-day alerts, by reason', labelNames: ['reason'], registers: [registry] });
  const decisions = new Counter({
    name: 'clausewatch_decisions_total',
    help: 'Per-destination delivery decisions recorded at ingest, by outcome (alert, or the policy reason)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const sent = new Counter({ name: 'clausewatch_messages_sent_total', help: 'Messages delivered', labelNames: ['channel', 'kind'], registers: [registry] });
  const failed = new Counter({ name: 'clausewatch_messages_failed_total', help: 'Failed attempts that will be retried', labelNames: ['channel', 'kind'], registers: [registry] });
  const dead = new Counter({ name: 'clausewatch_messages_dead_total', help: 'Messages given up on', labelNames: ['channel', 'kind'], registers: [registry] });
  new Gauge({
    name: 'clausewatch_outbox_depth',
    help: 'Outbox rows waiting to be sent, by status and channel',
    labelNames: ['status', 'channel'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.all<{ status: string; channel: string; n: number }>(sql`
        SELECT status, channel, count(*) AS n FROM outbox WHERE status IN ('queued', 'retrying', 'sending') GROUP BY status, channel`);
      for (const r of rows) this.set({ status: r.status, channel: r.channel }, r.n);
      const [p] = await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM matches WHERE alert_state = 'pending'`);
      this.set({ status: 'grouping', channel: 'any' }, p?.n ?? 0);
    },
  });
  return {
    eventsIngested(a, d) {
      events.inc(a);
      dups.inc(d);
    },
    matched: (n) => matches.inc(n),
    suppressed: (reason, n = 1) => suppressed.inc({ reason }, n),
    decided: (outcome, n) => decisions.inc({ outcome }, n),
    delivered: (channel, kind) => sent.inc({ channel, kind }),
    failed: (channel, kind) => failed.inc({ channel, kind }),
    dead: (channel, kind) => dead.inc({ channel, kind }),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
