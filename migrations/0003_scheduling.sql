CREATE TABLE `deployment_events` (
	`id` text PRIMARY KEY NOT NULL,
	`deployment_id` text NOT NULL,
	`org_id` text NOT NULL,
	`type` text NOT NULL,
	`message` text NOT NULL,
	`at` integer NOT NULL,
	FOREIGN KEY (`deployment_id`) REFERENCES `deployments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `deployment_events_deployment` ON `deployment_events` (`deployment_id`,`id`);--> statement-breakpoint
CREATE TABLE `deployment_revisions` (
	`deployment_id` text NOT NULL,
	`revision` integer NOT NULL,
	`model_version_id` text NOT NULL,
	`requested` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`deployment_id`, `revision`),
	FOREIGN KEY (`deployment_id`) REFERENCES `deployments`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`model_version_id`) REFERENCES `model_versions`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE TABLE `deployments` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`model_id` text NOT NULL,
	`runtime` text NOT NULL,
	`image` text,
	`gpu_type` text NOT NULL,
	`gpu_count` integer NOT NULL,
	`min_replicas` integer NOT NULL,
	`max_replicas` integer NOT NULL,
	`batching` text,
	`deterministic` integer DEFAULT false NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`status_reason` text,
	`created_by` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deployments_org_name` ON `deployments` (`org_id`,`name`);--> statement-breakpoint
CREATE INDEX `deployments_model` ON `deployments` (`model_id`);--> statement-breakpoint
CREATE TABLE `leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `notebook_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`notebook_id` text NOT NULL,
	`org_id` text NOT NULL,
	`gpu_type` text NOT NULL,
	`gpu_count` integer NOT NULL,
	`agent_id` text,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`seconds` integer,
	`end_reason` text
);
--> statement-breakpoint
CREATE INDEX `notebook_sessions_notebook` ON `notebook_sessions` (`notebook_id`,`started_at`);--> statement-breakpoint
CREATE TABLE `notebooks` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`owner_id` text NOT NULL,
	`name` text NOT NULL,
	`gpu_type` text NOT NULL,
	`gpu_count` integer NOT NULL,
	`image` text NOT NULL,
	`idle_timeout_seconds` integer NOT NULL,
	`desired` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`status_reason` text,
	`token` text NOT NULL,
	`endpoint` text,
	`last_activity_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notebooks_org_name` ON `notebooks` (`org_id`,`name`);--> statement-breakpoint
CREATE TABLE `routing_snapshots` (
	`id` integer PRIMARY KEY NOT NULL,
	`version` integer NOT NULL,
	`document` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `workloads` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`org_id` text NOT NULL,
	`deployment_id` text,
	`revision` integer,
	`notebook_id` text,
	`agent_id` text,
	`gpu_type` text NOT NULL,
	`gpu_count` integer NOT NULL,
	`gpu_memory_mib` integer DEFAULT 0 NOT NULL,
	`disk_bytes` integer DEFAULT 0 NOT NULL,
	`phase` text DEFAULT 'pending' NOT NULL,
	`reason` text,
	`pending_reason` text,
	`placed_at` integer,
	`ready_at` integer,
	`retire_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`deployment_id`) REFERENCES `deployments`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`notebook_id`) REFERENCES `notebooks`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `workloads_agent` ON `workloads` (`agent_id`);--> statement-breakpoint
CREATE INDEX `workloads_deployment` ON `workloads` (`deployment_id`,`revision`);--> statement-breakpoint
CREATE INDEX `workloads_notebook` ON `workloads` (`notebook_id`);--> statement-breakpoint
ALTER TABLE `agent_workload_reports` ADD `endpoint` text;--> statement-breakpoint
ALTER TABLE `agent_workload_reports` ADD `last_activity_at` integer;