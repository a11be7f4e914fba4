# Every validation block of variables.tf rejects bad input (one run per block, named after
# its variable; tests/terraform/test_module_tests.py checks that no block is left out).
mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  prefix = "etl-test"
  function_arns = {
    splitter    = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter"
    validator   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-validator"
    processor   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-processor"
    finalizer   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-finalizer"
    mark_failed = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-mark-failed"
  }
  bucket_name = "etl-test-processing-123456789012"
  bucket_arn  = "arn:aws:s3:::etl-test-processing-123456789012"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
}


run "event_retry_rejects_an_event_age_under_a_minute" {
  command = plan
  variables {
    event_retry = { maximum_event_age_in_seconds = 59 }
  }
  expect_failures = [var.event_retry]
}

run "function_arns_rejects_a_missing_function" {
  command = plan
  variables {
    function_arns = {
      splitter  = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter"
      validator = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-validator"
      processor = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-processor"
      finalizer = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-finalizer"
    }
  }
  expect_failures = [var.function_arns]
}

run "log_retention_days_rejects_a_value_cloudwatch_refuses" {
  command = plan
  variables {
    log_retention_days = 0
  }
  expect_failures = [var.log_retention_days]
}

run "max_concurrency_rejects_a_fraction" {
  command = plan
  variables {
    max_concurrency = 2.5
  }
  expect_failures = [var.max_concurrency]
}

run "prefix_rejects_two_characters" {
  command = plan
  variables {
    prefix = "ab"
  }
  expect_failures = [var.prefix]
}

run "processor_retry_rejects_a_backoff_below_one" {
  command = plan
  variables {
    processor_retry = { backoff_rate = 0.5 }
  }
  expect_failures = [var.processor_retry]
}

run "timeout_seconds_rejects_more_than_a_year" {
  command = plan
  variables {
    timeout_seconds = 31536001
  }
  expect_failures = [var.timeout_seconds]
}
