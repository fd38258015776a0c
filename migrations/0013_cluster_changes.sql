-- A log of changes to the rows the scheduler's cluster view is read from, kept by triggers so that every
-- writer (heartbeats, the API, the scheduler itself, foreign-key cascades) is covered without its code
-- knowing. The scheduler keeps the view in memory and re-reads only the rows named here since its last
-- tick (control-plane/src/services/scheduler/cluster-cache.ts), then deletes what it has read.
-- kind: agent | workload | deployment | notebook; id: that row's id (a report names its workload, a
-- revision its deployment, a session its notebook).
CREATE TABLE `cluster_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`id` text NOT NULL
);
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_agents_insert` AFTER INSERT ON `agents` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('agent', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_agents_update` AFTER UPDATE OF `status`, `runtimes`, `inventory`, `data_plane_url`, `data_plane_key_generation`, `last_heartbeat_at` ON `agents` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('agent', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_agents_delete` AFTER DELETE ON `agents` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('agent', OLD.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_workloads_insert` AFTER INSERT ON `workloads` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('workload', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_workloads_update` AFTER UPDATE ON `workloads` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('workload', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_workloads_delete` AFTER DELETE ON `workloads` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('workload', OLD.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_agent_workload_reports_insert` AFTER INSERT ON `agent_workload_reports` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('workload', NEW.`workload_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_agent_workload_reports_update` AFTER UPDATE ON `agent_workload_reports` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('workload', NEW.`workload_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_agent_workload_reports_delete` AFTER DELETE ON `agent_workload_reports` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('workload', OLD.`workload_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_deployments_insert` AFTER INSERT ON `deployments` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('deployment', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_deployments_update` AFTER UPDATE ON `deployments` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('deployment', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_deployments_delete` AFTER DELETE ON `deployments` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('deployment', OLD.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_deployment_revisions_insert` AFTER INSERT ON `deployment_revisions` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('deployment', NEW.`deployment_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_deployment_revisions_update` AFTER UPDATE ON `deployment_revisions` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('deployment', NEW.`deployment_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_deployment_revisions_delete` AFTER DELETE ON `deployment_revisions` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('deployment', OLD.`deployment_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_notebooks_insert` AFTER INSERT ON `notebooks` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('notebook', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_notebooks_update` AFTER UPDATE ON `notebooks` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('notebook', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_notebooks_delete` AFTER DELETE ON `notebooks` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('notebook', OLD.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_notebook_sessions_insert` AFTER INSERT ON `notebook_sessions` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('notebook', NEW.`notebook_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_notebook_sessions_update` AFTER UPDATE ON `notebook_sessions` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('notebook', NEW.`notebook_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_notebook_sessions_delete` AFTER DELETE ON `notebook_sessions` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`) VALUES ('notebook', OLD.`notebook_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `cluster_changes_model_versions_update` AFTER UPDATE OF `version`, `size_bytes` ON `model_versions` BEGIN
	INSERT INTO `cluster_changes` (`kind`, `id`)
	SELECT 'deployment', `deployment_id` FROM `deployment_revisions` WHERE `model_version_id` = NEW.`id`;
END;
