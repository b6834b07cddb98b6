ALTER TABLE `documents` ADD `flapping_since` integer;--> statement-breakpoint
ALTER TABLE `events` ADD `reverts_to_at` integer;--> statement-breakpoint
ALTER TABLE `events` ADD `undoes_id` text;--> statement-breakpoint
CREATE INDEX `events_document_detected` ON `events` (`document_id`,`detected_at`);