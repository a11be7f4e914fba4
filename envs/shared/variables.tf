# Linked into every environment root (envs/<env>/variables.tf -> ../shared/variables.tf):
# what is chosen when deploying, in any environment. Everything else an environment sets is a
# literal in its main.tf.

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

variable "datasets" {
  description = "The datasets, keyed by name (files go under incoming/<name>/), each with its Table Schema file (null: <repo>/schemas/<name>.json). See modules/pipeline."
  type = map(object({
    schema_file = optional(string)
  }))
  default  = { transactions = {} }
  nullable = false
}

variable "notification_emails" {
  description = "Email addresses subscribed to the failure topic (pipeline failures and alarms)."
  type        = set(string)
  default     = []
  nullable    = false
}

variable "prefix" {
  description = "Name prefix of every resource ({prefix} in contract.json `names`). Null: the environment's own (etl-dev, etl-prod)."
  type        = string
  default     = null
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
  nullable    = false
}

variable "schema_file" {
  description = "Replaced by datasets and refused (modules/pipeline says what to write instead)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra default tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
