CREATE TABLE `batch_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`deployment_id` text NOT NULL,
	`deployment_name` text NOT NULL,
	`input_file_id` text NOT NULL,
	`output_file_id` text,
	`error_file_id` text,
	`status` text NOT NULL,
	`error` text,
	`paused_reason` text,
	`completion_window_seconds` integer NOT NULL,
	`max_concurrency` integer NOT NULL,
	`key_id` text,
	`user_id` text,
	`total` integer DEFAULT 0 NOT NULL,
	`completed` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`outcome` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`started_at` integer,
	`finalizing_at` integer,
	`ended_at` integer,
	`cancel_requested_at` integer,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `batch_jobs_org` ON `batch_jobs` (`org_id`,`id`);--> statement-breakpoint
CREATE INDEX `batch_jobs_status` ON `batch_jobs` (`status`);--> statement-breakpoint
CREATE TABLE `batch_results` (
	`job_id` text NOT NULL,
	`line` integer NOT NULL,
	`ok` integer NOT NULL,
	`text` text NOT NULL,
	PRIMARY KEY(`job_id`, `line`)
);
--> statement-breakpoint
CREATE TABLE `batch_shards` (
	`job_id` text NOT NULL,
	`shard` integer NOT NULL,
	`first_line` integer NOT NULL,
	`start_byte` integer NOT NULL,
	`end_byte` integer NOT NULL,
	`done` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`job_id`, `shard`)
);
--> statement-breakpoint
CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`purpose` text NOT NULL,
	`file_name` text NOT NULL,
	`object_key` text NOT NULL,
	`size_bytes` integer,
	`sha256` text,
	`status` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `files_org` ON `files` (`org_id`,`id`);--> statement-breakpoint
CREATE INDEX `files_expiry` ON `files` (`expires_at`);