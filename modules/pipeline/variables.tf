variable "architecture" {
  description = "Lambda architecture; must equal the build manifest's \"architecture\"."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "artifacts_manifest" {
  description = "Path of the build manifest written by build.py (artifact paths in it are relative to the repository root). Null means <repo>/dist/manifest.json."
  type        = string
  default     = null
}

variable "bucket_name" {
  description = "Processing bucket name. Null uses contract.json names.bucket (\"<prefix>-processing-<account_id>\")."
  type        = string
  default     = null
}

variable "chunk_bytes" {
  description = "Target chunk size in bytes (ETL_CHUNK_BYTES). Null uses contract.json defaults.chunk_bytes."
  type        = number
  default     = null

  validation {
    condition     = var.chunk_bytes == null || try(var.chunk_bytes >= var.chunk_bytes_minimum, false)
    error_message = "chunk_bytes must be at least chunk_bytes_minimum."
  }
}

variable "chunk_bytes_minimum" {
  description = "Smallest chunk_bytes accepted: 1 MiB by default; an environment for tests may lower it to 1 KiB (the local run and e2e tests fan a small file out into many chunks)."
  type        = number
  default     = 1048576
  nullable    = false

  validation {
    condition     = var.chunk_bytes_minimum >= 1024
    error_message = "chunk_bytes_minimum must be at least 1 KiB."
  }
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection on the status table."
  type        = bool
  default     = true
  nullable    = false
}

variable "force_destroy" {
  description = "Let Terraform delete the bucket with all its objects and versions (dev only)."
  type        = bool
  default     = false
  nullable    = false
}

variable "function_settings" {
  description = "Per-function sizing keyed by contract name, merged over the compute module defaults (1769 MB = one vCPU, chosen by bench/cost.py; 900 s, 512 MB /tmp; the processor streams its Parquet to S3 and needs no more /tmp). Reserved concurrency is set with reserved_concurrency."
  type = map(object({
    memory_mb            = optional(number)
    timeout_s            = optional(number)
    ephemeral_storage_mb = optional(number)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for k in keys(var.function_settings) : contains(local.function_keys, k)])
    error_message = "function_settings keys must be contract function names."
  }
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period (7-30 days) before the pipeline KMS key is deleted."
  type        = number
  default     = 30
  nullable    = false
}

variable "lifecycle_rules" {
  description = "Object lifecycle of the processing bucket, passed to the storage module's lifecycle_rules (its README lists the attributes, defaults and checks; empty: those defaults)."
  type        = any
  default     = {}
  nullable    = false
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the Lambda and state machine log groups."
  type        = number
  default     = 365
  nullable    = false
}

variable "max_chunks" {
  description = "Most chunks one file may be planned into (ETL_MAX_CHUNKS); more fails the file with TooManyChunks. Null uses contract.json defaults.max_chunks."
  type        = number
  default     = null

  validation {
    condition     = var.max_chunks == null || try(var.max_chunks >= 1, false)
    error_message = "max_chunks must be at least 1."
  }
}

variable "max_concurrency" {
  description = "Distributed Map MaxConcurrency (chunks processed in parallel per file)."
  type        = number
  default     = 10
  nullable    = false
}

variable "max_decompressed_bytes" {
  description = "Largest decompressed size of a .csv.gz input (ETL_MAX_DECOMPRESSED_BYTES); more fails the file with DecompressedTooLarge. Null uses contract.json defaults.max_decompressed_bytes."
  type        = number
  default     = null

  validation {
    condition     = var.max_decompressed_bytes == null || try(var.max_decompressed_bytes >= 1048576, false)
    error_message = "max_decompressed_bytes must be at least 1 MiB."
  }
}

variable "max_gzip_ratio" {
  description = "Largest decompressed/compressed size ratio of a .csv.gz input (ETL_MAX_GZIP_RATIO), checked past the first MiB; more fails the file with DecompressedTooLarge. Null uses contract.json defaults.max_gzip_ratio."
  type        = number
  default     = null

  validation {
    condition     = var.max_gzip_ratio == null || try(var.max_gzip_ratio >= 1, false)
    error_message = "max_gzip_ratio must be at least 1."
  }
}

variable "max_record_bytes" {
  description = "Largest CSV record accepted (ETL_MAX_RECORD_BYTES). Null uses contract.json defaults.max_record_bytes."
  type        = number
  default     = null
}

variable "notification_emails" {
  description = "Email addresses subscribed to the failure topic (pipeline failures and alarms)."
  type        = set(string)
  default     = []
  nullable    = false
}

variable "prefix" {
  description = "Name prefix of every resource ({prefix} in contract.json `names`)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "processor_retry" {
  description = "Retry of a failed chunk: first interval (s), attempts, backoff (null fields: the orchestration module's defaults 2 s, 3, 2.0)."
  type = object({
    interval_seconds = optional(number)
    max_attempts     = optional(number)
    backoff_rate     = optional(number)
  })
  default  = {}
  nullable = false
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function, keyed by contract name (null or absent: unreserved). It caps the function's concurrent executions across ALL files, while max_concurrency caps chunks per file: N files in flight ask for up to N x max_concurrency processors. Keep the processor's value >= max_concurrency. The sum must leave the account's 100 unreserved executions."
  type        = map(number)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for k, v in var.reserved_concurrency : contains(local.function_keys, k) && try(v >= 1 && floor(v) == v, false)])
    error_message = "reserved_concurrency keys must be contract function names (lambdas/etl/contract.json functions) and values whole numbers of at least 1 (0 would stop the function; leave a function out to keep it unreserved)."
  }

  validation {
    condition     = lookup(var.reserved_concurrency, "processor", null) == null || try(var.reserved_concurrency["processor"] >= var.max_concurrency, false)
    error_message = "reserved_concurrency.processor must be at least max_concurrency: otherwise even one file throttles itself on every chunk wave."
  }
}

variable "retain" {
  description = "Protect the bucket, table and KMS key with prevent_destroy (the storage module's `retain`). Decide it when you first apply: switching it on an existing deployment needs the state moves in the storage module README."
  type        = bool
  default     = true
  nullable    = false
}

variable "datasets" {
  description = "The CSV feeds this deployment serves, by dataset name (lower-case letters, digits, _): an object uploaded under incoming/<dataset>/ is typed by that dataset's schema_file (uploaded to config/schemas/<dataset>.json). Null means { transactions = { schema_file = \"<repo>/schemas/transactions.json\" } }."
  type = map(object({
    schema_file = string
  }))
  default = null

  validation {
    condition     = var.datasets == null || alltrue([for name in keys(coalesce(var.datasets, {})) : can(regex("^[a-z][a-z0-9_]{0,62}$", name))])
    error_message = "Every datasets key must match ^[a-z][a-z0-9_]{0,62}$ (lower-case letters, digits and _, starting with a letter): it names the incoming/<dataset>/ prefix and the Glue tables."
  }
}

variable "schema_file" {
  description = "Replaced by `datasets`: must stay null."
  type        = string
  default     = null

  validation {
    condition     = var.schema_file == null
    error_message = "schema_file is replaced by datasets: write datasets = { transactions = { schema_file = \"<the same path>\" } } and upload files under incoming/transactions/."
  }
}
