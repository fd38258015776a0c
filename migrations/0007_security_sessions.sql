CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`org_id` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`revoked_at` integer,
	`revoked_reason` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sessions_user` ON `sessions` (`user_id`);--> statement-breakpoint
ALTER TABLE `api_keys` ADD `role_cap` text DEFAULT 'admin' NOT NULL;--> statement-breakpoint
CREATE INDEX `api_keys_created_by` ON `api_keys` (`created_by_id`);--> statement-breakpoint
UPDATE `api_keys` SET `role_cap` = (SELECT `m`.`role` FROM `memberships` `m` WHERE `m`.`org_id` = `api_keys`.`org_id` AND `m`.`user_id` = `api_keys`.`created_by_id`) WHERE `created_by_type` = 'user' AND EXISTS (SELECT 1 FROM `memberships` `m` WHERE `m`.`org_id` = `api_keys`.`org_id` AND `m`.`user_id` = `api_keys`.`created_by_id`);--> statement-breakpoint
INSERT OR IGNORE INTO `sessions` (`id`, `user_id`, `org_id`, `created_at`, `revoked_at`, `revoked_reason`) SELECT `family_id`, `user_id`, `org_id`, min(`created_at`), max(`revoked_at`), CASE WHEN max(`revoked_at`) IS NULL THEN NULL ELSE 'revoked' END FROM `refresh_tokens` GROUP BY `family_id`;
