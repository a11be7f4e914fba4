output "bucket_arn" {
  description = "ARN of the processing bucket."
  value       = local.bucket.arn
}

output "bucket_name" {
  description = "Name of the processing bucket."
  value       = local.bucket.id
}

output "catalog_database_name" {
  description = "Glue database holding the processed and rejected tables (null when the catalog is disabled)."
  value       = one(aws_glue_catalog_database.this[*].name)
}

output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key for S3, DynamoDB, SQS, SNS and CloudWatch Logs."
  value       = local.kms_key_arn
}

output "schema_object_keys" {
  description = "Object key of each dataset's uploaded schema, by dataset."
  value       = { for name, o in aws_s3_object.schema : name => o.key }
}

output "table_arn" {
  description = "ARN of the status table."
  value       = local.table.arn
}

output "table_name" {
  description = "Name of the status table."
  value       = local.table.name
}

output "lifecycle_rules" {
  description = "The lifecycle settings in force (lifecycle_rules with the defaults filled in)."
  value       = { for k, v in var.lifecycle_rules : k => v if k != "processed_glacier_after_days" }
}
