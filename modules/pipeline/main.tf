# The pipeline as one composition: contract.json and the build manifest (through ./contract)
# wired into the storage, compute, orchestration and observability modules. envs/* call this
# once with the values that differ per environment.

data "aws_caller_identity" "current" {}

module "contract" {
  source = "./contract"

  prefix               = var.prefix
  account_id           = data.aws_caller_identity.current.account_id
  artifacts_manifest   = var.artifacts_manifest
  function_settings    = var.function_settings
  reserved_concurrency = var.reserved_concurrency
}

locals {
  defaults      = module.contract.defaults
  names         = module.contract.names
  function_keys = keys(module.contract.contract.functions)

  # Values by contract env key; the variable names come from contract.json `env`.
  env_values = {
    bucket           = module.storage.bucket_name
    status_table     = module.storage.table_name
    datasets         = join(",", sort(keys(local.datasets)))
    chunk_bytes      = tostring(coalesce(var.chunk_bytes, local.defaults.chunk_bytes))
    max_record_bytes = tostring(coalesce(var.max_record_bytes, local.defaults.max_record_bytes))
    # limits against decompression bombs and runaway plans (named errors when crossed)
    max_decompressed_bytes = tostring(coalesce(var.max_decompressed_bytes, local.defaults.max_decompressed_bytes))
    max_gzip_ratio         = tostring(coalesce(var.max_gzip_ratio, local.defaults.max_gzip_ratio))
    max_chunks             = tostring(coalesce(var.max_chunks, local.defaults.max_chunks))
  }
  environment = { for key, name in module.contract.env : name => local.env_values[key] }

  datasets = coalesce(var.datasets, {
    transactions = { schema_file = "${path.module}/../../schemas/transactions.json" }
  })
}

check "manifest_matches_architecture" {
  assert {
    condition     = module.contract.architecture == var.architecture
    error_message = "The build manifest is for ${module.contract.architecture} but architecture is ${var.architecture}: rebuild or set architecture."
  }
}

module "storage" {
  source = "../storage"

  prefix                       = var.prefix
  bucket_name                  = coalesce(var.bucket_name, local.names.bucket)
  table_name                   = local.names.table
  kms_alias_name               = local.names.kms_alias
  table_key                    = module.contract.table_key
  prefixes                     = module.contract.prefixes
  schema_file                  = local.datasets[sort(keys(local.datasets))[0]].schema_file
  datasets                     = local.datasets
  schema_object_key_pattern    = module.contract.schema_object_key_pattern
  force_destroy                = var.force_destroy
  deletion_protection          = var.deletion_protection
  retain                       = var.retain
  kms_key_deletion_window_days = var.kms_key_deletion_window_days
  lifecycle_rules              = var.lifecycle_rules
}

module "compute" {
  source = "../compute"

  prefix             = var.prefix
  names              = { function = local.names.function, layer = local.names.layer }
  architecture       = var.architecture
  functions          = module.contract.functions
  dynamodb_actions   = module.contract.dynamodb_actions
  layer              = module.contract.layer
  artifacts_bucket   = module.storage.bucket_name
  environment        = local.environment
  service_name       = local.names.service
  metrics_namespace  = module.contract.metrics.namespace
  log_level          = var.log_level
  log_retention_days = var.log_retention_days
  prefixes           = module.contract.prefixes
  bucket_arn         = module.storage.bucket_arn
  table_arn          = module.storage.table_arn
  kms_key_arn        = module.storage.kms_key_arn
}

module "orchestration" {
  source = "../orchestration"

  prefix = var.prefix
  names = {
    results_queue = local.names.results_queue
    failure_topic = local.names.failure_topic
    state_machine = local.names.state_machine
    event_rule    = local.names.event_rule
    events_dlq    = local.names.events_dlq
  }
  function_arns       = module.compute.function_arns
  template_variables  = module.contract.state_machine_variables
  bucket_name         = module.storage.bucket_name
  bucket_arn          = module.storage.bucket_arn
  incoming_prefix     = module.contract.prefixes.incoming
  manifests_prefix    = module.contract.prefixes.manifests
  kms_key_arn         = module.storage.kms_key_arn
  max_concurrency     = var.max_concurrency
  processor_retry     = var.processor_retry
  log_retention_days  = var.log_retention_days
  notification_emails = var.notification_emails
}

module "observability" {
  source = "../observability"

  prefix            = var.prefix
  dashboard_name    = local.names.dashboard
  state_machine_arn = module.orchestration.state_machine_arn
  function_names    = module.compute.function_names
  table_name        = module.storage.table_name
  events_dlq_name   = module.orchestration.events_dlq_name
  alarm_topic_arn   = module.orchestration.failure_topic_arn
  metrics_namespace = module.contract.metrics.namespace
  custom_metrics = {
    dimension = module.contract.metrics.dimension
    emitted   = keys(module.contract.metrics.emitted)
  }
  service_name = local.names.service
}
