CREATE TABLE `stripe_usage_backfills` (
	`org_id` text NOT NULL,
	`month` text NOT NULL,
	`meter` text NOT NULL,
	`quantity` integer NOT NULL,
	`amount_cents` integer NOT NULL,
	`customer_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`invoice_item_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`sent_at` integer,
	PRIMARY KEY(`org_id`, `month`, `meter`)
);
--> statement-breakpoint
CREATE INDEX `stripe_usage_backfills_due` ON `stripe_usage_backfills` (`status`,`next_attempt_at`);