import { describe, expect, it } from 'vitest';
import { applyPlanLimit, canWatchPlatform, planLimitMessage, planUsage } from '../../src/core/plans.js';

let seq = 0;
const sub = (id: string, platformId: number, createdAt: number, status: 'active' | 'paused' = 'active') => ({ id, platformId, createdAt, status, seq: seq++ });

describe('plan rules', () => {
  it('lets an account add a platform below its limit, or one it already watches', () => {
    expect(canWatchPlatform('free', [], 7)).toBe(true);
    expect(canWatchPlatform('free', [7], 7)).toBe(true);
    expect(canWatchPlatform('free', [7], 8)).toBe(false);
    expect(canWatchPlatform('monitor', Array.from({ length: 24 }, (_, i) => i), 99)).toBe(true);
    expect(canWatchPlatform('monitor', Array.from({ length: 25 }, (_, i) => i), 99)).toBe(false);
  });

  it('keeps the oldest platforms on a downgrade, counting a platform once across destinations', () => {
    const subs = [sub('s1', 1, 10), sub('s2', 2, 20), sub('s3', 1, 30), sub('s4', 3, 40)];
    expect(applyPlanLimit('free', subs)).toEqual({ pause: ['s2', 's4'], resume: [] });
  });

  it('keeps the first made of subscriptions made in the same millisecond', () => {
    expect(applyPlanLimit('free', [sub('zz', 1, 10), sub('aa', 2, 10)])).toEqual({ pause: ['aa'], resume: [] });
  });

  it('resumes paused subscriptions on an upgrade', () => {
    const subs = [sub('s1', 1, 10), sub('s2', 2, 20, 'paused'), sub('s4', 3, 40, 'paused')];
    expect(applyPlanLimit('monitor', subs)).toEqual({ pause: [], resume: ['s2', 's4'] });
  });

  it('names the limit and the upgrade in its refusal', () => {
    expect(planLimitMessage('free')).toBe('The free plan includes 1 platform. Upgrade to monitor for up to 25 platforms and same-day alerts.');
    expect(planLimitMessage('monitor')).toMatch(/monitor plan includes 25 platforms/);
    expect(planUsage('monitor', 3)).toBe('3 of 25 platforms');
  });
});
