import { describe, expect, it } from 'vitest';
import { canFollowUp, lifecycleNotes, lifecycleSentence } from '../../src/core/lifecycle.js';
import { changeItemFromEvent } from '../../src/core/message.js';
import { makeEvent } from '../support/app.js';

const at = (iso: string) => Date.parse(iso);
const item = (id: string, detected: string, provision?: string, revertsToAt?: number, document = 'D-1') =>
  changeItemFromEvent(makeEvent({ id, detected_at: detected, document: { id: document, title: 'Terms' }, ...(provision ? { provision: { id: provision } } : {}) }), 'OpenAI', revertsToAt);

describe('which changes of an alert its follow-ups revert or supersede', () => {
  it('marks the changes a reversion undoes: of its document, made after the version it returns to', () => {
    const root = [item('c1', '2026-11-28T09:00:00Z'), item('other-doc', '2026-11-28T09:00:00Z', undefined, undefined, 'D-2')];
    const undo = item('undo', '2026-11-30T10:00:00Z', undefined, at('2026-11-25T09:00:00Z'));
    expect([...lifecycleNotes(root, [{ action: 'reverted', change: undo }])]).toEqual([
      ['c1', { action: 'reverted', at: at('2026-11-30T10:00:00Z'), backToVersionOf: at('2026-11-25T09:00:00Z') }],
    ]);
  });

  it('leaves a change in force that a reversion returns to (its version is back)', () => {
    const root = [item('c1', '2026-11-28T09:00:00Z', 'sec-17')];
    const followUps = [
      { action: 'superseded' as const, change: item('c2', '2026-11-29T09:00:00Z', 'sec-17') },
      { action: 'reverted' as const, change: item('undo', '2026-11-30T09:00:00Z', 'sec-17', at('2026-11-28T09:00:00Z')) },
    ];
    expect(lifecycleNotes(root, followUps.slice(0, 1)).get('c1')).toMatchObject({ action: 'superseded' });
    expect(lifecycleNotes(root, followUps).has('c1')).toBe(false);
  });

  it('marks only the earlier versions of the same clause as superseded', () => {
    const root = [item('c1', '2026-11-28T09:00:00Z', 'sec-17'), item('c9', '2026-11-28T09:00:00Z', 'sec-9'), item('whole', '2026-11-28T09:00:00Z')];
    const notes = lifecycleNotes(root, [{ action: 'superseded', change: item('c2', '2026-11-29T09:00:00Z', 'sec-17') }]);
    expect([...notes.keys()]).toEqual(['c1']);
  });

  it('says what happened in the reader’s words', () => {
    expect(lifecycleSentence({ action: 'reverted', at: at('2026-12-03T10:00:00Z'), backToVersionOf: at('2026-11-28T09:00:00Z') }, 'UTC')).toBe(
      'Reverted on 3 Dec 2026: the clause is back to the version of 28 Nov 2026',
    );
    expect(lifecycleSentence({ action: 'superseded', at: at('2026-12-03T10:00:00Z') }, 'UTC')).toBe('Superseded on 3 Dec 2026: the new version is in the thread');
  });

  it('looks for an alert to follow up only for reversions and changes that name a clause', () => {
    expect(canFollowUp({ kind: 'changed', revertsToAt: 1 })).toBe(true);
    expect(canFollowUp({ kind: 'changed', provisionId: 'sec-17', revertsToAt: null })).toBe(true);
    expect(canFollowUp({ kind: 'changed', revertsToAt: null })).toBe(false);
    expect(canFollowUp({ kind: 'unreachable', provisionId: 'sec-17', revertsToAt: null })).toBe(false);
  });
});
