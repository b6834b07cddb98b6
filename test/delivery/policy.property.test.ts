import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { fixedClock } from '../support/clock.js';
import { makeEvent } from '../support/app.js';
import { DIGEST_ONLY, REASONS, isReason } from '../../src/core/policy.js';

/**
 * The contract's "every change is delivered once", as a property: over random sequences of
 * ingests (late ones, reversions, outages, link-only noise), subscription and plan changes, waits
 * and digest runs, the real dispatcher delivering to a real loopback webhook receiver on a real
 * libSQL file, every (event, destination) decision ends in exactly one of: one alert, one digest
 * (digest-only reasons), or its recorded reason alone; no message arrives twice, no change is in
 * two alerts or two digests of one destination, and every change a message carries is one its
 * destination's decision put there.
 */

const PLATFORMS = [
  { slug: 'openai', title: 'OpenAI Terms of Use' },
  { slug: 'anthropic', title: 'Anthropic Usage Policy' },
] as const;
const DESTINATIONS = 3;
const HOUR = 3_600_000;

type Command =
  | { t: 'ingest'; platform: number; severity: 'low' | 'medium' | 'high'; kind: 'changed' | 'revert' | 'unreachable' | 'restored' | 'links'; lateHours: number }
  | { t: 'subscribe'; dest: number; platform: number; min: 'low' | 'medium' | 'high' }
  | { t: 'unsubscribe'; dest: number; platform: number }
  | { t: 'plan'; dest: number; plan: 'free' | 'monitor' }
  | { t: 'wait'; minutes: number }
  | { t: 'digest' };

const severity = fc.constantFrom('low' as const, 'medium' as const, 'high' as const);
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('ingest' as const),
      platform: fc.nat(PLATFORMS.length - 1),
      severity,
      kind: fc.constantFrom('changed' as const, 'changed' as const, 'revert' as const, 'unreachable' as const, 'restored' as const, 'links' as const),
      // Mostly fresh news; some an hour or a day late, some past ALERT_MAX_AGE_HOURS (backfill).
      lateHours: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 30 }) }, { weight: 1, arbitrary: fc.integer({ min: 49, max: 200 }) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('subscribe' as const), dest: fc.nat(DESTINATIONS - 1), platform: fc.nat(PLATFORMS.length - 1), min: severity }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('unsubscribe' as const), dest: fc.nat(DESTINATIONS - 1), platform: fc.nat(PLATFORMS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('plan' as const), dest: fc.nat(DESTINATIONS - 1), plan: fc.constantFrom('free' as const, 'monitor' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('wait' as const), minutes: fc.integer({ min: 1, max: 180 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('digest' as const) }) },
);

let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
beforeAll(async () => {
  hook = await startWebhookReceiver();
});
afterAll(() => hook.close());

