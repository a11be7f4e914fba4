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

variable "datasets" {
  description = "The datasets this deployment serves, keyed by name: a file uploaded under incoming/<name>/ is processed with that dataset's Table Schema (schema_file; null: <repo>/schemas/<name>.json) and published under processed/<name>/v<major>/ and rejected/<name>/v<major>/, with its own Glue tables and dashboard graphs."
  type = map(object({
    schema_file = optional(string)
  }))
  default  = { transactions = {} }
  nullable = false

  validation {
    condition     = length(var.datasets) > 0
    error_message = "datasets needs at least one dataset, e.g. datasets = { transactions = { schema_file = \"schemas/transactions.json\" } }."
  }

  validation {
    condition     = alltrue([for name in keys(var.datasets) : can(regex("^[a-z][a-z0-9_]{0,62}$", name))])
    error_message = "Dataset names must be 1-63 lower-case letters, digits or \"_\", starting with a letter (the name is the first segment of the dataset's incoming/ keys and part of its Glue table names); rename: ${join(", ", [for name in keys(var.datasets) : name if !can(regex("^[a-z][a-z0-9_]{0,62}$", name))])}."
  }

  # The names reach every function in one environment variable (Lambda allows 4 KB in all).
  validation {
    condition     = length(join(",", keys(var.datasets))) <= 2048
    error_message = "The dataset names take ${length(join(",", keys(var.datasets)))} characters together (comma-separated); at most 2048 fit in the functions' environment: use shorter names or split the datasets over two deployments."
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
  description = "Object lifecycle of the processing bucket, passed to the storage module's lifecycle_rules (its README lists the attributes, defaults and checks; a null or absent attribute: that default)."
  type = object({
    processed_transition_after_days        = optional(number)
    processed_storage_class                = optional(string)
    processed_expire_after_days            = optional(number)
    transient_expire_after_days            = optional(number)
    transient_noncurrent_expire_after_days = optional(number)
    noncurrent_expire_after_days           = optional(number)
    noncurrent_versions_to_retain          = optional(number)
    # Renamed; declared so the storage module can refuse it by name (Terraform would drop an
    # undeclared attribute without a word).
    processed_glacier_after_days = optional(number)
  })
  default  = {}
  nullable = false
}

variable "limits" {
  description = "Limits of one file's processing, each set as its handler environment variable (contract.json `env`). chunk_bytes: target chunk size (ETL_CHUNK_BYTES), at least chunk_bytes_minimum. chunk_bytes_minimum: smallest chunk_bytes accepted, 1 MiB by default; an environment for tests may lower it to 1 KiB (the local run and e2e tests fan a small file out into many chunks). max_record_bytes: largest CSV record accepted (ETL_MAX_RECORD_BYTES). max_decompressed_bytes: largest decompressed size of a .csv.gz input (ETL_MAX_DECOMPRESSED_BYTES), at least 1 MiB; more fails the file with DecompressedTooLarge. max_gzip_ratio: largest decompressed/compressed size ratio of a .csv.gz input (ETL_MAX_GZIP_RATIO), checked past the first MiB; more fails the file with DecompressedTooLarge. max_chunks: most chunks one file may be planned into (ETL_MAX_CHUNKS, at most 50000); more fails the file with TooManyChunks. A null limit uses contract.json `defaults`."
  type = object({
    chunk_bytes            = optional(number)
    chunk_bytes_minimum    = optional(number, 1048576)
    max_record_bytes       = optional(number)
    max_decompressed_bytes = optional(number)
    max_gzip_ratio         = optional(number)
    max_chunks             = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.limits.chunk_bytes_minimum >= 1024
    error_message = "limits.chunk_bytes_minimum must be at least 1 KiB."
  }

  validation {
    condition     = var.limits.chunk_bytes == null || try(var.limits.chunk_bytes >= var.limits.chunk_bytes_minimum, false)
    error_message = "limits.chunk_bytes must be at least limits.chunk_bytes_minimum."
  }

  validation {
    condition     = var.limits.max_decompressed_bytes == null || try(var.limits.max_decompressed_bytes >= 1048576, false)
    error_message = "limits.max_decompressed_bytes must be at least 1 MiB."
  }

  validation {
    condition     = var.limits.max_gzip_ratio == null || try(var.limits.max_gzip_ratio >= 1, false)
    error_message = "limits.max_gzip_ratio must be at least 1."
  }

  validation {
    condition     = var.limits.max_chunks == null || try(var.limits.max_chunks >= 1 && var.limits.max_chunks <= 50000, false)
    error_message = "limits.max_chunks must be between 1 and 50000: the Distributed Map's result holds one child output per chunk and must stay under Step Functions' 256 KiB payload limit (docs/decisions.md, \"Bounded Map result\")."
  }
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

variable "max_concurrency" {
  description = "Distributed Map MaxConcurrency (chunks processed in parallel per file)."
  type        = number
  default     = 10
  nullable    = false
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

variable "schema_file" {
  description = "Replaced by `datasets` and refused: write datasets = { transactions = { schema_file = \"...\" } } instead."
  type        = string
  default     = null

  validation {
    condition     = var.schema_file == null
    error_message = "schema_file was replaced by datasets: write datasets = { transactions = { schema_file = \"${coalesce(var.schema_file, "-")}\" } } instead (and upload files under incoming/transactions/). An existing deployment upgrades in place; see docs/decisions.md, \"Datasets\"."
  }
}
