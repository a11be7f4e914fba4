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

run "chunk_bytes_rejects_less_than_the_minimum" {
  command = plan
  variables {
    chunk_bytes = 1024
  }
  expect_failures = [var.chunk_bytes]
}

run "chunk_bytes_minimum_rejects_less_than_one_kib" {
  command = plan
  variables {
    chunk_bytes_minimum = 512
  }
  expect_failures = [var.chunk_bytes_minimum]
}

run "datasets_rejects_a_name_that_is_no_dataset_name" {
  command = plan
  variables {
    datasets = { Trades = { schema_file = "../../schemas/transactions.json" } }
  }
  expect_failures = [var.datasets]
}

run "schema_file_is_refused_in_favour_of_datasets" {
  command = plan
  variables {
    schema_file = "../../schemas/transactions.json"
  }
  expect_failures = [var.schema_file]
}

run "function_settings_rejects_an_unknown_function" {
  command = plan
  variables {
    function_settings = { procesor = { memory_mb = 1024 } }
  }
  expect_failures = [var.function_settings]
}

run "max_chunks_rejects_zero" {
  command = plan
  variables {
    max_chunks = 0
  }
  expect_failures = [var.max_chunks]
}

run "max_decompressed_bytes_rejects_less_than_one_mib" {
  command = plan
  variables {
    max_decompressed_bytes = 1000
  }
  expect_failures = [var.max_decompressed_bytes]
}

run "max_gzip_ratio_rejects_zero" {
  command = plan
  variables {
    max_gzip_ratio = 0
  }
  expect_failures = [var.max_gzip_ratio]
}

run "prefix_rejects_uppercase" {
  command = plan
  variables {
    prefix = "ETL-dev"
  }
  expect_failures = [var.prefix]
}

run "reserved_concurrency_rejects_zero" {
  command = plan
  variables {
    reserved_concurrency = { processor = 0 }
  }
  expect_failures = [var.reserved_concurrency]
}

run "reserved_concurrency_rejects_fewer_processors_than_max_concurrency" {
  command = plan
  variables {
    reserved_concurrency = { processor = 5 }
    max_concurrency      = 10
  }
  expect_failures = [var.reserved_concurrency]
}

# The build manifest's architecture must be the one deployed (a check block: a warning in a
# real plan, an expected failure here).
run "manifest_must_match_the_architecture" {
  command = plan
  variables {
    architecture = "x86_64"
  }
  expect_failures = [check.manifest_matches_architecture]
}
