import type { AlertContent, ChangeItem } from '../core/message.js';
import type { DigestContent } from '../core/digest.js';

/**
 * The event as received; a reversion also says so, next to (never inside) the producer's fields.
 */
function eventOf(x: ChangeItem): Record<string, unknown> {
  if (x.revertsToAt === undefined && !x.reportedLate) return x.raw;
  return {
    ...x.raw,
    clausewatch: {
      ...(x.revertsToAt !== undefined ? { reversion: true, reverted_to_version_of: new Date(x.revertsToAt).toISOString(), shown_severity: x.severity } : {}),
      // In a digest: detected in an earlier week whose digest went out before it arrived.
      ...(x.reportedLate ? { reported_late: true } : {}),
    },
  };
}

/**
 * Webhook payloads: versioned JSON `{type, id, created_at, data}`; `data` carries the full events
 * as received (evidence and diff included). `id` is filled in by the adapter (one per message,
 * stable across retries, as webhook-id).
 */
export interface WebhookPayload {
  type: 'change.alert' | 'digest.weekly' | 'monitor.health' | 'effective.reminder';
  created_at: string;
  data: Record<string, unknown>;
}

/** Which payload an alert is: a reminder, monitoring notices alone, or changes. */
export function webhookAlertType(c: AlertContent): WebhookPayload['type'] {
  if (c.reminder) return 'effective.reminder';
  return !c.changes.length && c.notices.length ? 'monitor.health' : 'change.alert';
}

export function renderWebhookPayload(c: AlertContent | DigestContent): WebhookPayload {
  const created_at = new Date(c.reader.now).toISOString();
  switch (c.kind) {
    case 'alert':
      if (webhookAlertType(c) === 'effective.reminder') return { type: 'effective.reminder', created_at, data: { version: 1, changes: c.changes.map(eventOf) } };
      if (webhookAlertType(c) === 'monitor.health') {
        return { type: 'monitor.health', created_at, data: { version: 1, notices: c.notices.map((n) => n.raw) } };
      }
      return {
        type: 'change.alert',
        created_at,
        // budget: the day's changes past the destination's alert limit, sent together at the day's end.
        data: { version: 1, ...(c.budget ? { budget: true } : {}), changes: c.changes.map(eventOf), notices: c.notices.map((n) => n.raw) },
      };
    case 'digest':
      return {
        type: 'digest.weekly',
        created_at,
        data: {
          version: 1,
          period: { key: c.period.key, start: new Date(c.period.start).toISOString(), end: new Date(c.period.end).toISOString() },
          counts: c.counts,
          platforms: c.groups.map((g) => ({ slug: g.platform.slug, name: g.platform.name, counts: g.counts, changes: g.changes.map(eventOf) })),
          upcoming: c.upcoming.map((x) => ({ effective_at: x.effectiveAt, event: x.raw })),
          notices: c.notices.map((n) => n.raw),
          flapping: c.flapping.map((f) => ({ platform: f.platform, document: f.document, flips: f.flips, versions: f.versions })),
          watched: c.watched.map((w) => ({
            platform: w.platform,
            documents: w.documents.map((d) => ({ title: d.title, url: d.url, last_verified_at: d.lastVerifiedAt === null ? null : new Date(d.lastVerifiedAt).toISOString() })),
          })),
          view_url: c.links.view,
        },
      };
  }
}
