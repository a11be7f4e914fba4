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

  # Datasets with their schema files resolved (null: <repo>/schemas/<name>.json).
  datasets = {
    for name, d in var.datasets : name => {
      schema_file = coalesce(d.schema_file, "${path.module}/../../schemas/${name}.json")
    }
  }
  dataset_names = sort(keys(local.datasets))

  # Values by contract env key; the variable names come from contract.json `env`.
  env_values = {
    bucket       = module.storage.bucket_name
    status_table = module.storage.table_name
    datasets     = join(",", local.dataset_names)
    # limits against oversized records, decompression bombs and runaway plans (named errors
    # when crossed); a null limit is contract.json `defaults`.
    chunk_bytes            = tostring(coalesce(var.limits.chunk_bytes, local.defaults.chunk_bytes))
    max_record_bytes       = tostring(coalesce(var.limits.max_record_bytes, local.defaults.max_record_bytes))
    max_decompressed_bytes = tostring(coalesce(var.limits.max_decompressed_bytes, local.defaults.max_decompressed_bytes))
    max_gzip_ratio         = tostring(coalesce(var.limits.max_gzip_ratio, local.defaults.max_gzip_ratio))
    max_chunks             = tostring(coalesce(var.limits.max_chunks, local.defaults.max_chunks))
    # where mark_failed publishes for the execution-ended rule
    failure_topic_arn = module.orchestration.failure_topic_arn
  }
  environment = { for key, name in module.contract.env : name => local.env_values[key] }
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
  names                        = merge(local.names, { bucket = coalesce(var.bucket_name, local.names.bucket) })
  table_key                    = module.contract.table_key
  prefixes                     = module.contract.prefixes
  datasets                     = local.datasets
  schema_object_key_pattern    = module.contract.schema_object_key_pattern
  force_destroy                = var.force_destroy
  deletion_protection          = var.deletion_protection
  retain                       = var.retain
  kms_key_deletion_window_days = var.kms_key_deletion_window_days
  lifecycle_rules              = var.lifecycle_rules
  # the rules and alarms the key policy lets EventBridge and CloudWatch use the key for
  key_service_users = {
    event_rules       = [local.names.event_rule, local.names.execution_ended_rule]
    alarm_name_prefix = "${var.prefix}-"
  }
}

module "compute" {
  source = "../compute"

  prefix             = var.prefix
  names              = local.names
  architecture       = var.architecture
  functions          = module.contract.functions
  dynamodb_actions   = module.contract.dynamodb_actions
  layer              = module.contract.layer
  artifacts_bucket   = module.storage.bucket_name
  environment        = local.environment
  metrics_namespace  = module.contract.metrics.namespace
  log_level          = var.log_level
  log_retention_days = var.log_retention_days
  prefixes           = module.contract.prefixes
  bucket_arn         = module.storage.bucket_arn
  table_arn          = module.storage.table_arn
  kms_key_arn        = module.storage.kms_key_arn

  schema_object_key_pattern = module.contract.schema_object_key_pattern
}

module "orchestration" {
  source = "../orchestration"

  prefix        = var.prefix
  names         = local.names
  function_arns = module.compute.function_arns
  execution_ended_handler = {
    function = module.contract.execution_ended_function
    role_arn = module.compute.role_arns[module.contract.execution_ended_function]
  }
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
  names             = local.names
  state_machine_arn = module.orchestration.state_machine_arn
  function_names    = module.compute.function_names
  table_name        = module.storage.table_name
  events_dlq_name   = module.orchestration.events_dlq_name
  alarm_topic_arn   = module.orchestration.failure_topic_arn
  metrics_namespace = module.contract.metrics.namespace
  custom_metrics = {
    dimension         = module.contract.metrics.dimension
    dataset_dimension = module.contract.metrics.dataset_dimension
    emitted           = keys(module.contract.metrics.emitted)
  }
  datasets = local.dataset_names
}
