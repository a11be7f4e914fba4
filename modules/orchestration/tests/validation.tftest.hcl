# Every validation block of variables.tf rejects bad input (one run per block, named after
# its variable; tests/terraform/test_module_tests.py checks that no block is left out).
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}


run "event_retry_rejects_an_event_age_under_a_minute" {
  command = plan
  variables {
    event_retry = { maximum_event_age_in_seconds = 59 }
  }
  expect_failures = [var.event_retry]
}

run "function_arns_rejects_a_value_that_is_no_lambda_arn" {
  command = plan
  variables {
    function_arns = {
      splitter    = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter"
      validator   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-validator"
      processor   = "etl-test-processor"
      finalizer   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-finalizer"
      mark_failed = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-mark-failed"
    }
  }
  expect_failures = [var.function_arns]
}

# The functions the template needs come from the template itself (<name>_arn), not a list.
run "state_machine_refuses_a_missing_function" {
  command = plan
  variables {
    function_arns = {
      splitter  = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter"
      validator = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-validator"
      processor = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-processor"
      finalizer = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-finalizer"
    }
  }
  # the execution-ended rule's function (mark_failed) is missing too
  expect_failures = [aws_sfn_state_machine.this, aws_cloudwatch_event_target.execution_ended, aws_lambda_permission.execution_ended, aws_lambda_function_event_invoke_config.execution_ended]
}

# contract.json state_machine.variables must be exactly the template's non-ARN variables.
run "state_machine_refuses_template_variables_that_disagree_with_the_template" {
  command = plan
  variables {
    template_variables = ["results_queue_url", "failure_topic_arn", "max_concurrency", "retry_interval_seconds", "retry_max_attempts", "retry_backoff_rate"]
  }
  expect_failures = [aws_sfn_state_machine.this]
}

run "state_machine_refuses_a_function_the_template_does_not_use" {
  command = plan
  variables {
    function_arns = {
      splitter    = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter"
      validator   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-validator"
      processor   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-processor"
      finalizer   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-finalizer"
      mark_failed = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-mark-failed"
      archiver    = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-archiver"
    }
  }
  expect_failures = [aws_sfn_state_machine.this]
}

run "names_rejects_a_results_queue_that_is_not_fifo" {
  command = plan
  variables {
    names = {
      results_queue        = "etl-test-results"
      failure_topic        = "etl-test-failures"
      state_machine        = "etl-test-pipeline"
      event_rule           = "etl-test-s3-incoming"
      events_dlq           = "etl-test-events-dlq"
      execution_ended_rule = "etl-test-execution-ended"
    }
  }
  expect_failures = [var.names]
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

# Past 50 the chunks' status transactions on the one file item conflict too often.
run "max_concurrency_rejects_more_than_fifty" {
  command = plan
  variables {
    max_concurrency = 51
  }
  expect_failures = [var.max_concurrency]
}

run "max_concurrency_accepts_fifty" {
  command = plan
  variables {
    max_concurrency = 50
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.ProcessChunks.MaxConcurrency == 50
    error_message = "50 concurrent chunks is the largest value."
  }
}

run "execution_ended_handler_rejects_a_role_with_a_path" {
  command = plan
  variables {
    execution_ended_handler = { function = "mark_failed", role_arn = "arn:aws:iam::123456789012:role/etl/etl-test-mark-failed-fn" }
  }
  expect_failures = [var.execution_ended_handler]
}

run "execution_ended_rule_refuses_a_function_that_is_not_deployed" {
  command = plan
  variables {
    execution_ended_handler = { function = "cleaner", role_arn = "arn:aws:iam::123456789012:role/etl-test-cleaner-fn" }
  }
  expect_failures = [aws_cloudwatch_event_target.execution_ended, aws_lambda_permission.execution_ended, aws_lambda_function_event_invoke_config.execution_ended]
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
