output "bucket_arn" {
  description = "ARN of the processing bucket."
  value       = local.bucket.arn
}

output "bucket_name" {
  description = "Name of the processing bucket."
  value       = local.bucket.id
}

output "catalog_database_name" {
  description = "Glue database holding the per-dataset tables (catalog_tables) (null when the catalog is disabled)."
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

output "catalog_tables" {
  description = "Glue tables by dataset and major version (\"<dataset>_v<major>\"): the valid rows' table, the rejects' table and the S3 locations they read (empty when the catalog is disabled)."
  value = {
    for key, t in aws_glue_catalog_table.processed : key => {
      dataset           = local.catalog_tables[key].dataset
      major             = local.catalog_tables[key].major
      table             = t.name
      location          = t.storage_descriptor[0].location
      rejected_table    = aws_glue_catalog_table.rejected[key].name
      rejected_location = aws_glue_catalog_table.rejected[key].storage_descriptor[0].location
    }
  }
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
