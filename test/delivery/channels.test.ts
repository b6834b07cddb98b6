import { describe, expect, it } from 'vitest';
import type { Renderers } from '../../src/delivery/channel.js';
import { perKeyPacer } from '../../src/delivery/pacing.js';
import type { SlackDestination } from '../../src/delivery/channels/slack/destination.js';
import type { SlackMessage } from '../../src/render/slack.js';
import { parseDestination } from '../../src/delivery/channels/destination.js';
import { fixedClock } from '../support/clock.js';

describe('the channel interface', () => {
  it('makes a content kind a channel declares but cannot render a type error', () => {
    // @ts-expect-error a channel that shows digests has a digest renderer
    const missing: Renderers<SlackDestination, SlackMessage, 'alert' | 'digest'> = { alert: () => [] };
    expect(Object.keys(missing)).toEqual(['alert']);
  });

  it('parses a stored row into its channel destination, and names what an incomplete one lacks', () => {
    const row = { type: 'slack', slackTeam: 'T0001', slackChannel: 'C0001' } as Parameters<typeof parseDestination>[0];
    expect(parseDestination(row)).toEqual({ ok: true, destination: { type: 'slack', team: 'T0001', channel: 'C0001' } });
    expect(parseDestination({ ...row, slackChannel: null })).toEqual({ ok: false, reason: 'the stored slack destination is incomplete (channel)' });
  });
});

describe('pacing', () => {
  it('spaces sends to one key by the clock it is given', async () => {
    const clock = fixedClock(0);
    const pace = perKeyPacer(clock, 300);
    let t = Date.now();
    await pace('C1');
    await pace('C2');
    expect(Date.now() - t).toBeLessThan(150);
    // The clock stood still: the next send to C1 waits out the interval.
    t = Date.now();
    await pace('C1');
    expect(Date.now() - t).toBeGreaterThanOrEqual(250);
    // The clock moved past the interval: no wait.
    clock.advance(1_000);
    t = Date.now();
    await pace('C1');
    expect(Date.now() - t).toBeLessThan(150);
  });
});
