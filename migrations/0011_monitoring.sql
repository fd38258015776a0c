CREATE TABLE `alert_events` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`rule_id` text NOT NULL,
	`kind` text NOT NULL,
	`value` real,
	`silenced` integer DEFAULT false NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alert_events_rule` ON `alert_events` (`rule_id`,`at`);--> statement-breakpoint
CREATE TABLE `alert_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`metric` text NOT NULL,
	`deployment_id` text,
	`window_seconds` integer NOT NULL,
	`threshold` real NOT NULL,
	`for_seconds` integer DEFAULT 0 NOT NULL,
	`channel_ids` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`state` text DEFAULT 'ok' NOT NULL,
	`active_since` integer,
	`last_value` real,
	`last_evaluated_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alert_rules_org` ON `alert_rules` (`org_id`);--> statement-breakpoint
CREATE TABLE `alert_silences` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`rule_id` text,
	`starts_at` integer NOT NULL,
	`ends_at` integer NOT NULL,
	`comment` text DEFAULT '' NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alert_silences_org` ON `alert_silences` (`org_id`,`ends_at`);--> statement-breakpoint
CREATE TABLE `deployment_metrics` (
	`deployment_id` text NOT NULL,
	`version_id` text NOT NULL,
	`source` text NOT NULL,
	`resolution` integer NOT NULL,
	`at` integer NOT NULL,
	`org_id` text NOT NULL,
	`c1xx` integer DEFAULT 0 NOT NULL,
	`c2xx` integer DEFAULT 0 NOT NULL,
	`c3xx` integer DEFAULT 0 NOT NULL,
	`c4xx` integer DEFAULT 0 NOT NULL,
	`c5xx` integer DEFAULT 0 NOT NULL,
	`latency` text DEFAULT '' NOT NULL,
	`latency_sum` real DEFAULT 0 NOT NULL,
	`queue` text DEFAULT '' NOT NULL,
	`queue_sum` real DEFAULT 0 NOT NULL,
	`compute` text DEFAULT '' NOT NULL,
	`compute_sum` real DEFAULT 0 NOT NULL,
	PRIMARY KEY(`deployment_id`, `version_id`, `source`, `resolution`, `at`)
);
--> statement-breakpoint
CREATE INDEX `deployment_metrics_org_at` ON `deployment_metrics` (`org_id`,`resolution`,`at`);--> statement-breakpoint
CREATE INDEX `deployment_metrics_resolution_at` ON `deployment_metrics` (`resolution`,`at`);--> statement-breakpoint
CREATE TABLE `drift_scores` (
	`deployment_id` text NOT NULL,
	`feature` text NOT NULL,
	`window` integer NOT NULL,
	`org_id` text NOT NULL,
	`method` text NOT NULL,
	`score` real NOT NULL,
	`p_value` real,
	`drifted` integer NOT NULL,
	`count` integer NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`deployment_id`, `feature`, `window`)
);
--> statement-breakpoint
CREATE INDEX `drift_scores_org` ON `drift_scores` (`org_id`,`at`);--> statement-breakpoint
CREATE TABLE `drift_sketches` (
	`deployment_id` text NOT NULL,
	`feature` text NOT NULL,
	`window` integer NOT NULL,
	`org_id` text NOT NULL,
	`version_id` text NOT NULL,
	`sketch` text NOT NULL,
	`count` integer NOT NULL,
	`frozen` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`deployment_id`, `feature`, `window`)
);
--> statement-breakpoint
CREATE TABLE `metric_batches` (
	`batch_id` text PRIMARY KEY NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `notification_attempts` (
	`delivery_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`at` integer NOT NULL,
	`ok` integer NOT NULL,
	`http_status` integer,
	`error` text,
	`duration_ms` integer NOT NULL,
	PRIMARY KEY(`delivery_id`, `attempt`)
);
--> statement-breakpoint
CREATE TABLE `notification_channels` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`target` text NOT NULL,
	`secret` text DEFAULT '' NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `notification_channels_org` ON `notification_channels` (`org_id`);--> statement-breakpoint
CREATE TABLE `notification_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`channel_id` text NOT NULL,
	`event_id` text,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `notification_deliveries_due` ON `notification_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `notification_deliveries_channel` ON `notification_deliveries` (`channel_id`,`created_at`);