locals {
  region         = data.aws_region.current.id
  dashboard_name = var.names.dashboard
  period         = var.dashboard_period_seconds

  sfn_dim   = ["StateMachineArn", var.state_machine_arn]
  functions = sort(keys(var.function_names))

  # The custom metrics graphed below; every one must be in var.custom_metrics.emitted
  # (precondition on the dashboard). The functions emit them with the dimensions
  # (service, dataset), so each graph line is one dataset: [namespace, name, dimension, value,
  # dataset dimension, dataset, options].
  dashboard_metrics = ["RowsValid", "RowsRejected", "FilesCompleted", "FilesFailed", "ProcessedBytes", "ChunkSeconds", "ReadRetries"]
  datasets          = sort(var.datasets)
  custom = {
    for m in local.dashboard_metrics : m => {
      for d in local.datasets : d => [var.metrics_namespace, m, var.custom_metrics.dimension, var.names.service, var.custom_metrics.dataset_dimension, d]
    }
  }

  # Below the pipeline-wide graphs, one row per dataset: its rows and its files.
  dataset_row_y = 30
  dataset_widgets = flatten([
    for i, d in local.datasets : [
      {
        type = "metric", x = 0, y = local.dataset_row_y + 6 * i, width = 12, height = 6
        properties = {
          title  = "${d}: rows valid / rejected"
          region = local.region
          stat   = "Sum"
          period = local.period
          view   = "timeSeries"
          metrics = [
            concat(local.custom["RowsValid"][d], [{ label = "valid" }]),
            concat(local.custom["RowsRejected"][d], [{ label = "rejected" }]),
          ]
        }
      },
      {
        type = "metric", x = 12, y = local.dataset_row_y + 6 * i, width = 12, height = 6
        properties = {
          title  = "${d}: files completed / failed"
          region = local.region
          stat   = "Sum"
          period = local.period
          view   = "timeSeries"
          metrics = [
            concat(local.custom["FilesCompleted"][d], [{ label = "completed" }]),
            concat(local.custom["FilesFailed"][d], [{ label = "failed" }]),
          ]
        }
      },
    ]
  ])

  # One line per function for a Lambda metric.
  lambda_metrics = {
    for metric in ["Invocations", "Errors", "Duration", "Throttles"] : metric => [
      for k in local.functions : ["AWS/Lambda", metric, "FunctionName", var.function_names[k], { label = k }]
    ]
  }

  widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title  = "State machine executions"
        region = local.region
        stat   = "Sum"
        period = local.period
        view   = "timeSeries"
        metrics = [
          concat(["AWS/States", "ExecutionsStarted"], local.sfn_dim),
          concat(["AWS/States", "ExecutionsSucceeded"], local.sfn_dim),
          concat(["AWS/States", "ExecutionsFailed"], local.sfn_dim),
          concat(["AWS/States", "ExecutionsTimedOut"], local.sfn_dim),
        ]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title   = "Bytes processed by dataset"
        region  = local.region
        stat    = "Sum"
        period  = local.period
        view    = "timeSeries"
        metrics = [for d in local.datasets : concat(local.custom["ProcessedBytes"][d], [{ label = d }])]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title   = "Lambda invocations"
        region  = local.region
        stat    = "Sum"
        period  = local.period
        view    = "timeSeries"
        metrics = local.lambda_metrics["Invocations"]
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title   = "Lambda errors"
        region  = local.region
        stat    = "Sum"
        period  = local.period
        view    = "timeSeries"
        metrics = local.lambda_metrics["Errors"]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 12, height = 6
      properties = {
        title   = "Lambda duration (p99, ms)"
        region  = local.region
        stat    = "p99"
        period  = local.period
        view    = "timeSeries"
        metrics = local.lambda_metrics["Duration"]
      }
    },
    {
      type = "metric", x = 12, y = 12, width = 12, height = 6
      properties = {
        title   = "Lambda throttles"
        region  = local.region
        stat    = "Sum"
        period  = local.period
        view    = "timeSeries"
        metrics = local.lambda_metrics["Throttles"]
      }
    },
    {
      type = "metric", x = 0, y = 18, width = 12, height = 6
      properties = {
        title  = "Status table consumed capacity"
        region = local.region
        stat   = "Sum"
        period = local.period
        view   = "timeSeries"
        metrics = [
          ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", var.table_name],
          ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", var.table_name],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 18, width = 12, height = 6
      properties = {
        title  = "Undelivered trigger events (EventBridge DLQ)"
        region = local.region
        stat   = "Maximum"
        period = local.period
        view   = "timeSeries"
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.events_dlq_name],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 24, width = 12, height = 6
      properties = {
        title  = "Seconds per chunk (processor, p50 / p99)"
        region = local.region
        period = local.period
        view   = "timeSeries"
        metrics = concat(
          [for d in local.datasets : concat(local.custom["ChunkSeconds"][d], [{ stat = "p50", label = "${d} p50" }])],
          [for d in local.datasets : concat(local.custom["ChunkSeconds"][d], [{ stat = "p99", label = "${d} p99" }])],
        )
      }
    },
    {
      type = "metric", x = 12, y = 24, width = 12, height = 6
      properties = {
        title   = "S3 read parts fetched again (processor)"
        region  = local.region
        stat    = "Sum"
        period  = local.period
        view    = "timeSeries"
        metrics = [for d in local.datasets : concat(local.custom["ReadRetries"][d], [{ label = d }])]
      }
    },
  ]

  dashboard_body = jsonencode({ widgets = concat(local.widgets, local.dataset_widgets) })

  alarm_actions = [var.alarm_topic_arn]

  # Every alarm, keyed by a stable name; per-function ones are "<function>-<metric>" so
  # adding a function adds its alarms and touches no other. All notify the failure topic.
  pipeline_alarms = {
    executions-failed = {
      name        = "${var.prefix}-executions-failed"
      description = "At least one pipeline execution failed: a file was marked FAILED (see the failure topic message)."
      namespace   = "AWS/States"
      metric      = "ExecutionsFailed"
      dimensions  = tomap({ StateMachineArn = var.state_machine_arn })
      statistic   = "Sum"
    }
    executions-timed-out = {
      name        = "${var.prefix}-executions-timed-out"
      description = "A pipeline execution hit the state machine timeout; its file is neither COMPLETE nor FAILED."
      namespace   = "AWS/States"
      metric      = "ExecutionsTimedOut"
      dimensions  = tomap({ StateMachineArn = var.state_machine_arn })
      statistic   = "Sum"
    }
    events-dlq-not-empty = {
      name        = "${var.prefix}-events-dlq-not-empty"
      description = "EventBridge could not start the pipeline for an uploaded file, or the clean-up of an execution that ended without MarkFailed failed after retries; the event or its invocation record is in ${var.events_dlq_name}."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = tomap({ QueueName = var.events_dlq_name })
      statistic   = "Maximum"
    }
  }

  function_alarms = merge([
    for k, name in var.function_names : {
      for metric in ["Errors", "Throttles"] : "${k}-${lower(metric)}" => {
        name        = "${name}-${lower(metric)}"
        description = "Lambda ${metric} on ${name}."
        namespace   = "AWS/Lambda"
        metric      = metric
        dimensions  = tomap({ FunctionName = name })
        statistic   = "Sum"
      }
    }
  ]...)

  alarms = merge(local.pipeline_alarms, local.function_alarms)
}
