ALTER TABLE `batch_jobs` ADD `status_reason` text;--> statement-breakpoint
ALTER TABLE `batch_jobs` ADD `unplaceable_since` integer;--> statement-breakpoint
ALTER TABLE `deployments` ADD `start_problem` text;