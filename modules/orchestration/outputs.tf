output "events_dlq_arn" {
  description = "ARN of the EventBridge dead-letter queue."
  value       = aws_sqs_queue.events_dlq.arn
}

output "events_dlq_name" {
  description = "Name of the EventBridge dead-letter queue (for alarms)."
  value       = aws_sqs_queue.events_dlq.name
}

output "events_dlq_url" {
  description = "URL of the EventBridge dead-letter queue."
  value       = aws_sqs_queue.events_dlq.url
}

output "event_rule_name" {
  description = "Name of the EventBridge rule on incoming/ objects."
  value       = aws_cloudwatch_event_rule.incoming.name
}

output "execution_ended_rule_name" {
  description = "Name of the EventBridge rule that runs the clean-up for executions ending FAILED, TIMED_OUT or ABORTED."
  value       = aws_cloudwatch_event_rule.execution_ended.name
}

output "failure_topic_arn" {
  description = "ARN of the SNS failure topic."
  value       = aws_sns_topic.failures.arn
}

output "results_queue_arn" {
  description = "ARN of the SQS FIFO results queue."
  value       = aws_sqs_queue.results.arn
}

output "results_queue_url" {
  description = "URL of the SQS FIFO results queue."
  value       = aws_sqs_queue.results.url
}

output "state_machine_arn" {
  description = "ARN of the pipeline state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_log_group_name" {
  description = "Log group of the state machine execution history."
  value       = aws_cloudwatch_log_group.state_machine.name
}

output "state_machine_name" {
  description = "Name of the pipeline state machine."
  value       = aws_sfn_state_machine.this.name
}

output "state_machine_role_arn" {
  description = "ARN of the state machine's role."
  value       = aws_iam_role.state_machine.arn
}
