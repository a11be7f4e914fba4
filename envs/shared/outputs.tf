# Linked into every environment root (envs/<env>/outputs.tf -> ../shared/outputs.tf).
output "pipeline" {
  description = "Every output of modules/pipeline (its README lists them): bucket_name (upload CSV files under incoming/), table_name, state_machine_arn, results_queue_url, failure_topic_arn, events_dlq_url, dashboard_url, kms_key_arn, catalog_database_name, function_names, names. Read one with `terraform output -json pipeline | jq -r .bucket_name`."
  value       = module.pipeline
}
