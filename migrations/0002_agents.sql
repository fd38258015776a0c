CREATE TABLE `agent_usage_entries` (
	`agent_id` text NOT NULL,
	`seq` integer NOT NULL,
	`idx` integer NOT NULL,
	`workload_id` text NOT NULL,
	`gpu_type` text NOT NULL,
	`seconds` real NOT NULL,
	`from_at` integer NOT NULL,
	`to_at` integer NOT NULL,
	PRIMARY KEY(`agent_id`, `seq`, `idx`)
);
--> statement-breakpoint
CREATE INDEX `agent_usage_entries_workload` ON `agent_usage_entries` (`workload_id`,`to_at`);--> statement-breakpoint
CREATE TABLE `agent_usage_reports` (
	`agent_id` text NOT NULL,
	`seq` integer NOT NULL,
	`entries` text NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`agent_id`, `seq`),
	FOREIGN KEY (`agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `agent_workload_reports` (
	`agent_id` text NOT NULL,
	`workload_id` text NOT NULL,
	`kind` text NOT NULL,
	`phase` text NOT NULL,
	`reason` text,
	`started_at` integer,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`agent_id`, `workload_id`),
	FOREIGN KEY (`agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `agent_workloads_workload` ON `agent_workload_reports` (`workload_id`);--> statement-breakpoint
CREATE TABLE `agents` (
	`id` text PRIMARY KEY NOT NULL,
	`credential_hash` text NOT NULL,
	`hostname` text NOT NULL,
	`agent_version` text NOT NULL,
	`data_plane_url` text NOT NULL,
	`runtimes` text NOT NULL,
	`status` text DEFAULT 'online' NOT NULL,
	`inventory` text NOT NULL,
	`desired_version` integer DEFAULT 1 NOT NULL,
	`last_usage_seq` integer DEFAULT 0 NOT NULL,
	`last_heartbeat_at` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `agents_credential_hash_unique` ON `agents` (`credential_hash`);--> statement-breakpoint
CREATE TABLE `bootstrap_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`token_hash` text NOT NULL,
	`created_by` text NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`used_by_agent` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `bootstrap_tokens_token_hash_unique` ON `bootstrap_tokens` (`token_hash`);