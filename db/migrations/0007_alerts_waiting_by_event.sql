CREATE TABLE `alerts_waiting` (
	`event_pk` integer PRIMARY KEY NOT NULL,
	`since` integer NOT NULL
);
--> statement-breakpoint
-- The events of every decision still waiting to be grouped, found while matches_pending_since
-- still lists those decisions: grouping reads them from here from now on.
INSERT INTO `alerts_waiting` (`event_pk`, `since`)
SELECT `event_pk`, min(`created_at`) FROM `matches` WHERE `alert_state` = 'pending' GROUP BY `event_pk`;--> statement-breakpoint
DROP INDEX `matches_pending_since`;
