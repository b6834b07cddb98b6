import { describe, expect, it } from 'vitest';
import { buildAlert, changeItemFromEvent } from '../../src/core/message.js';
import { renderWebhookPayload } from '../../src/render/webhook.js';
import { webhookBody, webhookRenderers } from '../../src/delivery/channels/webhook/render.js';
import { makeEvent } from '../support/app.js';

const links = { unsubscribe: '', manage: '' };
const destination = { type: 'webhook' as const, url: 'https://hooks.example/a', secret: 'whsec_x' };
const ctx = { cache: new Map<string, string>() };
const items = [changeItemFromEvent(makeEvent({ id: 'wb1', title: 'Arbitration <now> "binding"' }), 'OpenAI'), changeItemFromEvent(makeEvent({ id: 'wb2', severity: 'low' }), 'OpenAI')];
const body = (alert: ReturnType<typeof buildAlert>, id = 'msg_1') => new TextDecoder().decode(webhookBody(webhookRenderers.alert(alert, destination, ctx)[0]!, id));

describe('webhook bodies', () => {
  it('are the JSON of the payload with its webhook-id, built once for a fan-out and dated per message', () => {
    const first = buildAlert(items, { timeZone: 'UTC', now: Date.parse('2026-11-25T12:00:00Z') }, links, 'monitor');
    expect(body(first)).toBe(JSON.stringify({ ...renderWebhookPayload(first), id: 'msg_1' }));
    // The same changes a moment later, to another destination: the cached data, its own time and id.
    const later = buildAlert(items, { timeZone: 'Europe/Paris', now: Date.parse('2026-11-25T12:00:01Z') }, links, 'monitor');
    expect(body(later, 'msg_2')).toBe(JSON.stringify({ ...renderWebhookPayload(later), id: 'msg_2' }));
    expect(JSON.parse(body(later, 'msg_2')).created_at).toBe('2026-11-25T12:00:01.000Z');
  });

  it('differ when a change is marked differently, is left out, or the message is a budget or a reminder', () => {
    const now = { timeZone: 'UTC', now: Date.parse('2026-11-25T12:00:00Z') };
    const plain = buildAlert(items, now, links, 'monitor');
    const variants = [
      buildAlert([{ ...items[0]!, revertsToAt: Date.parse('2026-11-01T00:00:00Z') }, items[1]!], now, links, 'monitor'),
      buildAlert([{ ...items[0]!, reportedLate: true }, items[1]!], now, links, 'monitor'),
      buildAlert(items.slice(0, 1), now, links, 'monitor'),
      { ...plain, budget: true },
      { ...plain, reminder: true },
    ];
    body(plain);
    for (const v of variants) expect(body(v)).toBe(JSON.stringify({ ...renderWebhookPayload(v), id: 'msg_1' }));
    expect(new Set([plain, ...variants].map((v) => body(v))).size).toBe(6);
  });
});
