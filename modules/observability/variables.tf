variable "alarm_topic_arn" {
  description = "SNS topic notified when an alarm fires and when it recovers."
  type        = string
  nullable    = false
}

variable "alarms" {
  description = "Alarm tuning: evaluation period and how many periods must breach."
  type = object({
    period_seconds      = optional(number, 300)
    evaluation_periods  = optional(number, 1)
    datapoints_to_alarm = optional(number, 1)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarms.period_seconds) && var.alarms.datapoints_to_alarm <= var.alarms.evaluation_periods
    error_message = "period_seconds must be 60, 300, 900 or 3600 and datapoints_to_alarm <= evaluation_periods."
  }
}

variable "custom_metrics" {
  description = "The functions' custom metrics (contract.json `metrics`): the dimension they carry (valued names.service), the dataset dimension (valued with the dataset name) and the names emitted. The dashboard graphs only emitted metrics (checked at plan)."
  type = object({
    dimension         = string
    dataset_dimension = optional(string, "dataset")
    emitted           = set(string)
  })
  nullable = false
}

variable "datasets" {
  description = "Names of the deployment's datasets (modules/pipeline `datasets` keys): the dashboard has a row of rows valid/rejected and files completed/failed per dataset, and one line per dataset on the bytes, chunk seconds and read retries graphs. Alarms stay pipeline-wide."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.datasets) > 0 && length(distinct(var.datasets)) == length(var.datasets)
    error_message = "datasets needs at least one dataset name, each once."
  }
}

variable "dashboard_period_seconds" {
  description = "Default period of the dashboard graphs."
  type        = number
  default     = 300
  nullable    = false
}

variable "events_dlq_name" {
  description = "Name of the EventBridge dead-letter queue; any message there is an event that never started the pipeline."
  type        = string
  nullable    = false
}

variable "function_names" {
  description = "Lambda function names keyed by contract name."
  type        = map(string)
  nullable    = false
}

variable "metrics_namespace" {
  description = "Namespace of the pipeline's custom metrics (contract.json metrics.namespace)."
  type        = string
  nullable    = false
}

variable "names" {
  description = "Names (contract.json `names`, rendered; modules/pipeline passes them): `dashboard`; `service`, the value of the `service` dimension on the custom metrics (POWERTOOLS_SERVICE_NAME of the functions)."
  type = object({
    dashboard = string
    service   = string
  })
  nullable = false
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

variable "state_machine_arn" {
  description = "ARN of the pipeline state machine."
  type        = string
  nullable    = false
}

variable "table_name" {
  description = "Name of the status table."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags added to every alarm (on top of the provider default_tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}
