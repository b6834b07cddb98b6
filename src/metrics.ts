import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sql } from 'drizzle-orm';
import type { Db } from './db.js';
import type { Clock } from './core/clock.js';
import { waitingDecisions } from './delivery/grouping.js';

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
  /**
   * A message delivered. `since` (ms) is when the news it carries reached us: an alert's first
   * change's ingest, or when any other message (digest, confirmation, …) was queued.
   */
  delivered(channel: string, kind: string, since?: number): void;
  /** One HTTP answer: `route` is the pattern that served it (never the raw path), or `(unmatched)`. */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  failed(channel: string, kind: string): void;
  dead(channel: string, kind: string): void;
  render(): Promise<{ contentType: string; body: string }>;
}

/** HTTP answers: most within milliseconds; a fan-out ingest of 100,000 matches takes seconds. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Ingest → delivered: the group wait (60 s by default) plus the send; retries add minutes to hours. */
const DELIVERY_BUCKETS = [1, 5, 15, 30, 60, 75, 90, 120, 180, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600];

export function createMetrics(db: Db, clock: Clock): Metrics {
  const registry = new Registry();
  // prom-client's process metrics, among them nodejs_eventloop_lag_seconds and the event-loop
  // delay percentiles (nodejs_eventloop_lag_p99_seconds, _max_): how long a request could wait
  // behind work on the main thread.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  // Gauges named like counters fail `promtool check metrics`; each is the sum of its labelled
  // sibling (nodejs_active_handles{type}, …), so nothing is lost.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
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
  const httpDuration = new Histogram({
    name: 'clausewatch_http_request_duration_seconds',
    help: 'HTTP answers by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const deliveryLatency = new Histogram({
    name: 'clausewatch_delivery_latency_seconds',
    help: 'From ingest of an alert\'s first change (other kinds: from being queued) to its delivery, by channel and kind',
    labelNames: ['channel', 'kind'],
    buckets: DELIVERY_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'clausewatch_outbox_oldest_due_age_seconds',
    help: 'How long the oldest due outbox row (queued or retrying) has waited past its due time; 0 when none is due',
    registers: [registry],
    async collect() {
      const now = clock();
      // Two seeks on the outbox_due index (status, due_at), whatever the outbox holds.
      const [r] = await db.all<{ queued: number | null; retrying: number | null }>(sql`
        SELECT (SELECT min(due_at) FROM outbox WHERE status = 'queued' AND due_at <= ${now}) AS queued,
          (SELECT min(due_at) FROM outbox WHERE status = 'retrying' AND due_at <= ${now}) AS retrying`);
      const oldest = Math.min(r?.queued ?? now, r?.retrying ?? now);
      this.set(Math.max(0, now - oldest) / 1000);
    },
  });
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
      // With the group decisions not yet settled onto their members, counted as they will be (a
      // scrape reads, it does not settle).
      const [p] = await db.all<{ n: number }>(sql`
        SELECT (SELECT count(*) FROM ${waitingDecisions()} m) + (SELECT count(*) FROM decisions_settling WHERE alert_state = 'pending') AS n`);
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
    delivered(channel, kind, since) {
      sent.inc({ channel, kind });
      if (since !== undefined) deliveryLatency.observe({ channel, kind }, Math.max(0, clock() - since) / 1000);
    },
    httpRequest: (method, route, status, seconds) => httpDuration.observe({ method, route, status: String(status) }, seconds),
    failed: (channel, kind) => failed.inc({ channel, kind }),
    dead: (channel, kind) => dead.inc({ channel, kind }),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
