CREATE TABLE `deployment_rollouts` (
	`deployment_id` text NOT NULL,
	`revision` integer NOT NULL,
	`base_revision` integer NOT NULL,
	`org_id` text NOT NULL,
	`policy` text NOT NULL,
	`state` text DEFAULT 'canary' NOT NULL,
	`step` integer DEFAULT 0 NOT NULL,
	`step_started_at` integer,
	`step_baseline` text,
	`figures` text,
	`reason` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`finished_at` integer,
	PRIMARY KEY(`deployment_id`, `revision`),
	FOREIGN KEY (`deployment_id`) REFERENCES `deployments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `deployment_rollouts_state` ON `deployment_rollouts` (`state`);