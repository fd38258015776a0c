ALTER TABLE `alert_silences` ADD `created_by_type` text;--> statement-breakpoint
ALTER TABLE `alert_silences` ADD `created_by_id` text;