# envs/prod: what makes this environment prod. What every environment shares (pins, provider,
# deploy-time variables, moves, outputs) is in envs/shared, linked here file by file.
locals {
  environment = "prod"
}

module "pipeline" {
  source = "../../modules/pipeline"

  # Keeps data: no force_destroy, DynamoDB deletion protection, and retain = true, which
  # selects the storage module's resource blocks carrying lifecycle { prevent_destroy = true }
  # (bucket, table, KMS key). See modules/storage/README.md. Logs kept a year.
  force_destroy       = false
  deletion_protection = true
  retain              = true
  log_retention_days  = 365

  # 50 processors: 5 files at full speed with max_concurrency = 10; more files queue on
  # Lambda throttling, which the state machine retries. The sum of all reservations must
  # leave the account's 100 unreserved executions.
  reserved_concurrency = { processor = 50 }

  prefix              = coalesce(var.prefix, "etl-prod")
  architecture        = var.architecture
  artifacts_manifest  = var.artifacts_manifest
  datasets            = var.datasets
  schema_file         = var.schema_file
  notification_emails = var.notification_emails
}
