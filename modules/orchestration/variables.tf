variable "bucket_arn" {
  description = "ARN of the processing bucket (Distributed Map reads manifests from it)."
  type        = string
  nullable    = false
}

variable "bucket_name" {
  description = "Name of the processing bucket whose incoming/ objects trigger the pipeline."
  type        = string
  nullable    = false
}

variable "event_retry" {
  description = "EventBridge target retry policy before an event goes to the dead-letter queue."
  type = object({
    maximum_event_age_in_seconds = optional(number, 3600)
    maximum_retry_attempts       = optional(number, 24)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.event_retry.maximum_event_age_in_seconds >= 60 && var.event_retry.maximum_event_age_in_seconds <= 86400 && var.event_retry.maximum_retry_attempts >= 0 && var.event_retry.maximum_retry_attempts <= 185
    error_message = "maximum_event_age_in_seconds must be 60-86400 and maximum_retry_attempts 0-185."
  }
}

variable "execution_ended_handler" {
  description = "The function the execution-ended rule invokes (a function_arns key: contract.json state_machine.execution_ended_function) and its role's ARN. For every execution of this state machine that ends FAILED, TIMED_OUT or ABORTED (no Catch sees an execution timeout, StopExecution or States.DataLimitExceeded) it runs MarkFailed's clean-up and publishes the failure message; this module lets that role publish to the failure topic."
  type = object({
    function = string
    role_arn = string
  })
  nullable = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[^/]+$", var.execution_ended_handler.role_arn))
    error_message = "execution_ended_handler.role_arn must be the ARN of an IAM role without a path (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "function_arns" {
  description = "Lambda function ARNs keyed by contract name. Each becomes the template variable <name>_arn; every <name>_arn the template uses must have one (checked before the state machine is planned)."
  type        = map(string)
  nullable    = false

  validation {
    condition     = length(var.function_arns) > 0 && alltrue([for k, arn in var.function_arns : can(regex("^[a-z][a-z0-9_]*$", k)) && can(regex("^arn:aws[a-z-]*:lambda:", arn))])
    error_message = "function_arns must map snake_case function names to Lambda function ARNs."
  }
}

variable "incoming_prefix" {
  description = "Key prefix that triggers the pipeline (contract.json prefixes.incoming). Outputs are written elsewhere, so the pipeline never triggers itself."
  type        = string
  default     = "incoming/"
  nullable    = false
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the queues, the topic and the state machine log group."
  type        = string
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the state machine log group."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "manifests_prefix" {
  description = "Key prefix of the chunk manifests read by the Distributed Map ItemReader (contract.json prefixes.manifests)."
  type        = string
  default     = "manifests/"
  nullable    = false
}

variable "max_concurrency" {
  description = "Distributed Map MaxConcurrency: chunks processed in parallel per file (at most 50: the chunks' status transactions all check one DynamoDB item, docs/decisions.md)."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.max_concurrency >= 1 && var.max_concurrency <= 50 && floor(var.max_concurrency) == var.max_concurrency
    error_message = "max_concurrency must be an integer between 1 and 50: every chunk's status writes are DynamoDB transactions that condition-check the file's one status item, and past 50 concurrent chunks they conflict too often (docs/decisions.md, \"Chunk transactions on one file item\")."
  }
}

variable "names" {
  description = "Names of the FIFO results queue, the failure topic, the state machine, the EventBridge rule and its dead-letter queue, the execution-ended rule (contract.json `names`, rendered; modules/pipeline passes them)."
  type = object({
    results_queue        = string
    failure_topic        = string
    state_machine        = string
    event_rule           = string
    events_dlq           = string
    execution_ended_rule = string
  })
  nullable = false

  validation {
    condition     = endswith(var.names.results_queue, ".fifo")
    error_message = "names.results_queue must end in .fifo (it is a FIFO queue)."
  }
}

variable "notification_emails" {
  description = "Email addresses subscribed to the failure topic (each must confirm the subscription)."
  type        = set(string)
  default     = []
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

variable "processor_retry" {
  description = "Retry of a failed chunk (States.TaskFailed/States.Timeout): first interval, attempts and backoff multiplier (seed: 2 s, 3, 2.0)."
  type = object({
    interval_seconds = optional(number, 2)
    max_attempts     = optional(number, 3)
    backoff_rate     = optional(number, 2.0)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.processor_retry.interval_seconds >= 1 && var.processor_retry.max_attempts >= 0 && var.processor_retry.backoff_rate >= 1
    error_message = "processor_retry needs interval_seconds >= 1, max_attempts >= 0 and backoff_rate >= 1."
  }
}

variable "results_queue" {
  description = "Settings of the SQS FIFO success queue."
  type = object({
    message_retention_seconds  = optional(number, 604800)
    visibility_timeout_seconds = optional(number, 900)
  })
  default  = {}
  nullable = false
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider default_tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "template_variables" {
  description = "Non-ARN variables passed to templates/pipeline.asl.json (contract.json state_machine.variables); null passes all this module provides. Together with <name>_arn per function_arns key they must be exactly the variables the template uses (checked at plan)."
  type        = list(string)
  default     = null
}

variable "timeout_seconds" {
  description = "Execution timeout of the state machine (seed: 2 hours)."
  type        = number
  default     = 7200
  nullable    = false

  validation {
    condition     = var.timeout_seconds >= 60 && var.timeout_seconds <= 31536000
    error_message = "timeout_seconds must be between 60 and 31536000 (one year, the STANDARD maximum)."
  }
}
