# Every validation block of variables.tf rejects bad input (one run per block, named after
# its variable; tests/terraform/test_module_tests.py checks that no block is left out).
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}

run "alarms_rejects_more_datapoints_than_periods" {
  command = plan
  variables {
    alarms = { evaluation_periods = 1, datapoints_to_alarm = 2 }
  }
  expect_failures = [var.alarms]
}

run "prefix_rejects_a_leading_digit" {
  command = plan
  variables {
    prefix = "1etl"
  }
  expect_failures = [var.prefix]
}

# The dashboard graphs only metrics the functions emit (contract.json metrics.emitted).
run "dashboard_refuses_a_metric_that_is_not_emitted" {
  command = plan
  variables {
    custom_metrics = { dimension = "service", emitted = ["RowsRejected", "ProcessedBytes", "ChunkSeconds", "ReadRetries"] }
  }
  expect_failures = [aws_cloudwatch_dashboard.this]
}

run "datasets_rejects_a_name_given_twice" {
  command = plan
  variables {
    datasets = ["transactions", "transactions"]
  }
  expect_failures = [var.datasets]
}
