import { describe, expect, it } from 'vitest';
import { buildAlert, changeItemFromEvent } from '../../src/core/message.js';
import { renderAlertSlack, SLACK_LIMITS } from '../../src/render/slack.js';
import { makeEvent } from '../support/app.js';

describe('a Slack section at its 3,000 characters', () => {
  it('cuts the summary, never the effective date, the diff or the evidence and its links', () => {
    const c = changeItemFromEvent(
      makeEvent({
        id: 'long',
        summary: 'Fees & charges <apply> '.repeat(300),
        impact: 'Matters.',
        effective_at: '2026-12-30',
        change_url: 'https://tracker.test/c/1',
        diff: { removed: ['Old clause.'], added: ['New clause.'] },
        evidence: { sha256: 'a'.repeat(64), archive_url: 'https://archive.test/x' },
      }),
      'OpenAI',
    );
    const [m] = renderAlertSlack(buildAlert([c], { timeZone: 'UTC', now: Date.parse('2026-11-25T00:00:00Z') }, { unsubscribe: 'u', manage: 'm' }, 'monitor'));
    const text = (m!.blocks[1] as { text: { text: string } }).text.text;
    expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(text).toContain('Effective 30 Dec 2026');
    expect(text).toContain('> New clause.');
    expect(text).toContain('<https://archive.test/x|archived copy>');
    expect(text).toContain('<https://tracker.test/c/1|change record>');
    expect(text).toMatch(/Fees &amp; charges &lt;apply&gt; .*…/s);
    expect(text).not.toMatch(/&[a-z]*…/); // never cut inside an entity
  });
});
