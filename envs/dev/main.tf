# envs/dev: the pipeline composition (modules/pipeline) with this environment's values.
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
  processor_retry        = var.processor_retry
  notification_emails    = var.notification_email == null ? [] : [var.notification_email]

  # dev is fully destroyable; tests fan a small file out into 1 KiB chunks.
  force_destroy                = true
  deletion_protection          = false
  retain                       = false
  kms_key_deletion_window_days = 7
  chunk_bytes_minimum          = 1024
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
