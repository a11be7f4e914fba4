variable "abort_incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 7
  nullable    = false
}

variable "bucket_name" {
  description = "Name of the processing bucket. Null builds \"<prefix>-processing-<account_id>\"."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 characters of lowercase letters, digits, dots and hyphens."
  }
}

variable "catalog" {
  description = "Glue Data Catalog tables over processed/ and rejected/ (queryable with Athena). database_name defaults to the prefix with dashes as underscores."
  type = object({
    enabled       = optional(bool, true)
    database_name = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.catalog.database_name == null || can(regex("^[a-z0-9_]{1,255}$", var.catalog.database_name))
    error_message = "catalog.database_name may hold lowercase letters, digits and underscores only."
  }
}

variable "deletion_protection" {
  description = "Enable DynamoDB deletion protection on the status table (true in prod)."
  type        = bool
  default     = true
  nullable    = false
}

variable "force_destroy" {
  description = "Allow Terraform to delete the bucket with all its objects and versions (dev only)."
  type        = bool
  default     = false
  nullable    = false
}

variable "kms_key_arn" {
  description = "ARN of an existing customer-managed KMS key. Null creates one (with rotation) in this module."
  type        = string
  default     = null
}

variable "kms_alias_name" {
  description = "Alias of the KMS key created here. Null builds \"alias/<prefix>-etl\"."
  type        = string
  default     = null

  validation {
    condition     = var.kms_alias_name == null || startswith(coalesce(var.kms_alias_name, "-"), "alias/")
    error_message = "kms_alias_name must start with \"alias/\"."
  }
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before a KMS key created here is deleted (7-30 days)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be between 7 and 30."
  }
}

