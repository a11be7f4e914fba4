# The observability module's contract: one dashboard and an alarm per pipeline signal and per
# function, all notifying the failure topic. Mocked provider: no AWS, no credentials.
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}

run "dashboard_and_alarms" {
  command = plan

  assert {
    condition     = output.dashboard_name == "etl-test-pipeline" && output.dashboard_url == "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/etl-test-pipeline"
    error_message = "The dashboard is <prefix>-pipeline and its URL points at its region."
  }
  assert {
    condition     = alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w.properties.region == "us-east-1" && w.properties.period == 300])
    error_message = "Every graph shows this region at the default 5-minute period."
  }
  assert {
    condition     = length([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w if w.properties.title == "Lambda errors" && length(w.properties.metrics) == 5]) == 1
    error_message = "The Lambda graphs have one line per function."
  }
  assert {
    condition     = jsonencode(sort(keys(output.alarm_names))) == jsonencode(sort(concat(["events-dlq-not-empty", "executions-failed", "executions-timed-out"], flatten([for f in keys(var.function_names) : ["${f}-errors", "${f}-throttles"]]))))
    error_message = "Three pipeline alarms plus errors and throttles per function."
  }
  assert {
    condition     = output.alarm_names["mark_failed-errors"] == "etl-test-mark-failed-errors" && output.alarm_names["executions-failed"] == "etl-test-executions-failed"
    error_message = "Alarms are named after the function or <prefix>-<signal>."
  }
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.this : a.alarm_actions == toset([var.alarm_topic_arn]) && a.ok_actions == toset([var.alarm_topic_arn]) && a.threshold == 0 && a.treat_missing_data == "notBreaching"])
    error_message = "Every alarm fires on any occurrence and notifies the topic when it fires and recovers."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["executions-failed"].dimensions == tomap({ StateMachineArn = var.state_machine_arn }) && aws_cloudwatch_metric_alarm.this["events-dlq-not-empty"].dimensions == tomap({ QueueName = "etl-test-events-dlq" })
    error_message = "Pipeline alarms watch the state machine and the dead-letter queue."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["processor-throttles"].namespace == "AWS/Lambda" && aws_cloudwatch_metric_alarm.this["processor-throttles"].dimensions == tomap({ FunctionName = "etl-test-processor" })
    error_message = "Function alarms watch their function."
  }
}

run "each_dataset_has_its_rows_and_files_graphs_and_alarms_stay_pipeline_wide" {
  command = plan

  assert {
    condition = jsonencode([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [w.properties.title, w.x, w.y, w.properties.metrics] if startswith(w.properties.title, "orders:") || startswith(w.properties.title, "transactions:")]) == jsonencode([
      ["orders: rows valid / rejected", 0, 30, [["CsvEtl", "RowsValid", "service", "etl-test", "dataset", "orders", { label = "valid" }], ["CsvEtl", "RowsRejected", "service", "etl-test", "dataset", "orders", { label = "rejected" }]]],
      ["orders: files completed / failed", 12, 30, [["CsvEtl", "FilesCompleted", "service", "etl-test", "dataset", "orders", { label = "completed" }], ["CsvEtl", "FilesFailed", "service", "etl-test", "dataset", "orders", { label = "failed" }]]],
      ["transactions: rows valid / rejected", 0, 36, [["CsvEtl", "RowsValid", "service", "etl-test", "dataset", "transactions", { label = "valid" }], ["CsvEtl", "RowsRejected", "service", "etl-test", "dataset", "transactions", { label = "rejected" }]]],
      ["transactions: files completed / failed", 12, 36, [["CsvEtl", "FilesCompleted", "service", "etl-test", "dataset", "transactions", { label = "completed" }], ["CsvEtl", "FilesFailed", "service", "etl-test", "dataset", "transactions", { label = "failed" }]]],
    ])
    error_message = "A row per dataset (sorted by name, below the pipeline graphs): rows valid/rejected and files completed/failed with the service and dataset dimensions."
  }
  assert {
    condition     = one([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [for m in w.properties.metrics : [m[5], m[6].label]] if w.properties.title == "Bytes processed by dataset"]) == [["orders", "orders"], ["transactions", "transactions"]]
    error_message = "The processing graphs have one line per dataset."
  }
  assert {
    condition     = one([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [for m in w.properties.metrics : [m[1], m[5], m[6].stat] if length(m) == 7] if startswith(w.properties.title, "Seconds per chunk")]) == [["ChunkSeconds", "orders", "p50"], ["ChunkSeconds", "transactions", "p50"], ["ChunkSeconds", "orders", "p99"], ["ChunkSeconds", "transactions", "p99"]]
    error_message = "Seconds per chunk: a p50 and a p99 line per dataset, each line one metric."
  }
  assert {
    condition     = alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : alltrue([for m in w.properties.metrics : can(length(m)) && can(m[0])])])
    error_message = "Every graph line is a metric array, never a flattened value."
  }
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.this : !contains(keys(a.dimensions), "dataset")]) && length(aws_cloudwatch_metric_alarm.this) == 3 + 2 * length(var.function_names)
    error_message = "Alarms stay pipeline-wide: no alarm per dataset."
  }
}

run "alarm_tuning_applies_to_every_alarm" {
  command = plan

  variables {
    alarms = { period_seconds = 60, evaluation_periods = 3, datapoints_to_alarm = 2 }
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.this : a.period == 60 && a.evaluation_periods == 3 && a.datapoints_to_alarm == 2])
    error_message = "period, evaluation periods and datapoints come from var.alarms."
  }
}
