CREATE TABLE `usage_idempotency_keys` (
	`org_id` text NOT NULL,
	`idempotency_key` text NOT NULL,
	`batch_id` text NOT NULL,
	`billed_at` integer NOT NULL,
	PRIMARY KEY(`org_id`, `idempotency_key`)
);
--> statement-breakpoint
CREATE INDEX `usage_idempotency_keys_billed_at` ON `usage_idempotency_keys` (`billed_at`);