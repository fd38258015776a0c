ALTER TABLE `deployments` ADD `target_concurrency` integer DEFAULT 16 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments` ADD `scale_up_delay_seconds` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments` ADD `scale_down_delay_seconds` integer DEFAULT 30 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments` ADD `scale_to_zero_after_seconds` integer;--> statement-breakpoint
ALTER TABLE `deployments` ADD `desired_replicas` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `workloads` ADD `pulling_at` integer;--> statement-breakpoint
ALTER TABLE `workloads` ADD `loading_at` integer;--> statement-breakpoint
ALTER TABLE `workloads` ADD `first_call_at` integer;--> statement-breakpoint
ALTER TABLE `workloads` ADD `attempt` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `workloads` ADD `failed_at` integer;--> statement-breakpoint
ALTER TABLE `workloads` ADD `avoid_agents` text;--> statement-breakpoint
-- Existing deployments keep running the replicas they had: the autoscaler starts from minReplicas.
UPDATE `deployments` SET `desired_replicas` = `min_replicas` WHERE true;
