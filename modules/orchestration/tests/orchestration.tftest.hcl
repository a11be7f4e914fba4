# The orchestration module's contract: the state machine rendered from the shared template
# with the inputs and this module's queue and topic, the S3 -> EventBridge trigger with its
# dead-letter queue, and the outputs. Mocked provider: no AWS, no credentials.
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}

run "state_machine_is_the_rendered_template" {
  command = plan

  assert {
    condition     = aws_sfn_state_machine.this.name == "etl-test-pipeline" && aws_sfn_state_machine.this.type == "STANDARD" && aws_sfn_state_machine.this.role_arn == aws_iam_role.state_machine.arn
    error_message = "A STANDARD machine <prefix>-pipeline with its own role."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).TimeoutSeconds == 7200 && jsondecode(aws_sfn_state_machine.this.definition).States.ProcessChunks.MaxConcurrency == 10
    error_message = "Seed defaults: 2 h timeout, 10 chunks in parallel."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Split.Parameters.FunctionName == var.function_arns["splitter"] && jsondecode(aws_sfn_state_machine.this.definition).States.ProcessChunks.ItemProcessor.States.ProcessChunk.Parameters.FunctionName == var.function_arns["processor"] && jsondecode(aws_sfn_state_machine.this.definition).States.MarkFailed.Parameters.FunctionName == var.function_arns["mark_failed"]
    error_message = "Each Task invokes the function of its contract name."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.NotifySuccess.Parameters.QueueUrl == aws_sqs_queue.results.url
    error_message = "The URL built at plan time is the URL SQS returns for the results queue."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.NotifyFailure.Parameters.TopicArn == aws_sns_topic.failures.arn
    error_message = "The ARN built at plan time is the ARN SNS returns for the failure topic."
  }
  assert {
    condition     = aws_sfn_state_machine.this.logging_configuration[0].log_destination == "${aws_cloudwatch_log_group.state_machine.arn}:*" && aws_sfn_state_machine.this.logging_configuration[0].level == "ALL" && aws_sfn_state_machine.this.tracing_configuration[0].enabled == true
    error_message = "Full execution logging to the module's log group, and X-Ray tracing."
  }
  assert {
    condition     = aws_cloudwatch_log_group.state_machine.name == "/aws/vendedlogs/states/etl-test-pipeline" && aws_cloudwatch_log_group.state_machine.kms_key_id == var.kms_key_arn
    error_message = "The execution log group is a vended-logs group encrypted with the pipeline key."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.state_machine.statement : s.resources if s.sid == "StartChildExecutions"]) == toset([aws_sfn_state_machine.this.arn])
    error_message = "The machine's role may start executions of this machine only (the ARN built from its name is its ARN)."
  }
  assert {
    condition     = length(one([for s in data.aws_iam_policy_document.state_machine.statement : s.resources if s.sid == "InvokePipelineFunctions"])) == 10
    error_message = "The role invokes the five functions and their versions, nothing else."
  }
  assert {
    condition     = output.state_machine_arn == aws_sfn_state_machine.this.arn && output.state_machine_name == "etl-test-pipeline" && output.state_machine_role_arn == aws_iam_role.state_machine.arn && output.state_machine_log_group_name == "/aws/vendedlogs/states/etl-test-pipeline"
    error_message = "The state machine outputs."
  }
}

