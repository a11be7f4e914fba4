output "alarm_names" {
  description = "Names of all alarms."
  value = concat(
    [
      aws_cloudwatch_metric_alarm.executions_failed.alarm_name,
      aws_cloudwatch_metric_alarm.executions_timed_out.alarm_name,
      aws_cloudwatch_metric_alarm.events_dlq.alarm_name,
    ],
    [for a in aws_cloudwatch_metric_alarm.function : a.alarm_name],
  )
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of the CloudWatch dashboard."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}
