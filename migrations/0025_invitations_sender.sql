ALTER TABLE `invitations` ADD `sender_user_id` text;--> statement-breakpoint
CREATE INDEX `invitations_sender` ON `invitations` (`sender_user_id`,`created_at`);