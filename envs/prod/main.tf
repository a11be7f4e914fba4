# envs/prod: the pipeline composition (modules/pipeline) with this environment's values.
module "pipeline" {
  source = "../../modules/pipeline"

  prefix                 = var.prefix
  architecture           = var.architecture
  artifacts_manifest     = var.artifacts_manifest
  bucket_name            = var.bucket_name
  schema_file            = var.schema_file
  datasets               = var.datasets
  chunk_bytes            = var.chunk_bytes
  max_record_bytes       = var.max_record_bytes
  max_decompressed_bytes = var.max_decompressed_bytes
  max_gzip_ratio         = var.max_gzip_ratio
  max_chunks             = var.max_chunks
  function_settings      = var.function_settings
  reserved_concurrency   = var.reserved_concurrency
  log_level              = var.log_level
  log_retention_days     = var.log_retention_days
  lifecycle_rules        = var.lifecycle_rules
  max_concurrency        = var.max_concurrency
  notification_emails    = var.notification_email == null ? [] : [var.notification_email]

  # prod keeps data: no force_destroy, DynamoDB deletion protection, and retain = true,
  # which selects the storage module's resource blocks carrying
  # lifecycle { prevent_destroy = true } (bucket, table, KMS key). See modules/storage/README.md.
  force_destroy       = false
  deletion_protection = true
  retain              = true
}

# Deployments made before modules/pipeline had the four modules at the root: these moves keep
# every resource (prod's prevent_destroy ones included) instead of planning destroy + create.
moved {
  from = module.storage
  to   = module.pipeline.module.storage
}

moved {
  from = module.compute
  to   = module.pipeline.module.compute
}

moved {
  from = module.orchestration
  to   = module.pipeline.module.orchestration
}

moved {
  from = module.observability
  to   = module.pipeline.module.observability
}
