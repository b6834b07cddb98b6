ALTER TABLE `matches` ADD `digest_state` text DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE `matches` ADD `digest_outbox_id` integer;--> statement-breakpoint
CREATE INDEX `matches_digest_pending` ON `matches` (`destination_id`) WHERE digest_state = 'pending';--> statement-breakpoint
CREATE INDEX `matches_digest` ON `matches` (`digest_outbox_id`) WHERE digest_outbox_id IS NOT NULL;--> statement-breakpoint
-- Existing decisions: what the policy keeps from every digest stays out of them; what a digest
-- already covered (by its period, as digests were built before) is listed in that digest; so is
-- whatever is older than the destination's last digest or, with none yet, older than a week (a
-- digest that covered it was simply not recorded, and old news must not flood the next one).
-- The rest waits for the destination's next digest.
UPDATE `matches` SET `digest_state` = CASE
  WHEN `suppressed_reason` IN ('still_unreachable', 'already_restored', 'unsubscribed', 'destination_disabled') THEN 'none'
  ELSE 'pending' END;--> statement-breakpoint
UPDATE `matches` SET `digest_state` = 'listed', `digest_outbox_id` = (
    SELECT min(o.`id`) FROM `outbox` o JOIN `events` e ON e.`pk` = `matches`.`event_pk`
    WHERE o.`kind` = 'digest' AND o.`destination_id` = `matches`.`destination_id` AND o.`status` <> 'cancelled'
      AND e.`detected_at` >= (o.`payload` ->> 'start') AND e.`detected_at` < (o.`payload` ->> 'end'))
  WHERE `digest_state` = 'pending' AND EXISTS (
    SELECT 1 FROM `events` e WHERE e.`pk` = `matches`.`event_pk` AND e.`detected_at` < coalesce(
      (SELECT max(o.`payload` ->> 'end') FROM `outbox` o WHERE o.`kind` = 'digest' AND o.`destination_id` = `matches`.`destination_id` AND o.`status` <> 'cancelled'),
      cast(unixepoch('subsec') * 1000 as integer) - 604800000));
