CREATE TABLE `billing_customers` (
	`org_id` text PRIMARY KEY NOT NULL,
	`stripe_customer_id` text NOT NULL,
	`subscription_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `billing_customers_stripe_customer_id_unique` ON `billing_customers` (`stripe_customer_id`);--> statement-breakpoint
CREATE TABLE `ledger_entries` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`meter` text NOT NULL,
	`quantity` real NOT NULL,
	`window_start` integer NOT NULL,
	`occurred_at` integer NOT NULL,
	`source` text NOT NULL,
	`deployment_id` text,
	`notebook_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ledger_org_window` ON `ledger_entries` (`org_id`,`window_start`);--> statement-breakpoint
CREATE INDEX `ledger_org_meter_window` ON `ledger_entries` (`org_id`,`meter`,`window_start`);--> statement-breakpoint
CREATE INDEX `ledger_recorded` ON `ledger_entries` (`created_at`);--> statement-breakpoint
CREATE TABLE `meter_pushes` (
	`org_id` text NOT NULL,
	`meter` text NOT NULL,
	`window_start` integer NOT NULL,
	`pushed_quantity` integer NOT NULL,
	`revision` integer NOT NULL,
	PRIMARY KEY(`org_id`, `meter`, `window_start`)
);
--> statement-breakpoint
CREATE TABLE `stripe_meters` (
	`meter` text PRIMARY KEY NOT NULL,
	`stripe_meter_id` text NOT NULL,
	`event_name` text NOT NULL,
	`price_id` text
);
--> statement-breakpoint
CREATE TABLE `stripe_outbox` (
	`identifier` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`meter` text NOT NULL,
	`window_start` integer NOT NULL,
	`value` integer NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`sent_at` integer
);
--> statement-breakpoint
CREATE INDEX `stripe_outbox_due` ON `stripe_outbox` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `stripe_webhook_events` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `workload_owners` (
	`workload_id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`kind` text NOT NULL,
	`deployment_id` text,
	`notebook_id` text,
	`gpu_type` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
