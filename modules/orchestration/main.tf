data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

# ---------------------------------------------------------------------------
# Notifications: SQS FIFO success queue, SNS failure topic
# ---------------------------------------------------------------------------

resource "aws_sqs_queue" "results" {
  name                        = local.names.results_queue
  fifo_queue                  = true
  content_based_deduplication = true
  message_retention_seconds   = var.results_queue.message_retention_seconds
  visibility_timeout_seconds  = var.results_queue.visibility_timeout_seconds
  kms_master_key_id           = var.kms_key_arn
  tags                        = var.tags
}

resource "aws_sns_topic" "failures" {
  name              = local.names.failure_topic
  display_name      = "ETL pipeline failure notifications"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sqs_queue_policy" "results" {
  queue_url = aws_sqs_queue.results.id
  policy    = data.aws_iam_policy_document.results_queue.json
}

resource "aws_sns_topic_policy" "failures" {
  arn    = aws_sns_topic.failures.arn
  policy = data.aws_iam_policy_document.failure_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.notification_emails

  topic_arn = aws_sns_topic.failures.arn
  protocol  = "email"
  endpoint  = each.value
}

# ---------------------------------------------------------------------------
# State machine (STANDARD), rendered from the shared template
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "state_machine" {
  # checkov:skip=CKV_AWS_338: retention is an input (default 30 days as in the seed); one year is the caller's choice, not a default
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sfn_state_machine" "this" {
  name     = local.state_machine_name
  type     = "STANDARD"
  role_arn = aws_iam_role.state_machine.arn

  definition = templatefile("${path.module}/templates/pipeline.asl.json", local.template_variables)

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = alltrue([for v in local.template_uses : contains(keys(local.template_variables), v)])
      error_message = "templates/pipeline.asl.json uses ${join(", ", sort(setsubtract(local.template_uses, keys(local.template_variables))))}, which function_arns (<name>_arn) and template_variables do not provide."
    }

    precondition {
      condition     = length(setsubtract(keys(local.template_variables), local.template_uses)) == 0 && alltrue([for v in values(local.template_variables) : v != null])
      error_message = "The template does not use ${join(", ", sort(setsubtract(keys(local.template_variables), local.template_uses)))}, or template_variables names a value this module does not provide: function_arns and template_variables (contract.json state_machine.variables) must be exactly what the template uses."
    }
  }

  depends_on = [aws_iam_role_policy.state_machine]
}

# ---------------------------------------------------------------------------
# Trigger: S3 Object Created under incoming/ -> EventBridge -> StartExecution
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "incoming" {
  name        = local.rule_name
  description = "Starts ${local.state_machine_name} for every object created under s3://${var.bucket_name}/${var.incoming_prefix}"

  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [var.bucket_name] }
      object = { key = [{ prefix = var.incoming_prefix }] }
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "state_machine" {
  rule       = aws_cloudwatch_event_rule.incoming.name
  target_id  = "start-pipeline"
  arn        = aws_sfn_state_machine.this.arn
  role_arn   = aws_iam_role.events.arn
  input_path = "$.detail"

  retry_policy {
    maximum_event_age_in_seconds = var.event_retry.maximum_event_age_in_seconds
    maximum_retry_attempts       = var.event_retry.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }
}

# ---------------------------------------------------------------------------
# Clean-up for executions no Catch saw end: an execution timeout, StopExecution, or a runtime
# error such as States.DataLimitExceeded ends an execution without MarkFailed. Step Functions
# sends "Execution Status Change" events to EventBridge; this rule hands those of this state
# machine that ended FAILED, TIMED_OUT or ABORTED to the execution-ended handler (mark_failed),
# which marks the file FAILED, removes its outputs and publishes the failure message, unless
# the execution ended in the FileFailed state (MarkFailed and NotifyFailure already ran).
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "execution_ended" {
  name        = local.names.ended_rule
  description = "Runs MarkFailed's clean-up for executions of ${local.state_machine_name} that end FAILED, TIMED_OUT or ABORTED"

  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["FAILED", "TIMED_OUT", "ABORTED"]
      stateMachineArn = [local.state_machine_arn]
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "execution_ended" {
  rule      = aws_cloudwatch_event_rule.execution_ended.name
  target_id = "clean-up"
  arn       = local.ended_function_arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_retry.maximum_event_age_in_seconds
    maximum_retry_attempts       = var.event_retry.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  lifecycle {
    precondition {
      condition     = local.ended_function_arn != null
      error_message = "execution_ended_handler.function (${var.execution_ended_handler.function}) is not a function_arns key."
    }
  }
}

# Only this rule may invoke the function through EventBridge.
resource "aws_lambda_permission" "execution_ended" {
  statement_id  = "AllowExecutionEndedRule"
  action        = "lambda:InvokeFunction"
  function_name = local.ended_function_arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.execution_ended.arn

  lifecycle {
    precondition {
      condition     = local.ended_function_arn != null
      error_message = "execution_ended_handler.function (${var.execution_ended_handler.function}) is not a function_arns key."
    }
  }
}

# The rule invokes the function asynchronously. A clean-up that fails is retried twice by
# Lambda and then recorded (the event, the error) in the dead-letter queue below, which is
# alarmed; without a destination Lambda would drop it. The role may send there first
# (the provider retries while that grant propagates).
resource "aws_lambda_function_event_invoke_config" "execution_ended" {
  function_name          = local.ended_function_arn
  maximum_retry_attempts = 2

  destination_config {
    on_failure {
      destination = aws_sqs_queue.events_dlq.arn
    }
  }

  depends_on = [aws_iam_role_policy.execution_ended_failures]

  lifecycle {
    precondition {
      condition     = local.ended_function_arn != null
      error_message = "execution_ended_handler.function (${var.execution_ended_handler.function}) is not a function_arns key."
    }
  }
}

# Events that EventBridge could not deliver after its retries, and the execution-ended
# function's invocations that failed after Lambda's retries.
resource "aws_sqs_queue" "events_dlq" {
  name                      = local.names.events_dlq
  message_retention_seconds = 1209600
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "events_dlq" {
  queue_url = aws_sqs_queue.events_dlq.id
  policy    = data.aws_iam_policy_document.events_dlq.json
}
