CREATE TABLE `edge_usage` (
	`batch_id` text NOT NULL,
	`idx` integer NOT NULL,
	`org_id` text NOT NULL,
	`key_id` text,
	`user_id` text,
	`deployment_id` text NOT NULL,
	`minute` integer NOT NULL,
	`calls` integer NOT NULL,
	`bytes_in` integer NOT NULL,
	`bytes_out` integer NOT NULL,
	PRIMARY KEY(`batch_id`, `idx`),
	FOREIGN KEY (`batch_id`) REFERENCES `edge_usage_batches`(`batch_id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `edge_usage_org_minute` ON `edge_usage` (`org_id`,`minute`);--> statement-breakpoint
CREATE TABLE `edge_usage_batches` (
	`batch_id` text PRIMARY KEY NOT NULL,
	`received_at` integer NOT NULL,
	`record_count` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `orgs` ADD `plan` text DEFAULT 'free' NOT NULL;--> statement-breakpoint
ALTER TABLE `orgs` ADD `suspended_at` integer;--> statement-breakpoint
ALTER TABLE `orgs` ADD `suspended_reason` text;