# Every validation block of variables.tf rejects bad input (one run per block, named after
# its variable; tests/terraform/test_module_tests.py checks that no block is left out).
mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  prefix = "etl-test"
  functions = {
    splitter = {
      handler          = "splitter.handler"
      description      = "Registers the file and plans its chunks."
      zip_path         = "dist/functions/splitter.zip"
      zip_base64sha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
      s3_read          = ["incoming", "staging", "config"]
      s3_write         = ["staging", "manifests"]
      s3_list          = ["incoming"]
    }
    finalizer = {
      handler              = "finalizer.handler"
      description          = "Checks conservation and publishes the outputs."
      zip_path             = "dist/functions/finalizer.zip"
      zip_base64sha256     = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      s3_read              = ["work"]
      s3_write             = ["processed", "rejected"]
      s3_delete            = ["work", "staging"]
      memory_mb            = 1024
      reserved_concurrency = 5
    }
  }
  layer = {
    path         = "dist/layer-arm64.zip"
    sha256       = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    base64sha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
  }
  artifacts_bucket  = "etl-test-processing-123456789012"
  environment       = { ETL_BUCKET = "etl-test-processing-123456789012", ETL_STATUS_TABLE = "etl-test-status" }
  metrics_namespace = "CsvEtl"
  prefixes = {
    incoming  = "incoming/"
    staging   = "staging/"
    manifests = "manifests/"
    work      = "work/"
    processed = "processed/"
    rejected  = "rejected/"
    config    = "config/"
  }
  bucket_arn  = "arn:aws:s3:::etl-test-processing-123456789012"
  table_arn   = "arn:aws:dynamodb:us-east-1:123456789012:table/etl-test-status"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
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
    dynamodb_actions = { splitter = ["dynamodb:GetItem", "dynamodb:DeleteTable"] }
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