/** Plays one sequence against a fresh service and checks what the receiver got against the decisions. */
async function play(commands: Command[]): Promise<void> {
  const clock = fixedClock('2026-11-02T10:00:00Z');
  hook.received.length = 0;
  const s: TestService = await testService(
    { WEBHOOK_ALLOW_PRIVATE: 'true', ALERT_GROUP_WAIT_SECONDS: '60', MAX_ALERTS_PER_DAY: '3', FLAP_WINDOW_HOURS: '72' },
    { clock },
  );
  try {
    const accounts: { id: string; destination: string; subs: Map<number, string> }[] = [];
    for (let i = 0; i < DESTINATIONS; i++) {
      const account = (await s.call('POST', '/v1/accounts', { name: `Hooks ${i}`, plan: 'monitor' })).json;
      const dest = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url: `${hook.url}?d=${i}` })).json;
      const sub = (await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: PLATFORMS[0].slug, destination: dest.id })).json;
      accounts.push({ id: account.id, destination: dest.id, subs: new Map([[0, sub.id]]) });
    }
    // Destinations whose subscriptions were removed or paused at some point: what their next
    // digests would have listed of those platforms was dropped with them.
    const changed = new Set<string>();
    // Each document's content versions, so a reversion can return to the one before.
    const versions = PLATFORMS.map(() => ['v0']);
    let n = 0;
    const hash = (v: string) => v.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a');
    const digestRun = async () => {
      const now = clock();
      const day = new Date(now).getUTCDay();
      const monday9 = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate() + ((8 - day) % 7 || 7), 9);
      clock.set(monday9);
      expect((await s.call('POST', '/v1/digests/run', { at: new Date(monday9).toISOString() })).status).toBe(202);
      await s.drain();
    };
    for (const c of commands) {
      if (c.t === 'ingest') {
        const doc = versions[c.platform]!;
        const id = `e${n++}`;
        const base = {
          id,
          platform: { slug: PLATFORMS[c.platform]!.slug },
          document: { title: PLATFORMS[c.platform]!.title },
          severity: c.severity,
          detected_at: new Date(clock() - c.lateHours * HOUR).toISOString(),
        };
        let event;
        if (c.kind === 'unreachable') event = makeEvent({ ...base, kind: 'unreachable', evidence: { previous_sha256: hash(doc.at(-1)!) } });
        else if (c.kind === 'restored') event = makeEvent({ ...base, kind: 'restored', evidence: { sha256: hash(doc.at(-1)!) } });
        else if (c.kind === 'links') {
          event = makeEvent({ ...base, diff: { removed: [`See [help](https://help.test/${id}a).`], added: [`See [help](https://help.test/${id}b).`] } });
        } else {
          const to = c.kind === 'revert' && doc.length > 1 ? doc.at(-2)! : `v${id}`;
          event = makeEvent({ ...base, evidence: { sha256: hash(to), previous_sha256: hash(doc.at(-1)!) } });
          doc.push(to);
        }
        expect((await s.ingest(event)).status).toBe(202);
      } else if (c.t === 'subscribe') {
        const a = accounts[c.dest]!;
        if (a.subs.has(c.platform)) continue;
        const r = await s.call('POST', `/v1/accounts/${a.id}/subscriptions`, { platform: PLATFORMS[c.platform]!.slug, destination: a.destination, min_severity: c.min });
        if (r.status === 201) a.subs.set(c.platform, r.json.id);
      } else if (c.t === 'unsubscribe') {
        const a = accounts[c.dest]!;
        const sub = a.subs.get(c.platform);
        if (!sub) continue;
        expect((await s.call('DELETE', `/v1/accounts/${a.id}/subscriptions/${sub}`)).status).toBe(204);
        changed.add(a.destination);
        a.subs.delete(c.platform);
      } else if (c.t === 'plan') {
        expect((await s.call('PATCH', `/v1/accounts/${accounts[c.dest]!.id}`, { plan: c.plan })).status).toBe(200);
        changed.add(accounts[c.dest]!.destination);
      } else if (c.t === 'wait') {
        clock.advance(c.minutes * 60_000);
        await s.drain();
      } else await digestRun();
    }
    // Let everything that waits go: groups, the day's budget message, and two more digests.
    clock.advance(61_000);
    await s.drain();
    clock.advance(24 * HOUR);
    await s.drain();
    await digestRun();
    await digestRun();

    // What arrived, by outbox row (webhook-id msg_cw-<installation>-<outbox id>-<part>).
    const ids = hook.received.map((r) => r.headers['webhook-id']!);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i), 'messages that arrived twice').toEqual([]);
    const outboxRows = await s.database.db.all<{ id: number; kind: string; destination_id: string; status: string; start: number | null }>(
      sql`SELECT id, kind, destination_id, status, payload ->> 'start' AS start FROM outbox`,
    );
    const outbox = new Map(outboxRows.map((o) => [o.id, o]));
    // When each destination's digests began: news detected before that no digest of its owed it.
    const digestsBegan = new Map<string, number>();
    for (const o of outboxRows) if (o.kind === 'digest') digestsBegan.set(o.destination_id, Math.min(o.start!, digestsBegan.get(o.destination_id) ?? Infinity));
    const alerts = new Map<string, number[]>();
    const digests = new Map<string, number[]>();
    for (const r of hook.received) {
      const outboxId = Number(/^msg_cw-[0-9a-z]{20}-(\d+)-\d+$/.exec(r.headers['webhook-id']!)![1]);
      const row = outbox.get(outboxId)!;
      const data = r.body.data;
      const carried: string[] =
        r.body.type === 'digest.weekly'
          ? [...data.platforms.flatMap((p: any) => p.changes.map((c: any) => c.id)), ...data.notices.map((x: any) => x.id)]
          : [...(data.changes ?? []).map((c: any) => c.id), ...(data.notices ?? []).map((x: any) => x.id)];
      const into = r.body.type === 'digest.weekly' ? digests : alerts;
      for (const e of carried) {
        const k = `${e}\u0000${row.destination_id}`;
        into.set(k, [...(into.get(k) ?? []), outboxId]);
      }
    }
    const rows = await s.database.db.all<{
      event: string;
      destination_id: string;
      reason: string | null;
      alert_state: string;
      outbox_id: number | null;
      digest_state: string;
      digest_outbox_id: number | null;
      flap: number;
      kind: string;
      detected_at: number;
    }>(sql`
      SELECT e.id AS event, e.kind, e.detected_at, m.destination_id, m.suppressed_reason AS reason, m.alert_state, m.outbox_id, m.digest_state, m.digest_outbox_id,
        (e.suppressed_reason = 'flapping' OR (e.reverts_to_at IS NOT NULL AND EXISTS (
          SELECT 1 FROM events f JOIN matches mf ON mf.event_pk = f.pk AND mf.digest_outbox_id = m.digest_outbox_id
          WHERE f.document_id = e.document_id AND f.suppressed_reason = 'flapping'))) AS flap
      FROM matches m JOIN events e ON e.pk = m.event_pk`);
    const decided = new Set(rows.map((r) => `${r.event}\u0000${r.destination_id}`));
    for (const r of rows) {
      const k = `${r.event}\u0000${r.destination_id}`;
      const inAlerts = alerts.get(k) ?? [];
      const inDigests = digests.get(k) ?? [];
      const what = `${r.event} → ${r.destination_id} (${r.reason ?? 'alert'}, alert ${r.alert_state}, digest ${r.digest_state})`;
      expect(r.reason === null || isReason(r.reason), what).toBe(true);
      expect(r.alert_state, `${what}: nothing left waiting for an alert`).not.toBe('pending');
      expect(r.digest_state, `${what}: nothing left waiting for a digest`).not.toBe('pending');
      if (r.reason === null) expect(inAlerts, `${what}: alerted exactly once`).toEqual([r.outbox_id]);
      else expect(inAlerts, `${what}: never alerted`).toEqual([]);
      if (r.digest_state === 'listed' && !r.flap) expect(inDigests, `${what}: in exactly one digest`).toEqual([r.digest_outbox_id]);
      else if (!r.flap) expect(inDigests, `${what}: in no digest`).toEqual([]);
      // Exactly one ending: an alert, a digest for what the policy keeps to digests, or the reason alone.
      if (r.reason !== null && r.digest_state === 'listed') expect((DIGEST_ONLY as string[]).includes(r.reason), what).toBe(true);
      if (r.reason !== null && REASONS[r.reason as keyof typeof REASONS].delivery !== 'digest') expect(r.digest_state, what).toBe('none');
      // A change the policy tells its destination of is in a digest, late or not, unless no digest
      // owed it (detected before the destination's digests began), its subscription went away, or
      // it is half of an outage blip.
      if (r.digest_state === 'none' && (r.reason === null || (DIGEST_ONLY as string[]).includes(r.reason)) && r.kind !== 'unreachable' && r.kind !== 'restored') {
        expect(changed.has(r.destination_id) || r.detected_at < (digestsBegan.get(r.destination_id) ?? Infinity), `${what}: left out of every digest`).toBe(true);
      }
    }
    // Nothing was delivered that no decision put there.
    for (const k of [...alerts.keys(), ...digests.keys()]) expect(decided.has(k), `${k.replace('\u0000', ' → ')} was delivered without a decision`).toBe(true);
  } finally {
    await s.dispose();
  }
}

describe('the delivery policy, over random histories', () => {
  it('ends every (event, destination) decision in one alert, one digest or its recorded reason, and sends nothing twice', { timeout: 60_000 }, async () => {
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 4, maxLength: 20 }), (commands) => play(commands)),
      // Bounded so the whole property runs in well under a minute on a loaded 2-core machine.
      { numRuns: Number(process.env.POLICY_RUNS ?? 20), interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false },
    );
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
