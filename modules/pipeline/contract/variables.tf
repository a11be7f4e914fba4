variable "account_id" {
  description = "AWS account id substituted for {account_id} in the contract's name patterns."
  type        = string
  nullable    = false
}

variable "artifacts_manifest" {
  description = "Path of the build manifest written by build.py. Null means <repo>/dist/manifest.json."
  type        = string
  default     = null
}

variable "artifacts_root" {
  description = "Directory the manifest's artifact paths are relative to. Null means the repository root."
  type        = string
  default     = null
}

variable "contract_file" {
  description = "Path of contract.json. Null means <repo>/lambdas/etl/contract.json."
  type        = string
  default     = null
}

variable "function_settings" {
  description = "Per-function sizing keyed by contract name (memory_mb, timeout_s, ephemeral_storage_mb), merged over the compute module defaults."
  type = map(object({
    memory_mb            = optional(number)
    timeout_s            = optional(number)
    ephemeral_storage_mb = optional(number)
  }))
  default  = {}
  nullable = false
}

variable "prefix" {
  description = "Deployment prefix substituted for {prefix} in the contract's name patterns."
  type        = string
  nullable    = false
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function, keyed by contract name (absent: unreserved)."
  type        = map(number)
  default     = {}
  nullable    = false
}