variable "lifecycle_rules" {
  description = "Object lifecycle. processed/: move to processed_storage_class (GLACIER_IR, INTELLIGENT_TIERING or STANDARD_IA, all read by Athena; STANDARD: never move) after processed_transition_after_days, optional expiry. Scratch prefixes (work/, staging/, manifests/): current objects expire after transient_expire_after_days, noncurrent versions after transient_noncurrent_expire_after_days. Everywhere: noncurrent versions expire after noncurrent_expire_after_days, keeping the noncurrent_versions_to_retain newest (0: none; never in the scratch prefixes); expired delete markers are removed."
  type = object({
    processed_transition_after_days        = optional(number, 30)
    processed_storage_class                = optional(string, "GLACIER_IR")
    processed_expire_after_days            = optional(number)
    transient_expire_after_days            = optional(number, 7)
    transient_noncurrent_expire_after_days = optional(number, 1)
    noncurrent_expire_after_days           = optional(number, 30)
    noncurrent_versions_to_retain          = optional(number, 0)
    # Renamed attribute, declared only to refuse it: Terraform drops attributes an object
    # type does not declare, so an old caller's setting would be ignored without a word.
    processed_glacier_after_days = optional(any)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.lifecycle_rules.processed_glacier_after_days == null
    error_message = "lifecycle_rules.processed_glacier_after_days was renamed: set processed_transition_after_days (and processed_storage_class; GLACIER_IR by default) instead."
  }

  validation {
    condition = alltrue([
      for d in [
        var.lifecycle_rules.processed_transition_after_days,
        var.lifecycle_rules.transient_expire_after_days,
        var.lifecycle_rules.transient_noncurrent_expire_after_days,
        var.lifecycle_rules.noncurrent_expire_after_days,
        coalesce(var.lifecycle_rules.processed_expire_after_days, 1),
      ] : d >= 1 && floor(d) == d
    ])
    error_message = "Lifecycle day counts must be whole numbers of at least 1."
  }

  # Athena skips objects in GLACIER (Flexible Retrieval) and DEEP_ARCHIVE: the processed
  # table would silently lose rows. Only classes Athena reads directly are accepted.
  validation {
    condition     = contains(["STANDARD", "GLACIER_IR", "INTELLIGENT_TIERING", "STANDARD_IA"], var.lifecycle_rules.processed_storage_class)
    error_message = "lifecycle_rules.processed_storage_class must be GLACIER_IR, INTELLIGENT_TIERING, STANDARD_IA or STANDARD (no transition): Athena does not read GLACIER or DEEP_ARCHIVE objects, so the processed table would silently lose rows. To archive, copy processed/ elsewhere; to stop paying for it, set processed_expire_after_days."
  }

  validation {
    condition     = var.lifecycle_rules.processed_storage_class != "STANDARD_IA" || var.lifecycle_rules.processed_transition_after_days >= 30
    error_message = "S3 moves objects to STANDARD_IA after 30 days at the earliest: set lifecycle_rules.processed_transition_after_days to 30 or more, or choose GLACIER_IR or INTELLIGENT_TIERING."
  }

  validation {
    condition     = var.lifecycle_rules.processed_expire_after_days == null || var.lifecycle_rules.processed_storage_class == "STANDARD" || coalesce(var.lifecycle_rules.processed_expire_after_days, 0) > var.lifecycle_rules.processed_transition_after_days
    error_message = "lifecycle_rules.processed_expire_after_days must be greater than processed_transition_after_days (S3 refuses an expiry at or before the transition); or set processed_storage_class = \"STANDARD\" to expire without a transition."
  }

  validation {
    condition     = var.lifecycle_rules.noncurrent_versions_to_retain >= 0 && var.lifecycle_rules.noncurrent_versions_to_retain <= 100 && floor(var.lifecycle_rules.noncurrent_versions_to_retain) == var.lifecycle_rules.noncurrent_versions_to_retain
    error_message = "lifecycle_rules.noncurrent_versions_to_retain must be a whole number from 0 to 100 (the S3 maximum)."
  }
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
  description = "S3 key prefixes by role, from contract.json `prefixes` (incoming, staging, manifests, work, processed, rejected, config)."
  type        = map(string)
  nullable    = false

  validation {
    condition     = alltrue([for k in ["incoming", "staging", "manifests", "work", "processed", "rejected", "config"] : contains(keys(var.prefixes), k)])
    error_message = "prefixes must contain incoming, staging, manifests, work, processed, rejected and config."
  }
}

variable "retain" {
  description = "Protect the bucket, table and KMS key with lifecycle prevent_destroy (prod). Terraform cannot set prevent_destroy from a variable, so this selects between a protected and an unprotected resource block: decide it when you first apply. Setting it to true on an existing deployment plans to DESTROY the unprotected bucket, table and key unless you move them in the state first (see the module README)."
  type        = bool
  default     = false
  nullable    = false
}

variable "schema_file" {
  description = "Local path of the schema JSON the Glue tables are typed from."
  type        = string
  nullable    = false
}

variable "datasets" {
  description = "Datasets by name, each with the local path of its schema JSON, uploaded to schema_object_key_pattern with {dataset} = the name."
  type = map(object({
    schema_file = string
  }))
  nullable = false
}

variable "schema_object_key_pattern" {
  description = "Object key of a dataset's schema in the bucket (contract.json `schema_object_key_pattern`)."
  type        = string
  default     = "config/schemas/{dataset}.json"
  nullable    = false
}

variable "table_name" {
  description = "Name of the status table. Null builds \"<prefix>-status\"."
  type        = string
  default     = null
}

variable "table_key" {
  description = "Partition and sort key names of the status table (both strings), e.g. contract.json `table`."
  type = object({
    partition_key = string
    sort_key      = string
  })
  nullable = false

  validation {
    condition     = var.table_key.partition_key != var.table_key.sort_key && length(var.table_key.partition_key) > 0 && length(var.table_key.sort_key) > 0
    error_message = "table_key needs two different, non-empty key names."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider default_tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "ttl_attribute" {
  description = "Name of the DynamoDB TTL attribute (epoch seconds). Null disables TTL."
  type        = string
  default     = null
}
