# envs/dev: what makes this environment dev. What every environment shares (pins, provider,
# deploy-time variables, moves, outputs) is in envs/shared, linked here file by file.
locals {
  environment = "dev"
}

module "pipeline" {
  source = "../../modules/pipeline"

  # Fully destroyable: no prevent_destroy, no deletion protection, a bucket Terraform may
  # empty, the shortest KMS deletion window; verbose logs kept a month.
  force_destroy                = true
  deletion_protection          = false
  retain                       = false
  kms_key_deletion_window_days = 7
  log_level                    = "DEBUG"
  log_retention_days           = 30

  # The local run and the e2e tests fan a small file out into 1 KiB chunks.
  limits            = merge(var.limits, { chunk_bytes_minimum = 1024 })
  max_concurrency   = var.max_concurrency
  processor_retry   = var.processor_retry
  function_settings = var.function_settings

  prefix              = coalesce(var.prefix, "etl-dev")
  architecture        = var.architecture
  artifacts_manifest  = var.artifacts_manifest
  datasets            = var.datasets
  schema_file         = var.schema_file
  notification_emails = var.notification_emails
}

# Chosen at deploy time in dev only: the local run and the tests set these.

variable "limits" {
  description = "modules/pipeline `limits` (null: contract.json defaults); chunk_bytes may go down to 1 KiB in dev."
  type = object({
    chunk_bytes            = optional(number)
    max_record_bytes       = optional(number)
    max_decompressed_bytes = optional(number)
    max_gzip_ratio         = optional(number)
    max_chunks             = optional(number)
  })
  default  = {}
  nullable = false
}

variable "max_concurrency" {
  description = "Distributed Map MaxConcurrency (chunks processed in parallel per file)."
  type        = number
  default     = 10
  nullable    = false
}

variable "processor_retry" {
  description = "Retry of a failed chunk: first interval (s), attempts, backoff (null: the orchestration module's defaults)."
  type = object({
    interval_seconds = optional(number)
    max_attempts     = optional(number)
    backoff_rate     = optional(number)
  })
  default  = {}
  nullable = false
}

variable "function_settings" {
  description = "Per-function sizing keyed by contract name, merged over the compute module's defaults (modules/pipeline `function_settings`)."
  type = map(object({
    memory_mb            = optional(number)
    timeout_s            = optional(number)
    ephemeral_storage_mb = optional(number)
  }))
  default  = {}
  nullable = false
}
