CREATE TABLE `subscriber_groups` (
	`id` integer PRIMARY KEY NOT NULL,
	`platform_id` integer NOT NULL,
	`min_severity_rank` integer NOT NULL,
	`same_day_alerts` integer NOT NULL,
	`categories` text,
	`subscribers` integer NOT NULL
);
--> statement-breakpoint
-- Written by hand: drizzle-kit splits the key's expressions. Every-category groups (NULL) are one,
-- and told apart from any text, as matching's `categories IS …` tells them.
CREATE UNIQUE INDEX `subscriber_groups_key` ON `subscriber_groups` (`platform_id`,`min_severity_rank`,`same_day_alerts`,`categories` IS NULL,coalesce(`categories`, ''));
--> statement-breakpoint
-- The groups of today's active subscriptions; from here on the triggers below keep the counts.
INSERT INTO `subscriber_groups` (`platform_id`, `min_severity_rank`, `same_day_alerts`, `categories`, `subscribers`)
SELECT `platform_id`, `min_severity_rank`, `same_day_alerts`, `categories`, count(*) FROM `subscriptions`
WHERE `status` = 'active' AND `destination_active` = 1 GROUP BY 1, 2, 3, 4;
--> statement-breakpoint
-- An active subscription is one with status 'active' whose destination is active: the subscribers
-- matching reads (activeSubscriber in src/ingest/match.ts). Each trigger counts a row out of the
-- group it was in and into the one it is in now, when it is active there. REPLACE would bypass
-- them (its deletions fire no delete trigger while recursive_triggers is off, as on D1): nothing
-- writes subscriptions with it, and a test holds src/ to that.
CREATE TRIGGER `subscriber_groups_insert` AFTER INSERT ON `subscriptions`
WHEN NEW.`status` = 'active' AND NEW.`destination_active` = 1
BEGIN
  INSERT INTO `subscriber_groups` (`platform_id`, `min_severity_rank`, `same_day_alerts`, `categories`, `subscribers`)
  VALUES (NEW.`platform_id`, NEW.`min_severity_rank`, NEW.`same_day_alerts`, NEW.`categories`, 1)
  ON CONFLICT (`platform_id`, `min_severity_rank`, `same_day_alerts`, `categories` IS NULL, coalesce(`categories`, '')) DO UPDATE SET `subscribers` = `subscribers` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `subscriber_groups_delete` AFTER DELETE ON `subscriptions`
WHEN OLD.`status` = 'active' AND OLD.`destination_active` = 1
BEGIN
  UPDATE `subscriber_groups` SET `subscribers` = `subscribers` - 1
  WHERE `platform_id` = OLD.`platform_id` AND `min_severity_rank` = OLD.`min_severity_rank`
    AND `same_day_alerts` = OLD.`same_day_alerts` AND `categories` IS OLD.`categories`;
END;
--> statement-breakpoint
CREATE TRIGGER `subscriber_groups_update` AFTER UPDATE OF `status`, `destination_active`, `platform_id`, `min_severity_rank`, `same_day_alerts`, `categories` ON `subscriptions`
WHEN OLD.`status` IS NOT NEW.`status` OR OLD.`destination_active` IS NOT NEW.`destination_active`
  OR OLD.`platform_id` IS NOT NEW.`platform_id` OR OLD.`min_severity_rank` IS NOT NEW.`min_severity_rank`
  OR OLD.`same_day_alerts` IS NOT NEW.`same_day_alerts` OR OLD.`categories` IS NOT NEW.`categories`
BEGIN
  UPDATE `subscriber_groups` SET `subscribers` = `subscribers` - 1
  WHERE OLD.`status` = 'active' AND OLD.`destination_active` = 1
    AND `platform_id` = OLD.`platform_id` AND `min_severity_rank` = OLD.`min_severity_rank`
    AND `same_day_alerts` = OLD.`same_day_alerts` AND `categories` IS OLD.`categories`;
  INSERT INTO `subscriber_groups` (`platform_id`, `min_severity_rank`, `same_day_alerts`, `categories`, `subscribers`)
  SELECT NEW.`platform_id`, NEW.`min_severity_rank`, NEW.`same_day_alerts`, NEW.`categories`, 1
  WHERE NEW.`status` = 'active' AND NEW.`destination_active` = 1
  ON CONFLICT (`platform_id`, `min_severity_rank`, `same_day_alerts`, `categories` IS NULL, coalesce(`categories`, '')) DO UPDATE SET `subscribers` = `subscribers` + 1;
END;
