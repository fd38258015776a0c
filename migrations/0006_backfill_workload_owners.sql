-- Workloads placed before workload_owners existed: record who they run for, so their usage is billed.
INSERT INTO `workload_owners` (`workload_id`, `org_id`, `kind`, `deployment_id`, `notebook_id`, `gpu_type`)
SELECT `id`, `org_id`, `kind`, `deployment_id`, `notebook_id`, `gpu_type` FROM `workloads` WHERE true
ON CONFLICT (`workload_id`) DO NOTHING;
