import { describe, expect, it } from 'vitest';
import { buildAlert, changeItemFromEvent } from '../../src/core/message.js';
import { buildDigest } from '../../src/core/digest.js';
import { renderAlertSlack, renderDigestSlack } from '../../src/render/slack.js';
import { renderAlertDiscord, renderDigestDiscord } from '../../src/render/discord.js';
import { renderWebhookPayload } from '../../src/render/webhook.js';
import { makeEvent } from '../support/app.js';

const reader = { timeZone: 'America/New_York', now: Date.parse('2026-11-25T12:00:00Z') };
const links = { unsubscribe: 'https://cw.test/u', manage: 'https://cw.test/m' };
// The version returned to appeared late on 20 Nov in UTC: still 20 Nov in New York.
const revertsToAt = Date.parse('2026-11-21T03:00:00Z');
const reversion = changeItemFromEvent(makeEvent({ id: 'r1', severity: 'high', title: 'Arbitration clause restored' }), 'OpenAI', revertsToAt);

describe('reversions and flapping in every channel', () => {
  it('shows a reversion at low severity, dated in the reader’s zone, in Slack, Discord and webhooks', () => {
    expect(reversion.severity).toBe('low');
    const alert = buildAlert([reversion], reader, links, 'monitor');
    expect(JSON.stringify(renderAlertSlack(alert))).toContain('Reverted to the version of 20 Nov 2026');
    expect(JSON.stringify(renderAlertDiscord(alert))).toContain('Reverted to the version of 20 Nov 2026');
    const hook = renderWebhookPayload(alert)!;
    const [change] = hook.data.changes as any[];
    expect(change.severity).toBe('high'); // the producer's event, unchanged…
    expect(change.clausewatch).toEqual({ reversion: true, reverted_to_version_of: '2026-11-21T03:00:00.000Z', shown_severity: 'low' }); // …and what we made of it
  });

  it('puts a flapping document in the digest’s monitoring section as one escaped line', () => {
    const digest = buildDigest({
      period: { key: '2026-11-23', start: Date.parse('2026-11-16T14:00:00Z'), end: Date.parse('2026-11-23T14:00:00Z') },
      items: [],
      watched: [],
      upcoming: [],
      quiet: { technical: 0 },
      flapping: [{ platform: { slug: 'openai', name: 'OpenAI' }, document: 'ChatGPT <!channel> Terms @everyone', flips: 9, versions: 2 }],
      reader,
      links: { ...links, view: 'https://cw.test/v' },
      plan: 'monitor',
    });
    const slack = JSON.stringify(renderDigestSlack(digest));
    expect(slack).toContain('flapped 9 times this week between 2 versions');
    expect(slack).not.toContain('<!channel>');
    const discord = JSON.stringify(renderDigestDiscord(digest));
    expect(discord).toContain('flapped 9 times this week between 2 versions');
    expect(discord).not.toContain(' @everyone');
    expect((renderWebhookPayload(digest)!.data as any).flapping).toEqual([{ platform: { slug: 'openai', name: 'OpenAI' }, document: 'ChatGPT <!channel> Terms @everyone', flips: 9, versions: 2 }]);
  });
});
