variable "architecture" {
  description = "Lambda architecture; must equal the build manifest's \"architecture\"."
  type        = string
  default     = "arm64"
  nullable    = false
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
  description = "Target chunk size in bytes (ETL_CHUNK_BYTES). Null uses contract.json defaults.chunk_bytes. At least 1 KiB in dev (tests fan a small file out into many chunks)."
  type        = number
  default     = null
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
}

variable "lifecycle_rules" {
  description = "Object lifecycle of the processing bucket (modules/storage lifecycle_rules: processed/ storage class and transition, expiries; empty: the module's defaults)."
  type        = any
  default     = {}
  nullable    = false
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
}

variable "max_gzip_ratio" {
  description = "Largest decompressed/compressed size ratio of a .csv.gz input (ETL_MAX_GZIP_RATIO), checked past the first MiB; more fails the file with DecompressedTooLarge. Null uses contract.json defaults.max_gzip_ratio."
  type        = number
  default     = null
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
}

variable "datasets" {
  description = "The CSV feeds this deployment serves, by dataset name (lower-case letters, digits, _): an object uploaded under incoming/<dataset>/ is typed by that dataset's schema_file. Null means { transactions = { schema_file = \"<repo>/schemas/transactions.json\" } }."
  type = map(object({
    schema_file = string
  }))
  default = null
}

variable "schema_file" {
  description = "Replaced by `datasets` (refused unless null)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra default tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
