import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log.js';
import { mayDecide, transitionRefusal, validateDecision, type DecisionInput, type Refusal, type ReviewState } from '../core/review.js';
import { getAccount } from '../store/accounts.js';
import { recordDecision, reviewableChange } from '../store/reviews.js';

export interface DecideDeps {
  db: Db;
  clock: Clock;
  log: Logger;
}

export interface DecisionRequest {
  accountId: string;
  /** The destination whose message (or mail link) the decision came from. */
  destinationId: string | null;
  change: { eventId: string } | { eventPk: number };
  /** Discord: the member may manage subscriptions. */
  canManage?: boolean;
  input: DecisionInput;
}

export type DecisionOutcome = { ok: true; review: ReviewState } | { ok: false; refusal: Refusal; current?: ReviewState };

/**
 * Records one decision from any place (Slack, Discord, the review page) by the rules of
 * src/core/review.ts: who may decide, what the decision must carry, what it may follow. A refused
 * decision records nothing.
 */
export async function decideReview(deps: DecideDeps, req: DecisionRequest): Promise<DecisionOutcome> {
  const account = await getAccount(deps.db, req.accountId);
  if (!account) return { ok: false, refusal: { code: 'invalid', message: 'This account no longer exists.' } };
  const refused = mayDecide({ plan: account.plan, source: req.input.source, canManage: req.canManage });
  if (refused) return { ok: false, refusal: refused };
  const valid = validateDecision(req.input);
  if (!valid.ok) return { ok: false, refusal: valid.refusal };
  const change = await reviewableChange(deps.db, account.id, req.change);
  if (!change) return { ok: false, refusal: { code: 'invalid', message: 'This change was not alerted to this account, so it has no review.' } };
  const r = await recordDecision(deps.db, deps.clock, change, valid.value, req.destinationId);
  if (!r.ok) return { ok: false, refusal: transitionRefusal(r.current.status, valid.value.status)!, current: r.current };
  deps.log.info('review.decided', { accountId: account.id, eventId: change.eventId, status: r.review.status, source: r.review.source, destinationId: req.destinationId });
  return { ok: true, review: r.review };
}
