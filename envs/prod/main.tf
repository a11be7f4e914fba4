locals {
  environment_name = "prod"
  repo_root        = abspath("${path.module}/../..")

  # Names shared with the handlers and the local harness: defined once in contract.json.
  contract = jsondecode(file("${path.module}/../../lambdas/etl/contract.json"))

  # Artifacts from build.py; paths in the manifest are relative to the repo root.
  manifest = jsondecode(file(coalesce(var.artifacts_manifest, "${local.repo_root}/dist/manifest.json")))

  service_name = var.prefix

  # Values by contract env key; the variable names come from contract.json `env`.
  env_values = {
    bucket           = module.storage.bucket_name
    status_table     = module.storage.table_name
    schema_key       = local.contract.schema_object_key
    chunk_bytes      = tostring(coalesce(var.chunk_bytes, local.contract.defaults.chunk_bytes))
    max_record_bytes = tostring(coalesce(var.max_record_bytes, local.contract.defaults.max_record_bytes))
    # limits against decompression bombs and runaway plans (named errors when crossed)
    max_decompressed_bytes = tostring(coalesce(var.max_decompressed_bytes, local.contract.defaults.max_decompressed_bytes))
    max_gzip_ratio         = tostring(coalesce(var.max_gzip_ratio, local.contract.defaults.max_gzip_ratio))
    max_chunks             = tostring(coalesce(var.max_chunks, local.contract.defaults.max_chunks))
  }
  environment = { for key, name in local.contract.env : name => local.env_values[key] }

  functions = {
    for name, fn in local.contract.functions : name => merge(
      {
        handler          = fn.handler
        description      = fn.description
        s3_read          = fn.s3_read
        s3_write         = fn.s3_write
        s3_delete        = fn.s3_delete
        s3_list          = try(fn.s3_list, [])
        zip_path         = "${local.repo_root}/${local.manifest.artifacts[name].path}"
        zip_base64sha256 = local.manifest.artifacts[name].base64sha256
        # Caps this function's concurrent executions across all files (null: unreserved).
        reserved_concurrency = lookup(var.reserved_concurrency, name, null)
      },
      { for k, v in try(var.function_settings[name], {}) : k => v if v != null },
    )
  }

  layer = {
    path         = "${local.repo_root}/${local.manifest.artifacts.layer.path}"
    sha256       = local.manifest.artifacts.layer.sha256
    base64sha256 = local.manifest.artifacts.layer.base64sha256
  }
}

check "manifest_matches_architecture" {
  assert {
    condition     = local.manifest.architecture == var.architecture
    error_message = "The build manifest is for ${local.manifest.architecture} but architecture is ${var.architecture}: rebuild or set architecture."
  }
}

module "storage" {
  source = "../../modules/storage"

  prefix            = var.prefix
  bucket_name       = var.bucket_name
  prefixes          = local.contract.prefixes
  schema_file       = coalesce(var.schema_file, "${local.repo_root}/schemas/transactions.json")
  schema_object_key = local.contract.schema_object_key
  # prod keeps data: no force_destroy, DynamoDB deletion protection, and retain = true,
  # which selects the storage module's resource blocks carrying
  # lifecycle { prevent_destroy = true } (bucket, table, KMS key). See modules/storage/README.md.
  force_destroy       = false
  deletion_protection = true
  retain              = true
}

module "compute" {
  source = "../../modules/compute"

  prefix             = var.prefix
  architecture       = var.architecture
  functions          = local.functions
  layer              = local.layer
  artifacts_bucket   = module.storage.bucket_name
  environment        = local.environment
  service_name       = local.service_name
  metrics_namespace  = local.contract.metrics.namespace
  log_level          = var.log_level
  log_retention_days = var.log_retention_days
  prefixes           = local.contract.prefixes
  bucket_arn         = module.storage.bucket_arn
  table_arn          = module.storage.table_arn
  kms_key_arn        = module.storage.kms_key_arn
}

module "orchestration" {
  source = "../../modules/orchestration"

  prefix              = var.prefix
  function_arns       = module.compute.function_arns
  bucket_name         = module.storage.bucket_name
  bucket_arn          = module.storage.bucket_arn
  incoming_prefix     = local.contract.prefixes.incoming
  manifests_prefix    = local.contract.prefixes.manifests
  kms_key_arn         = module.storage.kms_key_arn
  max_concurrency     = var.max_concurrency
  log_retention_days  = var.log_retention_days
  notification_emails = var.notification_email == null ? [] : [var.notification_email]
}

module "observability" {
  source = "../../modules/observability"

  prefix            = var.prefix
  state_machine_arn = module.orchestration.state_machine_arn
  function_names    = module.compute.function_names
  table_name        = module.storage.table_name
  events_dlq_name   = module.orchestration.events_dlq_name
  alarm_topic_arn   = module.orchestration.failure_topic_arn
  metrics_namespace = local.contract.metrics.namespace
  service_name      = local.service_name
}
