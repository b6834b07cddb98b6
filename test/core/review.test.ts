import { describe, expect, it } from 'vitest';
import { DECISIONS, REVIEW_STATUSES, decisionLine, mayDecide, transitionRefusal, validateDecision } from '../../src/core/review.js';
import { REVIEW_STATUSES as STORED_STATUSES } from '../../db/schema.js';
import { csvCell, csvRow } from '../../src/render/csv.js';

describe('review rules', () => {
  it('are the statuses the schema stores', () => {
    expect([...REVIEW_STATUSES]).toEqual([...STORED_STATUSES]);
  });

  it('let monitor accounts decide; on Discord only members who may manage subscriptions', () => {
    expect(mayDecide({ plan: 'free', source: 'page' })?.code).toBe('plan');
    expect(mayDecide({ plan: 'monitor', source: 'page' })).toBeNull();
    expect(mayDecide({ plan: 'monitor', source: 'slack' })).toBeNull();
    expect(mayDecide({ plan: 'monitor', source: 'discord', canManage: false })?.code).toBe('permission');
    expect(mayDecide({ plan: 'monitor', source: 'discord', canManage: true })).toBeNull();
  });

  it('let a decision follow any status, but no assignment follow a decision', () => {
    for (const from of REVIEW_STATUSES) {
      expect(transitionRefusal(from, 'reviewed')).toBeNull();
      expect(transitionRefusal(from, 'not_applicable')).toBeNull();
    }
    expect(transitionRefusal('open', 'assigned')).toBeNull();
    expect(transitionRefusal('assigned', 'assigned')).toBeNull();
    expect(transitionRefusal('reviewed', 'assigned')?.message).toContain('already reviewed');
    expect(transitionRefusal('not_applicable', 'assigned')?.message).toContain('already not applicable');
  });

  it('validate names and reasons by their length in characters, after trimming', () => {
    const base = { status: 'reviewed', source: 'page' as const, actorName: '  Maria \n Rossi ' };
    expect(validateDecision(base)).toMatchObject({ ok: true, value: { actorName: 'Maria Rossi', reason: null } });
    expect(validateDecision({ ...base, actorName: 'ü'.repeat(120) }).ok).toBe(true);
    expect(validateDecision({ ...base, actorName: 'ü'.repeat(121) }).ok).toBe(false);
    expect(validateDecision({ ...base, status: 'not_applicable', reason: ' ' }).ok).toBe(false);
    expect(validateDecision({ ...base, status: 'not_applicable', reason: '😀'.repeat(500) }).ok).toBe(true);
    expect(validateDecision({ ...base, status: 'not_applicable', reason: '😀'.repeat(501) }).ok).toBe(false);
    expect(validateDecision({ ...base, status: 'assigned' }).ok).toBe(false);
    expect(validateDecision({ ...base, status: 'assigned', assigneeId: 'U0002' })).toMatchObject({ ok: true, value: { assigneeId: 'U0002', assigneeName: 'U0002' } });
    // What a decision does not carry is not kept.
    expect(validateDecision({ ...base, assigneeId: 'U0002', assigneeName: 'Jon' })).toMatchObject({ ok: true, value: { assigneeId: null, assigneeName: null } });
    expect(validateDecision({ ...base, status: 'open' }).ok).toBe(false);
    expect(Object.keys(DECISIONS)).toEqual(['reviewed', 'not_applicable', 'assigned']);
  });

  it('say who decided what and when, in the reader’s time zone', () => {
    const at = Date.parse('2026-12-02T09:14:00Z');
    expect(decisionLine({ status: 'reviewed', actorName: 'maria', decidedAt: at }, 'UTC')).toBe('Reviewed by maria, 2 Dec 09:14');
    expect(decisionLine({ status: 'not_applicable', actorName: 'maria', decidedAt: at, reason: 'Not ours' }, 'Europe/Berlin')).toBe('Not applicable by maria, 2 Dec 10:14: Not ours');
    expect(decisionLine({ status: 'assigned', actorName: 'maria', assigneeName: 'jon', decidedAt: at }, 'UTC')).toBe('Assigned to jon by maria, 2 Dec 09:14');
    expect(decisionLine({ status: 'open' }, 'UTC')).toBeUndefined();
  });
});

describe('CSV cells', () => {
  it('quote as RFC 4180 says and defuse formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    for (const start of ['=', '+', '-', '@', '\t', '\r']) expect(csvCell(`${start}1+1`).replace(/^"/, '')).toMatch(/^'/);
    expect(csvCell(null)).toBe('');
    expect(csvRow(['a', null, 3])).toBe('a,,3\r\n');
  });
});
