-- Digests enqueued before this migration record no seen_pk (the newest event when they were
-- enqueued), from which the next digest of their destination looks for late decisions. Each gets
-- the largest value that keeps every decision of its destination still untold from before its
-- end findable: one below the oldest such decision's event, or the newest event if there is none.
-- Computed while matches_digest_pending still finds a destination's untold decisions.
UPDATE `outbox` SET `payload` = json_set(coalesce(`payload`, '{}'), '$.seen_pk', coalesce(
  (SELECT min(m.event_pk) - 1 FROM `matches` m JOIN `events` e ON e.pk = m.event_pk
   WHERE m.destination_id = `outbox`.destination_id AND m.digest_state = 'pending' AND e.detected_at < (`outbox`.payload ->> 'end')),
  (SELECT coalesce(max(pk), 0) FROM `events`)))
WHERE `kind` = 'digest' AND (`payload` ->> 'seen_pk') IS NULL;--> statement-breakpoint
DROP INDEX `matches_digest_pending`;
