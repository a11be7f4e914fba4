# Every validation block of variables.tf rejects bad input (one run per block, named after
# its variable; tests/terraform/test_module_tests.py checks that no block is left out).
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}


run "architecture_rejects_aarch64" {
  command = plan
  variables {
    architecture = "aarch64"
  }
  expect_failures = [var.architecture]
}

run "dynamodb_actions_rejects_table_actions" {
  command = plan
  variables {
    dynamodb_actions = { splitter = ["dynamodb:GetItem", "dynamodb:DeleteTable"], finalizer = [] }
  }
  expect_failures = [var.dynamodb_actions]
}

run "functions_rejects_keys_that_are_not_snake_case" {
  command = plan
  variables {
    functions = {
      Mark-Failed = {
        handler          = "mark_failed.handler"
        description      = "Marks the file FAILED."
        zip_path         = "dist/functions/mark_failed.zip"
        zip_base64sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      }
    }
  }
  expect_failures = [var.functions]
}

run "functions_rejects_sizes_lambda_refuses" {
  command = plan
  variables {
    functions = {
      processor = {
        handler          = "processor.handler"
        description      = "Converts one chunk."
        zip_path         = "dist/functions/processor.zip"
        zip_base64sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        timeout_s        = 901
      }
    }
  }
  expect_failures = [var.functions]
}

run "functions_rejects_zero_reserved_concurrency" {
  command = plan
  variables {
    functions = {
      processor = {
        handler              = "processor.handler"
        description          = "Converts one chunk."
        zip_path             = "dist/functions/processor.zip"
        zip_base64sha256     = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        reserved_concurrency = 0
      }
    }
  }
  expect_failures = [var.functions]
}

run "log_level_rejects_lowercase" {
  command = plan
  variables {
    log_level = "debug"
  }
  expect_failures = [var.log_level]
}

run "log_retention_days_rejects_a_value_cloudwatch_refuses" {
  command = plan
  variables {
    log_retention_days = 10
  }
  expect_failures = [var.log_retention_days]
}

run "prefix_rejects_a_trailing_hyphen" {
  command = plan
  variables {
    prefix = "etl-test-"
  }
  expect_failures = [var.prefix]
}

run "runtime_rejects_python311" {
  command = plan
  variables {
    runtime = "python3.11"
  }
  expect_failures = [var.runtime]
}

run "names_rejects_a_function_pattern_without_the_function" {
  command = plan
  variables {
    names = { function = "etl-test-fn", layer = "etl-test-deps", service = "etl-test" }
  }
  expect_failures = [var.names]
}

run "schema_object_key_pattern_rejects_a_key_without_the_dataset" {
  command = plan
  variables {
    schema_object_key_pattern = "config/schema.json"
  }
  expect_failures = [var.schema_object_key_pattern]
}
