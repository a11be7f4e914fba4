# Every validation block of variables.tf rejects bad input (one run per block, named after
# its variable; tests/terraform/test_module_tests.py checks that no block is left out).
mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  prefix            = "etl-test"
  state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:etl-test-pipeline"
  function_names    = { splitter = "etl-test-splitter" }
  table_name        = "etl-test-status"
  events_dlq_name   = "etl-test-events-dlq"
  alarm_topic_arn   = "arn:aws:sns:us-east-1:123456789012:etl-test-failures"
  metrics_namespace = "CsvEtl"
  service_name      = "etl-test"
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
