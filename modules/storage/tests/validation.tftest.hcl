# Every validation block of variables.tf rejects bad input (one run per block, named after
# its variable; tests/terraform/test_module_tests.py checks that no block is left out).
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}

run "bucket_name_rejects_uppercase_and_underscores" {
  command = plan
  variables {
    bucket_name = "ETL_Bucket"
  }
  expect_failures = [var.bucket_name]
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

run "kms_alias_name_rejects_a_name_without_alias_prefix" {
  command = plan
  variables {
    kms_alias_name = "etl-test-etl"
  }
  expect_failures = [var.kms_alias_name]
}

run "table_key_rejects_the_same_key_twice" {
  command = plan
  variables {
    table_key = { partition_key = "file_id", sort_key = "file_id" }
  }
  expect_failures = [var.table_key]
}
