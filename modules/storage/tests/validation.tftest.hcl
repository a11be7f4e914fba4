# Every validation block of variables.tf rejects bad input (one run per block, named after
# its variable; tests/terraform/test_module_tests.py checks that no block is left out).
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}

run "names_rejects_a_bucket_with_uppercase_and_underscores" {
  command = plan
  variables {
    names = { bucket = "ETL_Bucket", table = "etl-test-status", kms_alias = "alias/etl-test-etl" }
  }
  expect_failures = [var.names]
}

run "catalog_rejects_hyphenated_database_name" {
  command = plan
  variables {
    catalog = { database_name = "etl-test" }
  }
  expect_failures = [var.catalog]
}

run "key_service_users_rejects_an_empty_rule_list" {
  command = plan
  variables {
    key_service_users = { event_rules = [] }
  }
  expect_failures = [var.key_service_users]
}

run "kms_key_deletion_window_days_rejects_six" {
  command = plan
  variables {
    kms_key_deletion_window_days = 6
  }
  expect_failures = [var.kms_key_deletion_window_days]
}

run "lifecycle_rules_rejects_zero_days" {
  command = plan
  variables {
    lifecycle_rules = { transient_expire_after_days = 0 }
  }
  expect_failures = [var.lifecycle_rules]
}

run "lifecycle_rules_rejects_the_renamed_glacier_days" {
  command = plan
  variables {
    lifecycle_rules = { processed_glacier_after_days = 90 }
  }
  expect_failures = [var.lifecycle_rules]
}

run "lifecycle_rules_rejects_glacier_flexible_retrieval" {
  command = plan
  variables {
    lifecycle_rules = { processed_storage_class = "GLACIER" }
  }
  expect_failures = [var.lifecycle_rules]
}

run "lifecycle_rules_rejects_standard_ia_before_30_days" {
  command = plan
  variables {
    lifecycle_rules = { processed_storage_class = "STANDARD_IA", processed_transition_after_days = 29 }
  }
  expect_failures = [var.lifecycle_rules]
}

run "lifecycle_rules_rejects_expiry_at_the_transition" {
  command = plan
  variables {
    lifecycle_rules = { processed_transition_after_days = 30, processed_expire_after_days = 30 }
  }
  expect_failures = [var.lifecycle_rules]
}

run "lifecycle_rules_rejects_more_than_100_versions_retained" {
  command = plan
  variables {
    lifecycle_rules = { noncurrent_versions_to_retain = 101 }
  }
  expect_failures = [var.lifecycle_rules]
}

run "prefix_rejects_uppercase" {
  command = plan
  variables {
    prefix = "Etl-Test"
  }
  expect_failures = [var.prefix]
}

run "prefixes_rejects_missing_config" {
  command = plan
  variables {
    prefixes = {
      incoming  = "incoming/"
      staging   = "staging/"
      manifests = "manifests/"
      work      = "work/"
      processed = "processed/"
      rejected  = "rejected/"
    }
  }
  expect_failures = [var.prefixes]
}

run "names_rejects_a_kms_alias_without_the_alias_prefix" {
  command = plan
  variables {
    names = { bucket = "etl-test-processing-123456789012", table = "etl-test-status", kms_alias = "etl-test-etl" }
  }
  expect_failures = [var.names]
}

run "table_key_rejects_the_same_key_twice" {
  command = plan
  variables {
    table_key = { partition_key = "file_id", sort_key = "file_id" }
  }
  expect_failures = [var.table_key]
}

run "datasets_rejects_an_upper_case_name" {
  command = plan
  variables {
    datasets = { Orders = { schema_file = "../../schemas/transactions.json" } }
  }
  expect_failures = [var.datasets]
}

run "datasets_rejects_a_missing_schema_file" {
  command = plan
  variables {
    datasets = { orders = { schema_file = "tests/schemas/no-such-file.json" } }
  }
  expect_failures = [var.datasets]
}

run "datasets_rejects_a_schema_with_a_malformed_version" {
  command = plan
  variables {
    datasets = { orders = { schema_file = "tests/schemas/malformed-version.json" } }
  }
  expect_failures = [var.datasets]
}

run "schema_object_key_pattern_rejects_a_key_without_the_dataset" {
  command = plan
  variables {
    schema_object_key_pattern = "config/schema.json"
  }
  expect_failures = [var.schema_object_key_pattern]
}
