variable "architecture" {
  description = "Instruction set of the functions and the layer: arm64 (Graviton, default) or x86_64. Must match the build manifest."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "artifacts_bucket" {
  description = "Bucket that receives the layer zip (too large for direct upload) under artifacts_key_prefix."
  type        = string
  nullable    = false
}

variable "artifacts_key_prefix" {
  description = "Key prefix for uploaded artifacts; the layer lands at <prefix>layers/<sha256>.zip."
  type        = string
  default     = "artifacts/"
  nullable    = false
}

variable "bucket_arn" {
  description = "ARN of the processing bucket the functions read and write (by prefix)."
  type        = string
  nullable    = false
}

variable "dynamodb_actions" {
  description = "DynamoDB item actions each function may call on the status table, keyed by function name (\"dynamodb:GetItem\", ...): exactly the calls its handler makes; modules/pipeline builds it from contract.json functions.*.dynamodb. Every function key must be present (an empty list grants none)."
  type        = map(list(string))
  nullable    = false

  validation {
    condition = alltrue(flatten([
      for actions in values(var.dynamodb_actions) : [
        for a in actions : contains(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem"], a)
      ]
    ]))
    error_message = "dynamodb_actions may only contain item actions: GetItem, PutItem, UpdateItem, Query, BatchWriteItem, BatchGetItem, ConditionCheckItem."
  }
}

variable "names" {
  description = "Name patterns: `function` with {function} (the functions key, \"_\" as \"-\") and `layer`. Null fields build \"<prefix>-{function}\" and \"<prefix>-deps\"; modules/pipeline passes contract.json `names`."
  type = object({
    function = optional(string)
    layer    = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.names.function == null || strcontains(coalesce(var.names.function, "{function}"), "{function}")
    error_message = "names.function must contain {function}, or every function would get the same name."
  }
}

variable "environment" {
  description = "Environment variables shared by every function, built by the caller from contract.json `env` names. POWERTOOLS_* variables are added here."
  type        = map(string)
  nullable    = false
}

variable "functions" {
  description = "Functions keyed by contract name (splitter, validator, ...): handler, description and S3 access by prefix name from contract.json (s3_list: prefixes the function may list although it does not delete there, e.g. so a missing key is a 404), the zip from the build manifest, sizing, and reserved_concurrency (null: unreserved; a number caps the function's concurrent executions across all files)."
  type = map(object({
    handler              = string
    description          = string
    zip_path             = string
    zip_base64sha256     = string
    s3_read              = optional(list(string), [])
    s3_write             = optional(list(string), [])
    s3_delete            = optional(list(string), [])
    s3_list              = optional(list(string), [])
    memory_mb            = optional(number, 1769)
    timeout_s            = optional(number, 900)
    ephemeral_storage_mb = optional(number, 512)
    reserved_concurrency = optional(number)
  }))
  nullable = false

  validation {
    condition     = alltrue([for k in keys(var.functions) : can(regex("^[a-z][a-z0-9_]*$", k))])
    error_message = "Function keys must be lowercase snake_case names (they become \"<prefix>-<name-with-hyphens>\")."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : f.memory_mb >= 128 && f.memory_mb <= 10240 && f.timeout_s >= 1 && f.timeout_s <= 900 && f.ephemeral_storage_mb >= 512 && f.ephemeral_storage_mb <= 10240])
    error_message = "memory_mb and ephemeral_storage_mb must be 128/512-10240 and timeout_s 1-900."
  }

  # 0 would throttle every invocation (Lambda's off switch); unset (null) means unreserved.
  validation {
    condition     = alltrue([for f in values(var.functions) : try(f.reserved_concurrency >= 1 && floor(f.reserved_concurrency) == f.reserved_concurrency, f.reserved_concurrency == null)])
    error_message = "reserved_concurrency must be null (unreserved) or a whole number of at least 1; 0 would stop the function. Lambda also keeps 100 of the account's concurrency unreserved, so the sum over all functions must stay below the account limit minus 100."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the bucket/table data, environment variables and log groups."
  type        = string
  nullable    = false
}

variable "layer" {
  description = "The pyarrow + powertools layer zip from the build manifest (local path, hex sha256 and base64 sha256)."
  type = object({
    path         = string
    sha256       = string
    base64sha256 = string
  })
  nullable = false
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL for every function."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }
}

variable "log_retention_days" {
  description = "Retention of the /aws/lambda/<name> log groups."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the custom metrics (contract.json metrics.namespace), set as POWERTOOLS_METRICS_NAMESPACE; the metrics are written as EMF through the logs, so no PutMetricData grant is needed."
  type        = string
  nullable    = false
}

variable "prefix" {
  description = "Name prefix for every resource (e.g. \"etl-dev\")."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "prefixes" {
  description = "S3 key prefixes by name, from contract.json `prefixes`; the functions' s3_* lists refer to these names."
  type        = map(string)
  nullable    = false
}

variable "runtime" {
  description = "Lambda runtime of the functions and the layer."
  type        = string
  default     = "python3.12"
  nullable    = false

  validation {
    condition     = can(regex("^python3\\.(1[2-9])$", var.runtime))
    error_message = "runtime must be python3.12 or newer (the layer is built for it)."
  }
}

variable "service_name" {
  description = "POWERTOOLS_SERVICE_NAME (also the `service` dimension of the custom metrics). Null uses the prefix."
  type        = string
  default     = null
}

variable "table_arn" {
  description = "ARN of the status table."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider default_tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}
