import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { intrinsicNoise } from '../../src/core/noise.js';
import type { ChangeEvent } from '../../src/core/event.js';

// A real history (Platform Governance Archive via Open Terms Archive, ODC-By 1.0; see
// test/fixtures/realdata/README.md), each event labelled on its full diff.
const events = fs
  .readFileSync(new URL('../fixtures/realdata/pga-noise.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as ChangeEvent & { label: string });

// Nothing changed for people: alerting one of these is a false alarm.
const HARD_NOISE = new Set(['links_only', 'whitespace', 'technical_upgrade', 'first_recorded']);

describe('the noise classifier on a real labelled history', () => {
  const judged = events.map((e) => ({ id: e.id, label: e.label, noise: intrinsicNoise(e) }));
  /** Of the events whose label passes `label`, the share whose verdict passes `verdict`, and their ids. */
  const share = (label: (l: string) => boolean, verdict: (n: string | null) => boolean) => {
    const of = judged.filter((j) => label(j.label));
    const hits = of.filter((j) => verdict(j.noise)).map((j) => j.id);
    return { rate: hits.length / of.length, hits };
  };

  it('holds the kinds of noise it is scored on', () => {
    const count = (label: string) => judged.filter((j) => j.label === label).length;
    for (const label of ['substantive', 'links_only', 'whitespace', 'date_only', 'technical_upgrade', 'first_recorded']) expect(count(label), label).toBeGreaterThan(5);
  });

  it('lets through at least 98 % of the substantive changes', () => {
    const heldBack = share((l) => l === 'substantive', (n) => n !== null);
    expect(1 - heldBack.rate, `held back: ${heldBack.hits.join(' ')}`).toBeGreaterThanOrEqual(0.98);
  });

  it('takes at most 2 % of the link, whitespace, re-extraction and first-record events for news', () => {
    const falseAlarms = share((l) => HARD_NOISE.has(l), (n) => n === null);
    expect(falseAlarms.rate, `let through: ${falseAlarms.hits.join(' ')}`).toBeLessThanOrEqual(0.02);
  });

  it('takes no date-only change for news, and calls it date_only (the digest mentions it, no alert does)', () => {
    expect(share((l) => l === 'date_only', (n) => n === null).hits).toEqual([]);
    expect(share((l) => l === 'date_only', (n) => n === 'date_only').rate).toBeGreaterThanOrEqual(0.9);
  });

  it('names the kind the history names for whitespace and links', () => {
    for (const kind of ['whitespace', 'links_only']) expect(share((l) => l === kind, (n) => n === kind).rate, kind).toBeGreaterThanOrEqual(0.9);
  });
});
