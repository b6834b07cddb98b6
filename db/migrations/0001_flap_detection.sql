ALTER TABLE `documents` ADD `flapping_since` integer;--> statement-breakpoint
ALTER TABLE `events` ADD `reverts_to_at` integer;--> statement-breakpoint
ALTER TABLE `events` ADD `undoes_id` text;--> statement-breakpoint
ALTER TABLE `events` ADD `undo_cancelled` integer DEFAULT false NOT NULL;