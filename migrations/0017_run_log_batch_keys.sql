CREATE TABLE `run_log_batches` (
	`run_id` text NOT NULL,
	`idempotency_key` text NOT NULL,
	`body_sha256` text NOT NULL,
	`metrics` integer NOT NULL,
	`params` integer NOT NULL,
	`tags` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `run_log_batches_run_key` ON `run_log_batches` (`run_id`,`idempotency_key`);