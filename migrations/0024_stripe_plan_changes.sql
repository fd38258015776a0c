CREATE TABLE `stripe_plan_changes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` text NOT NULL,
	`from_plan` text NOT NULL,
	`to_plan` text NOT NULL,
	`reason` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`applied_at` integer
);
--> statement-breakpoint
CREATE INDEX `stripe_plan_changes_due` ON `stripe_plan_changes` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `stripe_plan_changes_org` ON `stripe_plan_changes` (`org_id`,`status`);