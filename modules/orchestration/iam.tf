# ---------------------------------------------------------------------------
# State machine role
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "states_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${local.state_machine_name}-sfn"
  description        = "Role of the ${local.state_machine_name} state machine."
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
  tags               = var.tags
}

# The pipeline key, once for each role that uses it (local.role_kms_grants): the queue, the
# topic and the manifests are encrypted with it, and each use is limited to the service that
# makes it (kms:ViaService) and to this pipeline's resource (the service's encryption context).
# Each role's policy merges its instance through source_policy_documents.
data "aws_iam_policy_document" "kms_grants" {
  for_each = local.role_kms_grants

  dynamic "statement" {
    for_each = local.role_kms_grants[each.key]
    content {
      sid       = statement.key
      effect    = "Allow"
      actions   = statement.value.actions
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["${statement.value.service}.${local.region}.${local.dns_suffix}"]
      }

      condition {
        test     = "StringEquals"
        variable = statement.value.context_key
        values   = [statement.value.context]
      }
    }
  }
}

data "aws_iam_policy_document" "state_machine" {
  source_policy_documents = [data.aws_iam_policy_document.kms_grants["state_machine"].json]

  statement {
    sid       = "InvokePipelineFunctions"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = local.invoked_function_arns
  }

  statement {
    sid       = "SendSuccessMessage"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.results.arn]
  }

  statement {
    sid       = "PublishFailure"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.failures.arn]
  }

  # Distributed Map: the ItemReader reads the chunk manifest ...
  statement {
    sid       = "ReadChunkManifests"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arn}/${var.manifests_prefix}*"]
  }

  # ... and the map runs child executions of this same state machine.
  statement {
    sid       = "StartChildExecutions"
    effect    = "Allow"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "ManageChildExecutions"
    effect    = "Allow"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = local.execution_arns
  }

  # X-Ray trace APIs have no resource-level permissions: AWS requires Resource "*".
  statement {
    sid    = "XRayTracing"
    effect = "Allow"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }

  # Vended-logs delivery for logging_configuration: these CloudWatch Logs actions do not
  # support resource-level permissions, AWS documents Resource "*" for them.
  statement {
    sid    = "CloudWatchLogsDelivery"
    effect = "Allow"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "pipeline"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

# ---------------------------------------------------------------------------
# EventBridge target role: start this state machine, nothing else
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "events_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "events" {
  name               = "${local.rule_name}-events"
  description        = "Lets the ${local.rule_name} rule start ${local.state_machine_name}."
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "events" {
  statement {
    sid       = "StartPipeline"
    effect    = "Allow"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }
}

resource "aws_iam_role_policy" "events" {
  name   = "start-pipeline"
  role   = aws_iam_role.events.id
  policy = data.aws_iam_policy_document.events.json
}

# ---------------------------------------------------------------------------
# Resource policies of the queues and the topic. Same-account IAM principals would
# otherwise be able to send/publish through their own identity policies, so besides naming
# the one sender each policy denies everyone else (IAM principals other than the sender;
# AWS service principals carry aws:PrincipalServiceName and are limited by the Allow and
# the key policy), and denies every request without TLS.
# ---------------------------------------------------------------------------

# The two statements every queue and topic policy holds, once: deny senders other than the
# one allowed IAM principal (IAM principals only; AWS services are limited by the Allow and
# the key policy), and deny every request without TLS. Each policy below adds its Allow.
data "aws_iam_policy_document" "message_guard" {
  for_each = local.message_guards

  statement {
    sid       = "DenyOtherSenders"
    effect    = "Deny"
    actions   = [each.value.send_action]
    resources = [each.value.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    dynamic "condition" {
      for_each = length(each.value.senders) == 0 ? [] : [each.value.senders]
      content {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = condition.value
      }
    }

    condition {
      test     = "Null"
      variable = "aws:PrincipalServiceName"
      values   = ["true"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = [each.value.tls_actions]
    resources = [each.value.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# Results FIFO queue: only the state machine (NotifySuccess) sends; consumers receive
# through their own IAM policies.
data "aws_iam_policy_document" "results_queue" {
  source_policy_documents = [data.aws_iam_policy_document.message_guard["results_queue"].json]

  statement {
    sid       = "AllowStateMachineToSend"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.results.arn]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.state_machine.arn]
    }
  }
}

# EventBridge dead-letter queue: only this module's rules' dead letters and the execution-ended
# function's failed invocations (Lambda sends those as the function's role).
data "aws_iam_policy_document" "events_dlq" {
  source_policy_documents = [data.aws_iam_policy_document.message_guard["events_dlq"].json]

  statement {
    sid       = "AllowRuleDeadLetters"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events_dlq.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.incoming.arn, aws_cloudwatch_event_rule.execution_ended.arn]
    }
  }
}

# Failure topic: the state machine (NotifyFailure), the execution-ended rule's function and
# this pipeline's CloudWatch alarms publish; nobody else.
data "aws_iam_policy_document" "failure_topic" {
  source_policy_documents = [data.aws_iam_policy_document.message_guard["failure_topic"].json]

  statement {
    sid       = "AllowStateMachineToPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.failures.arn]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.state_machine.arn]
    }
  }

  statement {
    sid       = "AllowExecutionEndedHandlerToPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.failures.arn]

    principals {
      type        = "AWS"
      identifiers = [var.execution_ended_handler.role_arn]
    }
  }

  statement {
    sid       = "AllowPipelineAlarmsToPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.failures.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.prefix}-*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# ---------------------------------------------------------------------------
# The execution-ended rule's function publishes the failure message itself: sns:Publish on
# the failure topic and the key through SNS for that topic only (local.role_kms_grants: the
# state machine's grant, filtered to SNS). Attached to the function's role here, where the topic is.
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "execution_ended_handler" {
  source_policy_documents = [data.aws_iam_policy_document.kms_grants["execution_ended_handler"].json]

  statement {
    sid       = "PublishFailure"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.failures.arn]
  }
}

resource "aws_iam_role_policy" "execution_ended_handler" {
  name   = "publish-failures"
  role   = local.ended_role_name
  policy = data.aws_iam_policy_document.execution_ended_handler.json
}

# Lambda records the execution-ended function's failed invocations in the events dead-letter
# queue as the function's role: sqs:SendMessage on that queue and the key through SQS for it.
data "aws_iam_policy_document" "execution_ended_failures" {
  source_policy_documents = [data.aws_iam_policy_document.kms_grants["execution_ended_failures"].json]

  statement {
    sid       = "RecordFailedCleanUps"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events_dlq.arn]
  }
}

resource "aws_iam_role_policy" "execution_ended_failures" {
  name   = "record-failed-clean-ups"
  role   = local.ended_role_name
  policy = data.aws_iam_policy_document.execution_ended_failures.json
}
