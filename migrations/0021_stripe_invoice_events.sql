ALTER TABLE `stripe_webhook_events` ADD `org_id` text;--> statement-breakpoint
ALTER TABLE `stripe_webhook_events` ADD `invoice_id` text;--> statement-breakpoint
CREATE INDEX `stripe_webhook_events_org_invoice` ON `stripe_webhook_events` (`org_id`,`invoice_id`);