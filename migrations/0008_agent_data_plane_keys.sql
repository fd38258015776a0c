CREATE TABLE `agent_deployments` (
	`agent_id` text NOT NULL,
	`deployment_id` text NOT NULL,
	`org_id` text NOT NULL,
	`first_placed_at` integer NOT NULL,
	PRIMARY KEY(`agent_id`, `deployment_id`),
	FOREIGN KEY (`agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `agents` ADD `data_plane_key_generation` integer DEFAULT 1 NOT NULL;