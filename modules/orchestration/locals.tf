locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  dns_suffix = data.aws_partition.current.dns_suffix

  names = {
    results_queue = var.names.results_queue
    failure_topic = var.names.failure_topic
    state_machine = var.names.state_machine
    event_rule    = var.names.event_rule
    events_dlq    = var.names.events_dlq
    ended_rule    = var.names.execution_ended_rule
  }
  state_machine_name = local.names.state_machine
  rule_name          = local.names.event_rule

  # Built from the name, not from aws_sfn_state_machine.this.arn: the machine's role
  # needs these ARNs (Distributed Map child executions), and the machine needs the role.
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"
  execution_arns = [
    "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}/*",
    "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}:*",
  ]
  # Built statically too, so the rendered definition is known at plan time (plan tests
  # and reviewers see the real document); these are the URL and ARN formats SQS and SNS return.
  results_queue_url = "https://sqs.${local.region}.${data.aws_partition.current.dns_suffix}/${local.account_id}/${aws_sqs_queue.results.name}"
  failure_topic_arn = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${aws_sns_topic.failures.name}"


  invoked_function_arns = flatten([
    for arn in values(var.function_arns) : [arn, "${arn}:*"]
  ])

  # The state machine template and the variables it is rendered with: <name>_arn for every
  # function, then the values this module owns, selected by var.template_variables.
  template      = file("${path.module}/templates/pipeline.asl.json")
  template_uses = toset([for m in regexall("\\$\\{(\\w+)\\}", local.template) : m[0]])
  template_values = {
    results_queue_url      = local.results_queue_url
    failure_topic_arn      = local.failure_topic_arn
    max_concurrency        = var.max_concurrency
    retry_interval_seconds = var.processor_retry.interval_seconds
    retry_max_attempts     = var.processor_retry.max_attempts
    retry_backoff_rate     = var.processor_retry.backoff_rate
    timeout_seconds        = var.timeout_seconds
  }
  template_variables = merge(
    { for name, arn in var.function_arns : "${name}_arn" => arn },
    { for name in coalesce(var.template_variables, keys(local.template_values)) : name => lookup(local.template_values, name, null) },
  )

  # Queue and topic policies: the resource, the send action denied to other IAM principals,
  # the IAM principals allowed to send (none: only the Allow's AWS service), and the actions
  # denied without TLS.
  message_guards = {
    results_queue = { arn = aws_sqs_queue.results.arn, send_action = "sqs:SendMessage", senders = [aws_iam_role.state_machine.arn], tls_actions = "sqs:*" }
    events_dlq    = { arn = aws_sqs_queue.events_dlq.arn, send_action = "sqs:SendMessage", senders = [var.execution_ended_handler.role_arn], tls_actions = "sqs:*" }
    failure_topic = { arn = aws_sns_topic.failures.arn, send_action = "sns:Publish", senders = [aws_iam_role.state_machine.arn, var.execution_ended_handler.role_arn], tls_actions = "sns:Publish" }
  }

  # The execution-ended rule's function and the name of its role (the role ARN has no path).
  ended_function_arn = lookup(var.function_arns, var.execution_ended_handler.function, null)
  ended_role_name    = element(split("/", var.execution_ended_handler.role_arn), 1)

  # The state machine's uses of the pipeline key: per service, for this pipeline's resource.
  kms_grants = {
    UsePipelineKeyForResultsQueue = { actions = ["kms:Decrypt", "kms:GenerateDataKey"], service = "sqs", context_key = "kms:EncryptionContext:aws:sqs:arn", context = aws_sqs_queue.results.arn }
    UsePipelineKeyForFailureTopic = { actions = ["kms:Decrypt", "kms:GenerateDataKey"], service = "sns", context_key = "kms:EncryptionContext:aws:sns:topicArn", context = aws_sns_topic.failures.arn }
    DecryptChunkManifests         = { actions = ["kms:Decrypt"], service = "s3", context_key = "kms:EncryptionContext:aws:s3:arn", context = var.bucket_arn }
  }

  # Each role's grants (data.aws_iam_policy_document.kms_grants): the state machine's, and the
  # execution-ended function's, which publishes to the failure topic (SNS only).
  role_kms_grants = {
    state_machine           = local.kms_grants
    execution_ended_handler = { for sid, g in local.kms_grants : sid => g if g.service == "sns" }
    # Lambda sends the handler's failed invocations to the events dead-letter queue.
    execution_ended_failures = {
      UsePipelineKeyForEventsDlq = { actions = ["kms:Decrypt", "kms:GenerateDataKey"], service = "sqs", context_key = "kms:EncryptionContext:aws:sqs:arn", context = aws_sqs_queue.events_dlq.arn }
    }
  }
}
