CREATE TABLE `accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`plan` text DEFAULT 'free' NOT NULL,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`digest_weekday` text NOT NULL,
	`digest_hour` integer NOT NULL,
	`reminder_days` integer DEFAULT 7 NOT NULL,
	`empty_digest` integer DEFAULT true NOT NULL,
	`slack_team` text,
	`discord_guild` text,
	`signup_address` text,
	`origin` text DEFAULT 'admin' NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `accounts_slack_team` ON `accounts` (`slack_team`);--> statement-breakpoint
CREATE UNIQUE INDEX `accounts_discord_guild` ON `accounts` (`discord_guild`);--> statement-breakpoint
CREATE UNIQUE INDEX `accounts_signup_address` ON `accounts` (`signup_address`);--> statement-breakpoint
CREATE INDEX `accounts_digest_schedule` ON `accounts` (`timezone`,`digest_weekday`,`digest_hour`);--> statement-breakpoint
CREATE TABLE `destinations` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`type` text NOT NULL,
	`target_key` text NOT NULL,
	`address` text,
	`slack_team` text,
	`slack_channel` text,
	`discord_guild` text,
	`discord_channel` text,
	`url` text,
	`secret` text,
	`previous_secret` text,
	`previous_secret_until` integer,
	`status` text NOT NULL,
	`disabled_reason` text,
	`disabled_at` integer,
	`confirmed_at` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `destinations_account_target` ON `destinations` (`account_id`,`target_key`);--> statement-breakpoint
CREATE INDEX `destinations_address` ON `destinations` (`address`);--> statement-breakpoint
CREATE INDEX `destinations_account` ON `destinations` (`account_id`,`status`);--> statement-breakpoint
CREATE TABLE `documents` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`platform_id` integer NOT NULL,
	`external_id` text,
	`title` text NOT NULL,
	`title_key` text NOT NULL,
	`url` text,
	`kind` text,
	`last_event_at` integer,
	`last_verified_at` integer,
	`last_sha256` text,
	`health` text DEFAULT 'ok' NOT NULL,
	`health_since` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`platform_id`) REFERENCES `platforms`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `documents_platform_title` ON `documents` (`platform_id`,`title_key`);--> statement-breakpoint
CREATE INDEX `documents_platform_external` ON `documents` (`platform_id`,`external_id`);--> statement-breakpoint
CREATE TABLE `events` (
	`pk` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`platform_id` integer NOT NULL,
	`document_id` integer NOT NULL,
	`severity` text NOT NULL,
	`severity_rank` integer NOT NULL,
	`kind` text NOT NULL,
	`technical_upgrade` integer DEFAULT false NOT NULL,
	`categories` text DEFAULT '[]' NOT NULL,
	`title` text NOT NULL,
	`detected_at` integer NOT NULL,
	`effective_at` text,
	`sha256` text,
	`previous_sha256` text,
	`suppressed_reason` text,
	`payload` text NOT NULL,
	`ingest_id` text NOT NULL,
	`received_at` integer NOT NULL,
	FOREIGN KEY (`platform_id`) REFERENCES `platforms`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`document_id`) REFERENCES `documents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_id_unique` ON `events` (`id`);--> statement-breakpoint
CREATE INDEX `events_platform_detected` ON `events` (`platform_id`,`detected_at`);--> statement-breakpoint
CREATE INDEX `events_detected` ON `events` (`detected_at`);--> statement-breakpoint
CREATE INDEX `events_ingest` ON `events` (`ingest_id`);--> statement-breakpoint
CREATE TABLE `matches` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event_pk` integer NOT NULL,
	`destination_id` text NOT NULL,
	`alert_state` text NOT NULL,
	`suppressed_reason` text,
	`outbox_id` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`event_pk`) REFERENCES `events`(`pk`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `matches_event_destination` ON `matches` (`event_pk`,`destination_id`);--> statement-breakpoint
CREATE INDEX `matches_pending_since` ON `matches` (`created_at`) WHERE alert_state = 'pending';--> statement-breakpoint
CREATE INDEX `matches_outbox` ON `matches` (`outbox_id`) WHERE outbox_id IS NOT NULL;--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`idempotency_key` text NOT NULL,
	`kind` text NOT NULL,
	`destination_id` text NOT NULL,
	`account_id` text NOT NULL,
	`channel` text NOT NULL,
	`status` text NOT NULL,
	`payload` text,
	`due_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`parts_sent` integer DEFAULT 0 NOT NULL,
	`lease_owner` text,
	`lease_until` integer,
	`last_error` text,
	`provider_id` text,
	`sent_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_idempotency_key_unique` ON `outbox` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `outbox_due` ON `outbox` (`status`,`due_at`);--> statement-breakpoint
CREATE INDEX `outbox_destination` ON `outbox` (`destination_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `outbox_account` ON `outbox` (`account_id`,`id`);--> statement-breakpoint
CREATE TABLE `platforms` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`slug` text NOT NULL,
	`name` text NOT NULL,
	`sector` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `platforms_slug_unique` ON `platforms` (`slug`);--> statement-breakpoint
CREATE TABLE `rate_limits` (
	`key` text PRIMARY KEY NOT NULL,
	`count` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `slack_installations` (
	`team_id` text PRIMARY KEY NOT NULL,
	`team_name` text,
	`bot_token` text NOT NULL,
	`bot_user_id` text,
	`bot_id` text,
	`installation` text NOT NULL,
	`installed_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `subscriptions` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`destination_id` text NOT NULL,
	`platform_id` integer NOT NULL,
	`min_severity_rank` integer DEFAULT 1 NOT NULL,
	`categories` text,
	`status` text DEFAULT 'active' NOT NULL,
	`destination_active` integer DEFAULT true NOT NULL,
	`same_day_alerts` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`destination_id`) REFERENCES `destinations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`platform_id`) REFERENCES `platforms`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `subscriptions_destination_platform` ON `subscriptions` (`destination_id`,`platform_id`);--> statement-breakpoint
CREATE INDEX `subscriptions_matching` ON `subscriptions` (`platform_id`,`status`,`destination_active`,`min_severity_rank`,`same_day_alerts`,`destination_id`,`categories`);--> statement-breakpoint
CREATE INDEX `subscriptions_account` ON `subscriptions` (`account_id`);