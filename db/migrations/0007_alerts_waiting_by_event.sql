CREATE TABLE `alerts_waiting` (
	`event_pk` integer PRIMARY KEY NOT NULL,
	`since` integer NOT NULL
);
--> statement-breakpoint
-- The events of every decision still waiting to be grouped, read through matches_pending_since
-- while it still lists those decisions (left to itself, with no statistics, the planner walks
-- every decision in the (event, destination) key's order to skip the GROUP BY's sort): grouping
-- reads them from here from now on.
INSERT INTO `alerts_waiting` (`event_pk`, `since`)
SELECT `event_pk`, min(`created_at`) FROM `matches` INDEXED BY `matches_pending_since`
WHERE `alert_state` = 'pending' GROUP BY `event_pk`;--> statement-breakpoint
DROP INDEX `matches_pending_since`;
