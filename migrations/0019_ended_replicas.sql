CREATE TABLE `ended_replicas` (
	`workload_id` text PRIMARY KEY NOT NULL,
	`deployment_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`ended_at` integer NOT NULL,
	FOREIGN KEY (`deployment_id`) REFERENCES `deployments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `ended_replicas_deployment` ON `ended_replicas` (`deployment_id`,`ended_at`);--> statement-breakpoint
CREATE INDEX `ended_replicas_ended` ON `ended_replicas` (`ended_at`);