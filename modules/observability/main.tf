data "aws_region" "current" {}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.dashboard_name
  dashboard_body = local.dashboard_body
}

resource "aws_cloudwatch_metric_alarm" "executions_failed" {
  alarm_name          = "${var.prefix}-executions-failed"
  alarm_description   = "At least one pipeline execution failed: a file was marked FAILED (see the failure topic message)."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = var.state_machine_arn }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  datapoints_to_alarm = var.alarms.datapoints_to_alarm
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "executions_timed_out" {
  alarm_name          = "${var.prefix}-executions-timed-out"
  alarm_description   = "A pipeline execution hit the state machine timeout; its file is neither COMPLETE nor FAILED."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsTimedOut"
  dimensions          = { StateMachineArn = var.state_machine_arn }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  datapoints_to_alarm = var.alarms.datapoints_to_alarm
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = local.function_alarms

  alarm_name          = "${each.value.name}-${lower(each.value.metric)}"
  alarm_description   = "Lambda ${each.value.metric} on ${each.value.name}."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.name }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  datapoints_to_alarm = var.alarms.datapoints_to_alarm
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "events_dlq" {
  alarm_name          = "${var.prefix}-events-dlq-not-empty"
  alarm_description   = "EventBridge could not start the pipeline for an uploaded file; the event is in ${var.events_dlq_name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.events_dlq_name }
  statistic           = "Maximum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  datapoints_to_alarm = var.alarms.datapoints_to_alarm
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