run "results_queue_topic_and_trigger" {
  command = plan

  assert {
    condition     = aws_sqs_queue.results.name == "etl-test-results.fifo" && aws_sqs_queue.results.fifo_queue && aws_sqs_queue.results.content_based_deduplication && aws_sqs_queue.results.kms_master_key_id == var.kms_key_arn
    error_message = "The results queue is an encrypted FIFO queue with content-based deduplication."
  }
  assert {
    condition     = output.results_queue_url == aws_sqs_queue.results.url && output.results_queue_arn == aws_sqs_queue.results.arn
    error_message = "The results queue outputs."
  }
  assert {
    condition     = aws_sns_topic.failures.name == "etl-test-failures" && aws_sns_topic.failures.kms_master_key_id == var.kms_key_arn && output.failure_topic_arn == aws_sns_topic.failures.arn
    error_message = "The failure topic is encrypted and exported."
  }
  assert {
    condition     = length(aws_sns_topic_subscription.email) == 0
    error_message = "No email subscription unless asked for."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.incoming.event_pattern) == { source = ["aws.s3"], "detail-type" = ["Object Created"], detail = { bucket = { name = ["etl-test-processing-123456789012"] }, object = { key = [{ prefix = "incoming/" }] } } }
    error_message = "The rule matches Object Created events of the bucket under incoming/ only."
  }
  assert {
    condition     = aws_cloudwatch_event_target.state_machine.arn == aws_sfn_state_machine.this.arn && aws_cloudwatch_event_target.state_machine.input_path == "$.detail" && aws_cloudwatch_event_target.state_machine.role_arn == aws_iam_role.events.arn
    error_message = "The rule starts the state machine with the event's detail, through its own role."
  }
  assert {
    condition     = aws_cloudwatch_event_target.state_machine.dead_letter_config[0].arn == aws_sqs_queue.events_dlq.arn && aws_cloudwatch_event_target.state_machine.retry_policy[0].maximum_retry_attempts == 24 && aws_cloudwatch_event_target.state_machine.retry_policy[0].maximum_event_age_in_seconds == 3600
    error_message = "Undeliverable events go to the dead-letter queue after 24 retries within an hour."
  }
  assert {
    condition     = aws_sqs_queue.events_dlq.name == "etl-test-events-dlq" && aws_sqs_queue.events_dlq.message_retention_seconds == 1209600 && aws_sqs_queue_policy.events_dlq.queue_url == aws_sqs_queue.events_dlq.id
    error_message = "The dead-letter queue keeps events 14 days and has its own policy."
  }
  assert {
    condition     = one(one([for s in data.aws_iam_policy_document.events_dlq.statement : s.condition if s.sid == "AllowRuleDeadLetters"])).values == tolist([aws_cloudwatch_event_rule.incoming.arn, aws_cloudwatch_event_rule.execution_ended.arn])
    error_message = "Only this module's two rules may send to the dead-letter queue."
  }
  assert {
    condition     = output.events_dlq_name == "etl-test-events-dlq" && output.events_dlq_arn == aws_sqs_queue.events_dlq.arn && output.events_dlq_url == aws_sqs_queue.events_dlq.url && output.event_rule_name == "etl-test-s3-incoming"
    error_message = "The trigger outputs."
  }
}

run "execution_ended_rule" {
  command = plan

  assert {
    condition     = aws_lambda_function_event_invoke_config.execution_ended.function_name == var.function_arns["mark_failed"] && aws_lambda_function_event_invoke_config.execution_ended.maximum_retry_attempts == 2 && aws_lambda_function_event_invoke_config.execution_ended.destination_config[0].on_failure[0].destination == aws_sqs_queue.events_dlq.arn
    error_message = "A clean-up that fails is retried twice by Lambda, then recorded in the dead-letter queue."
  }
  assert {
    condition     = aws_iam_role_policy.execution_ended_failures.role == "etl-test-mark-failed-fn" && [for s in data.aws_iam_policy_document.execution_ended_failures.statement : s.sid] == ["RecordFailedCleanUps"] && one(data.aws_iam_policy_document.execution_ended_failures.source_policy_documents) == data.aws_iam_policy_document.kms_grants["execution_ended_failures"].json && [for s in data.aws_iam_policy_document.kms_grants["execution_ended_failures"].statement : s.sid] == ["UsePipelineKeyForEventsDlq"] && one([for s in data.aws_iam_policy_document.execution_ended_failures.statement : s.resources if s.sid == "RecordFailedCleanUps"]) == toset([aws_sqs_queue.events_dlq.arn])
    error_message = "The function's role may send its failure records to the dead-letter queue only."
  }

  assert {
    condition     = aws_cloudwatch_event_rule.execution_ended.name == "etl-test-execution-ended" && output.execution_ended_rule_name == "etl-test-execution-ended"
    error_message = "The rule is named <prefix>-execution-ended."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.execution_ended.event_pattern) == { source = ["aws.states"], "detail-type" = ["Step Functions Execution Status Change"], detail = { status = ["FAILED", "TIMED_OUT", "ABORTED"], stateMachineArn = ["arn:aws:states:us-east-1:123456789012:stateMachine:etl-test-pipeline"] } }
    error_message = "The rule matches this state machine's executions that end FAILED, TIMED_OUT or ABORTED only."
  }
  assert {
    condition     = aws_cloudwatch_event_target.execution_ended.arn == var.function_arns["mark_failed"] && aws_cloudwatch_event_target.execution_ended.dead_letter_config[0].arn == aws_sqs_queue.events_dlq.arn && aws_cloudwatch_event_target.execution_ended.retry_policy[0].maximum_retry_attempts == 24
    error_message = "The target is mark_failed, with the retry policy and the dead-letter queue of the trigger."
  }
  assert {
    condition     = aws_lambda_permission.execution_ended.principal == "events.amazonaws.com" && aws_lambda_permission.execution_ended.function_name == var.function_arns["mark_failed"] && aws_lambda_permission.execution_ended.source_arn == aws_cloudwatch_event_rule.execution_ended.arn
    error_message = "Only this rule may invoke mark_failed through EventBridge."
  }
  assert {
    condition     = aws_iam_role_policy.execution_ended_handler.role == "etl-test-mark-failed-fn" && [for s in data.aws_iam_policy_document.execution_ended_handler.statement : s.sid] == ["PublishFailure"] && one(data.aws_iam_policy_document.execution_ended_handler.source_policy_documents) == data.aws_iam_policy_document.kms_grants["execution_ended_handler"].json && [for s in data.aws_iam_policy_document.kms_grants["execution_ended_handler"].statement : s.sid] == ["UsePipelineKeyForFailureTopic"]
    error_message = "mark_failed's role may publish to the failure topic and use the key through SNS for it, nothing else."
  }
  assert {
    condition     = one(data.aws_iam_policy_document.state_machine.source_policy_documents) == data.aws_iam_policy_document.kms_grants["state_machine"].json && [for s in data.aws_iam_policy_document.kms_grants["state_machine"].statement : s.sid] == ["DecryptChunkManifests", "UsePipelineKeyForFailureTopic", "UsePipelineKeyForResultsQueue"]
    error_message = "The state machine's role uses the key for the manifests, the failure topic and the results queue (one kms_grants document per role)."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.execution_ended_handler.statement : s.resources if s.sid == "PublishFailure"]) == toset([aws_sns_topic.failures.arn])
    error_message = "Publish on the failure topic only."
  }
}

