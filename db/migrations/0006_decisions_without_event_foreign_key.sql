-- Decisions keep their event's pk without a foreign key: matching writes each row from the event it
-- reads in the same statement and events are never deleted, while the parent look-up per row cost
-- a quarter of a 31,000-decision ingest's INSERT. SQLite drops a constraint only by rebuilding the table.
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_matches` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event_pk` integer NOT NULL,
	`destination_id` text NOT NULL,
	`alert_state` text NOT NULL,
	`suppressed_reason` text,
	`outbox_id` integer,
	`digest_state` text DEFAULT 'none' NOT NULL,
	`digest_outbox_id` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_matches`("id", "event_pk", "destination_id", "alert_state", "suppressed_reason", "outbox_id", "digest_state", "digest_outbox_id", "created_at") SELECT "id", "event_pk", "destination_id", "alert_state", "suppressed_reason", "outbox_id", "digest_state", "digest_outbox_id", "created_at" FROM `matches`;--> statement-breakpoint
-- AUTOINCREMENT's high-water mark moves with the rows: an id once handed out is never handed out again.
DELETE FROM `sqlite_sequence` WHERE `name` = '__new_matches';--> statement-breakpoint
INSERT INTO `sqlite_sequence` (`name`, `seq`) SELECT '__new_matches', `seq` FROM `sqlite_sequence` WHERE `name` = 'matches';--> statement-breakpoint
DROP TABLE `matches`;--> statement-breakpoint
ALTER TABLE `__new_matches` RENAME TO `matches`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `matches_event_destination` ON `matches` (`event_pk`,`destination_id`);--> statement-breakpoint
CREATE INDEX `matches_digest` ON `matches` (`digest_outbox_id`) WHERE digest_outbox_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX `matches_pending_since` ON `matches` (`created_at`) WHERE alert_state = 'pending';--> statement-breakpoint
CREATE INDEX `matches_outbox` ON `matches` (`outbox_id`) WHERE outbox_id IS NOT NULL;