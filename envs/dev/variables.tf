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
  description = "Path of the build manifest written by build.py. Null means <repo>/dist/manifest.json."
  type        = string
  default     = null
}

variable "bucket_name" {
  description = "Processing bucket name. Null builds \"<prefix>-processing-<account_id>\"."
  type        = string
  default     = null
}

variable "chunk_bytes" {
  description = "Target chunk size in bytes (ETL_CHUNK_BYTES). Null uses contract.json defaults.chunk_bytes. Values under 1 MiB are for tests (the local run and e2e tests fan a small file out into many chunks)."
  type        = number
  default     = null

  validation {
    condition     = var.chunk_bytes == null || try(var.chunk_bytes >= 1024, false)
    error_message = "chunk_bytes must be at least 1 KiB."
  }
}

variable "function_settings" {
  description = "Per-function sizing keyed by contract name, merged over the compute module defaults (3072 MB, 900 s, 512 MB /tmp; the processor streams its Parquet to S3 and needs no more /tmp). Reserved concurrency is set with reserved_concurrency."
  type = map(object({
    memory_mb            = optional(number)
    timeout_s            = optional(number)
    ephemeral_storage_mb = optional(number)
  }))
  default  = {}
  nullable = false
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of the functions."
  type        = string
  default     = "DEBUG"
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the Lambda and state machine log groups."
  type        = number
  default     = 30
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

variable "notification_email" {
  description = "Optional email subscribed to the failure topic (pipeline failures and alarms)."
  type        = string
  default     = null
}

variable "processor_retry" {
  description = "Retry of a failed chunk: first interval (s), attempts, backoff (orchestration module; defaults 2 s, 3, 2.0)."
  type = object({
    interval_seconds = optional(number, 2)
    max_attempts     = optional(number, 3)
    backoff_rate     = optional(number, 2.0)
  })
  default  = {}
  nullable = false
}

variable "prefix" {
  description = "Name prefix of every resource."
  type        = string
  default     = "etl-dev"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
  nullable    = false
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function, keyed by contract name (null or absent: unreserved). It caps the function's concurrent executions across ALL files, while max_concurrency caps chunks per file: N files in flight ask for up to N x max_concurrency processors. Keep the processor's value >= max_concurrency; dev leaves every function unreserved. The sum must leave the account's 100 unreserved executions."
  type        = map(number)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for k, v in var.reserved_concurrency : contains(keys(local.contract.functions), k) && try(v >= 1 && floor(v) == v, false)])
    error_message = "reserved_concurrency keys must be contract function names (splitter, validator, processor, finalizer, mark_failed) and values whole numbers of at least 1 (0 would stop the function; leave a function out to keep it unreserved)."
  }

  validation {
    condition     = lookup(var.reserved_concurrency, "processor", null) == null || try(var.reserved_concurrency["processor"] >= var.max_concurrency, false)
    error_message = "reserved_concurrency.processor must be at least max_concurrency: otherwise even one file throttles itself on every chunk wave."
  }
}

variable "schema_file" {
  description = "Schema JSON uploaded to config/schema.json. Null means <repo>/schemas/transactions.json."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra default tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
