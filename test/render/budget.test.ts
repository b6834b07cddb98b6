import { describe, expect, it } from 'vitest';
import { buildAlert, changeItemFromEvent } from '../../src/core/message.js';
import { renderAlertSlack } from '../../src/render/slack.js';
import { embedSize, renderAlertDiscord } from '../../src/render/discord.js';
import { renderWebhookPayload } from '../../src/render/webhook.js';
import { makeEvent } from '../support/app.js';

const reader = { timeZone: 'UTC', now: Date.parse('2026-11-25T23:59:00Z') };
const links = { unsubscribe: 'https://cw.test/u', manage: 'https://cw.test/m' };
const items = Array.from({ length: 60 }, (_, i) =>
  changeItemFromEvent(makeEvent({ id: `e${i}`, title: i === 0 ? 'Fees <!channel> @everyone' : `Change ${i}`, summary: 'x'.repeat(2_000), change_url: `https://tracker.test/c/${i}` }), 'OpenAI'),
);
const budget = { ...buildAlert(items, reader, links, 'monitor'), budget: true };

describe('the day’s changes past the alert limit', () => {
  it('are one Slack message listing each change with its link, not the changes in full', () => {
    const messages = renderAlertSlack(budget);
    expect(messages).toHaveLength(1);
    const text = JSON.stringify(messages[0]!.blocks);
    expect(messages[0]!.blocks[0]).toMatchObject({ type: 'header', text: { text: "60 more policy changes today (past today's alert limit)" } });
    for (const i of [1, 30, 59]) expect(text).toContain(`<https://tracker.test/c/${i}|Change ${i}>`);
    expect(text).not.toContain('xxxxxxxxxx'); // no summaries
    expect(text).toContain('Fees &lt;!channel&gt; @everyone');
  });

  it('are one Discord embed listing the changes within its limits', () => {
    const messages = renderAlertDiscord(budget);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.embeds).toHaveLength(1);
    const e = messages[0]!.embeds[0]!;
    expect(e.title).toMatch(/^60 more policy changes today/);
    expect(e.description).toMatch(/\[Change \d+\]\(https:\/\/tracker\.test\/c\/\d+\)/);
    // What does not fit is counted; all of it is in the digest.
    const shown = (e.description!.match(/\]\(https:\/\/tracker\.test/g) ?? []).length;
    expect(e.description!.endsWith(`…and ${60 - shown} more`)).toBe(true);
    expect(embedSize(e)).toBeLessThanOrEqual(6000);
    expect(e.description).not.toContain('@everyone');
  });

  it('are marked as such in the webhook payload', () => {
    expect(renderWebhookPayload(budget)!.data.budget).toBe(true);
    expect(renderWebhookPayload(buildAlert(items, reader, links, 'monitor'))!.data.budget).toBeUndefined();
  });

  it('never read “0 more changes” when only monitoring notices went past the limit', () => {
    const notice = changeItemFromEvent(makeEvent({ id: 'n', kind: 'unreachable', severity: 'low' }), 'OpenAI');
    const onlyNotices = { ...buildAlert([notice], reader, links, 'monitor'), budget: true };
    expect(JSON.stringify(renderAlertSlack(onlyNotices))).not.toContain('0 more');
    expect(JSON.stringify(renderAlertDiscord(onlyNotices))).not.toContain('0 more');
  });
});

describe('reminders in chat', () => {
  it('say they are reminders in the Slack header and the Discord message', () => {
    const c = changeItemFromEvent(makeEvent({ id: 'r', title: 'Arbitration', effective_at: '2026-12-02' }), 'OpenAI');
    const reminder = { ...buildAlert([c], reader, links, 'monitor'), reminder: true };
    expect(renderAlertSlack(reminder)[0]!.blocks[0]).toMatchObject({ type: 'header', text: { text: expect.stringMatching(/^Reminder: OpenAI .* takes effect in 7 days$/) } });
    expect(renderAlertDiscord(reminder)[0]!.content).toMatch(/^Reminder: OpenAI .* takes effect in 7 days$/);
  });
});
