/**
 * Plan rules, in one place. Everything that asks "may this account do X" asks here.
 */
export const PLAN_NAMES = ['free', 'monitor'] as const;
export type PlanName = (typeof PLAN_NAMES)[number];

export interface Plan {
  name: PlanName;
  platformLimit: number;
  sameDayAlerts: boolean;
  weeklyDigest: boolean;
}

export const PLANS: Record<PlanName, Plan> = {
  free: { name: 'free', platformLimit: 1, sameDayAlerts: false, weeklyDigest: true },
  monitor: { name: 'monitor', platformLimit: 25, sameDayAlerts: true, weeklyDigest: true },
};

export function isPlanName(value: string): value is PlanName {
  return (PLAN_NAMES as readonly string[]).includes(value);
}

/** The plan one step up, if any: what an "upgrade" message points to. */
export function upgradeFor(plan: PlanName): Plan | undefined {
  return plan === 'free' ? PLANS.monitor : undefined;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The refusal a person reads when a new platform would exceed the plan (HTTP 402 and chat). */
export function planLimitMessage(plan: PlanName): string {
  const p = PLANS[plan];
  const up = upgradeFor(plan);
  const base = `The ${p.name} plan includes ${plural(p.platformLimit, 'platform')}.`;
  return up
    ? `${base} Upgrade to ${up.name} for up to ${plural(up.platformLimit, 'platform')} and same-day alerts.`
    : `${base} Unsubscribe from a platform to add another.`;
}

/** "3 of 25 platforms": the usage line of `list` and of the manage page. */
export function planUsage(plan: PlanName, platformsInUse: number): string {
  return `${platformsInUse} of ${plural(PLANS[plan].platformLimit, 'platform')}`;
}

/** May an account with these platforms already watched add `platformId`? */
export function canWatchPlatform(plan: PlanName, watchedPlatformIds: readonly number[], platformId: number): boolean {
  const watched = new Set(watchedPlatformIds);
  return watched.has(platformId) || watched.size < PLANS[plan].platformLimit;
}

export interface SubscriptionForLimit {
  id: string;
  platformId: number;
  createdAt: number;
  /** Insertion order, to break ties between subscriptions made in the same millisecond. */
  seq: number;
  /** `paused` by a plan change; subscriptions paused for other reasons are not the plan's to resume. */
  status: 'active' | 'paused';
}

/**
 * After a plan change, which subscriptions stay active: those of the account's oldest platforms
 * (by first subscription), up to the plan's limit. The rest are paused, never deleted, so an
 * upgrade brings them back exactly as they were.
 */
export function applyPlanLimit(
  plan: PlanName,
  subscriptions: readonly SubscriptionForLimit[],
): { resume: string[]; pause: string[] } {
  const firstSeen = new Map<number, { createdAt: number; seq: number }>();
  for (const s of subscriptions) {
    const seen = firstSeen.get(s.platformId);
    if (!seen || s.createdAt < seen.createdAt || (s.createdAt === seen.createdAt && s.seq < seen.seq)) {
      firstSeen.set(s.platformId, { createdAt: s.createdAt, seq: s.seq });
    }
  }
  const kept = new Set(
    [...firstSeen.entries()]
      .sort(([, a], [, b]) => a.createdAt - b.createdAt || a.seq - b.seq)
      .slice(0, PLANS[plan].platformLimit)
      .map(([platformId]) => platformId),
  );
  const resume: string[] = [];
  const pause: string[] = [];
  for (const s of subscriptions) {
    if (kept.has(s.platformId) && s.status === 'paused') resume.push(s.id);
    if (!kept.has(s.platformId) && s.status === 'active') pause.push(s.id);
  }
  return { resume, pause };
}
