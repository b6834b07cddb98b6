CREATE TABLE `review_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` text NOT NULL,
	`event_pk` integer NOT NULL,
	`status` text NOT NULL,
	`source` text NOT NULL,
	`destination_id` text,
	`actor_id` text,
	`actor_name` text NOT NULL,
	`assignee_id` text,
	`assignee_name` text,
	`reason` text,
	`decided_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_pk`) REFERENCES `events`(`pk`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `review_history_change` ON `review_history` (`account_id`,`event_pk`,`id`);--> statement-breakpoint
-- The trail is evidence for an auditor: the database itself refuses to rewrite or remove it.
CREATE TRIGGER `review_history_no_update` BEFORE UPDATE ON `review_history` BEGIN SELECT RAISE(ABORT, 'review_history is append-only'); END;--> statement-breakpoint
CREATE TRIGGER `review_history_no_delete` BEFORE DELETE ON `review_history` BEGIN SELECT RAISE(ABORT, 'review_history is append-only'); END;
