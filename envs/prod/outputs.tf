output "bucket_name" {
  description = "Processing bucket; upload CSV files under incoming/<dataset>/."
  value       = module.pipeline.bucket_name
}

output "dashboard_url" {
  description = "CloudWatch dashboard URL."
  value       = module.pipeline.dashboard_url
}

output "events_dlq_url" {
  description = "EventBridge dead-letter queue URL (trigger events that never started the pipeline)."
  value       = module.pipeline.events_dlq_url
}

output "failure_topic_arn" {
  description = "SNS topic for pipeline failures and alarms."
  value       = module.pipeline.failure_topic_arn
}

output "function_names" {
  description = "Lambda function names keyed by contract name."
  value       = module.pipeline.function_names
}

output "kms_key_arn" {
  description = "Pipeline KMS key ARN."
  value       = module.pipeline.kms_key_arn
}

output "results_queue_url" {
  description = "SQS FIFO queue receiving one success message per file."
  value       = module.pipeline.results_queue_url
}

output "state_machine_arn" {
  description = "Pipeline state machine ARN."
  value       = module.pipeline.state_machine_arn
}

output "table_name" {
  description = "Status table name."
  value       = module.pipeline.table_name
}

output "catalog_database_name" {
  description = "Glue database with the processed and rejected tables (query them with Athena)."
  value       = module.pipeline.catalog_database_name
}
