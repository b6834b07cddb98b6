CREATE TABLE `decisions_unsettled` (
	`id` integer PRIMARY KEY NOT NULL,
	`event_pk` integer NOT NULL,
	`platform_id` integer NOT NULL,
	`min_severity_rank` integer NOT NULL,
	`same_day_alerts` integer NOT NULL,
	`categories` text,
	`alert_state` text NOT NULL,
	`suppressed_reason` text,
	`digest_state` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `decisions_unsettled_event` ON `decisions_unsettled` (`event_pk`);--> statement-breakpoint
-- Written by hand (drizzle-kit writes no views or triggers). A group decision settled onto the
-- group's members: the subscriptions matching decides for (activeSubscriber in
-- src/ingest/match.ts) whose key is the group's. Read in `queue_id` order (the queue scanned
-- first, no sort), so the rows' ids follow the events' order as when matching wrote them itself.
-- The one definition the settling statement of src/ingest/settle.ts and the triggers below read.
-- A rebuild of `subscriptions` must drop this view first (its rename fails while the view names
-- the table) and create it again, with the triggers.
CREATE VIEW `decisions_settling` AS
SELECT x.`id` AS `queue_id`, x.`event_pk`, t.`destination_id`, x.`alert_state`, x.`suppressed_reason`, x.`digest_state`, x.`created_at`
FROM `decisions_unsettled` x
CROSS JOIN `subscriptions` t ON t.`platform_id` = x.`platform_id` AND t.`status` = 'active' AND t.`destination_active` = 1
  AND t.`min_severity_rank` = x.`min_severity_rank` AND t.`same_day_alerts` = x.`same_day_alerts` AND t.`categories` IS x.`categories`;
--> statement-breakpoint
-- Before any change to who is in a group, what the groups decided is settled onto the members
-- they have: a subscriber who joins after a change arrived is no member of its decision, one who
-- leaves or changes filters still was (and the withdrawals of src/store/ then find its row).
CREATE TRIGGER `decisions_settle_before_insert` BEFORE INSERT ON `subscriptions`
WHEN EXISTS (SELECT 1 FROM `decisions_unsettled`)
BEGIN
  INSERT INTO `matches` (`event_pk`, `destination_id`, `alert_state`, `suppressed_reason`, `digest_state`, `created_at`)
  SELECT `event_pk`, `destination_id`, `alert_state`, `suppressed_reason`, `digest_state`, `created_at` FROM `decisions_settling`
  ORDER BY `queue_id`
  ON CONFLICT DO NOTHING;
  DELETE FROM `decisions_unsettled`;
END;
--> statement-breakpoint
CREATE TRIGGER `decisions_settle_before_update` BEFORE UPDATE OF `status`, `destination_active`, `platform_id`, `min_severity_rank`, `same_day_alerts`, `categories`, `destination_id` ON `subscriptions`
WHEN EXISTS (SELECT 1 FROM `decisions_unsettled`)
BEGIN
  INSERT INTO `matches` (`event_pk`, `destination_id`, `alert_state`, `suppressed_reason`, `digest_state`, `created_at`)
  SELECT `event_pk`, `destination_id`, `alert_state`, `suppressed_reason`, `digest_state`, `created_at` FROM `decisions_settling`
  ORDER BY `queue_id`
  ON CONFLICT DO NOTHING;
  DELETE FROM `decisions_unsettled`;
END;
--> statement-breakpoint
CREATE TRIGGER `decisions_settle_before_delete` BEFORE DELETE ON `subscriptions`
WHEN EXISTS (SELECT 1 FROM `decisions_unsettled`)
BEGIN
  INSERT INTO `matches` (`event_pk`, `destination_id`, `alert_state`, `suppressed_reason`, `digest_state`, `created_at`)
  SELECT `event_pk`, `destination_id`, `alert_state`, `suppressed_reason`, `digest_state`, `created_at` FROM `decisions_settling`
  ORDER BY `queue_id`
  ON CONFLICT DO NOTHING;
  DELETE FROM `decisions_unsettled`;
END;
