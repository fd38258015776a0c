CREATE TABLE `org_allowed_images` (
	`org_id` text NOT NULL,
	`image` text NOT NULL,
	`added_by` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`org_id`, `image`)
);
--> statement-breakpoint
CREATE TABLE `platform_images` (
	`image` text PRIMARY KEY NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