run "queue_and_topic_policies" {
  command = plan

  assert {
    condition     = aws_sqs_queue_policy.results.queue_url == aws_sqs_queue.results.id && aws_sns_topic_policy.failures.arn == aws_sns_topic.failures.arn
    error_message = "The results queue and the failure topic have their own resource policies."
  }
  assert {
    condition     = alltrue([for k in ["results_queue", "events_dlq", "failure_topic"] : [for s in data.aws_iam_policy_document.message_guard[k].statement : s.sid] == ["DenyOtherSenders", "DenyInsecureTransport"]])
    error_message = "Every queue and topic policy holds the guard: deny other senders, TLS only."
  }
  assert {
    condition     = data.aws_iam_policy_document.results_queue.source_policy_documents == tolist([data.aws_iam_policy_document.message_guard["results_queue"].json]) && data.aws_iam_policy_document.events_dlq.source_policy_documents == tolist([data.aws_iam_policy_document.message_guard["events_dlq"].json]) && data.aws_iam_policy_document.failure_topic.source_policy_documents == tolist([data.aws_iam_policy_document.message_guard["failure_topic"].json])
    error_message = "Each policy starts from its own guard document."
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.results_queue.statement : s.sid] == ["AllowStateMachineToSend"]
    error_message = "The results queue: the state machine sends."
  }
  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.results_queue.statement : [for p in s.principals : [p.type, p.identifiers]] if s.sid == "AllowStateMachineToSend"])) == jsonencode([["AWS", [aws_iam_role.state_machine.arn]]]) && aws_iam_role.state_machine.arn != aws_iam_role.events.arn
    error_message = "Only the state machine role is allowed to send to the results queue."
  }
  assert {
    condition     = jsonencode([for s in data.aws_iam_policy_document.message_guard["results_queue"].statement : [s.effect, s.actions, { for c in s.condition : c.variable => [c.test, c.values] }] if s.sid == "DenyOtherSenders"]) == jsonencode([["Deny", ["sqs:SendMessage"], { "aws:PrincipalArn" = ["ArnNotEquals", [aws_iam_role.state_machine.arn]], "aws:PrincipalServiceName" = ["Null", ["true"]] }]])
    error_message = "IAM principals other than the state machine role are denied sending to the results queue."
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.failure_topic.statement : s.sid] == ["AllowStateMachineToPublish", "AllowExecutionEndedHandlerToPublish", "AllowPipelineAlarmsToPublish"]
    error_message = "The failure topic: the state machine, the execution-ended rule's function and the pipeline's alarms publish."
  }
  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.failure_topic.statement : [for p in s.principals : [p.type, p.identifiers]] if s.sid == "AllowExecutionEndedHandlerToPublish"])) == jsonencode([["AWS", ["arn:aws:iam::123456789012:role/etl-test-mark-failed-fn"]]])
    error_message = "The execution-ended rule's function publishes through its own role."
  }
  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.failure_topic.statement : [for p in s.principals : [p.type, p.identifiers]] if s.sid == "AllowStateMachineToPublish"])) == jsonencode([["AWS", [aws_iam_role.state_machine.arn]]])
    error_message = "The state machine publishes through its role."
  }
  assert {
    condition     = jsonencode([for s in data.aws_iam_policy_document.message_guard["failure_topic"].statement : [s.effect, s.actions, { for c in s.condition : c.variable => [c.test, c.values] }] if s.sid == "DenyOtherSenders"]) == jsonencode([["Deny", ["sns:Publish"], { "aws:PrincipalArn" = ["ArnNotEquals", [aws_iam_role.state_machine.arn, "arn:aws:iam::123456789012:role/etl-test-mark-failed-fn"]], "aws:PrincipalServiceName" = ["Null", ["true"]] }]])
    error_message = "IAM principals other than the state machine role and mark_failed's role are denied publishing to the failure topic."
  }
  assert {
    condition     = jsonencode({ for s in data.aws_iam_policy_document.failure_topic.statement : s.sid => { for c in s.condition : c.variable => c.values } if s.sid == "AllowPipelineAlarmsToPublish" }) == jsonencode({ AllowPipelineAlarmsToPublish = { "aws:SourceAccount" = ["123456789012"], "aws:SourceArn" = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:etl-test-*"] } })
    error_message = "CloudWatch may publish for this account's etl-test-* alarms only."
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.events_dlq.statement : s.sid] == ["AllowRuleDeadLetters"] && jsonencode([for s in data.aws_iam_policy_document.message_guard["events_dlq"].statement : { for c in s.condition : c.variable => [c.test, c.values] } if s.sid == "DenyOtherSenders"]) == jsonencode([{ "aws:PrincipalArn" = ["ArnNotEquals", [var.execution_ended_handler.role_arn]], "aws:PrincipalServiceName" = ["Null", ["true"]] }])
    error_message = "The dead-letter queue: the rules' dead letters and, of IAM principals, only the execution-ended function's role (Lambda's failure records)."
  }
  assert {
    condition     = alltrue([for d in values(data.aws_iam_policy_document.message_guard) : jsonencode([for s in d.statement : [s.effect, [for p in s.principals : [p.type, p.identifiers]], [for c in s.condition : [c.test, c.variable, c.values]]] if s.sid == "DenyInsecureTransport"]) == jsonencode([["Deny", [["*", ["*"]]], [["Bool", "aws:SecureTransport", ["false"]]]]])])
    error_message = "Both queues and the topic deny every request without TLS."
  }
}

run "inputs_reach_the_definition" {
  command = plan

  variables {
    max_concurrency     = 40
    timeout_seconds     = 3600
    processor_retry     = { interval_seconds = 5, max_attempts = 6, backoff_rate = 1.5 }
    incoming_prefix     = "landing/"
    notification_emails = ["data-oncall@example.com"]
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.ProcessChunks.MaxConcurrency == 40 && jsondecode(aws_sfn_state_machine.this.definition).TimeoutSeconds == 3600
    error_message = "max_concurrency and timeout_seconds reach the definition."
  }
  assert {
    condition     = [for r in jsondecode(aws_sfn_state_machine.this.definition).States.ProcessChunks.ItemProcessor.States.ProcessChunk.Retry : [r.IntervalSeconds, r.MaxAttempts, r.BackoffRate] if contains(r.ErrorEquals, "States.TaskFailed")] == [[5, 6, 1.5]]
    error_message = "processor_retry reaches the chunk retry."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.incoming.event_pattern).detail.object.key == [{ prefix = "landing/" }]
    error_message = "incoming_prefix is the trigger prefix."
  }
  assert {
    condition     = aws_sns_topic_subscription.email["data-oncall@example.com"].protocol == "email" && aws_sns_topic_subscription.email["data-oncall@example.com"].topic_arn == aws_sns_topic.failures.arn
    error_message = "Each notification email is subscribed to the failure topic."
  }
}
