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

run "function_settings_rejects_an_unknown_function" {
  command = plan
  variables {
    function_settings = { procesor = { memory_mb = 1024 } }
  }
  expect_failures = [var.function_settings]
}

run "limits_rejects_a_chunk_bytes_minimum_under_one_kib" {
  command = plan
  variables {
    limits = { chunk_bytes_minimum = 512 }
  }
  expect_failures = [var.limits]
}

# The Map's result (one {} per chunk) must stay under the 256 KiB payload limit.
run "limits_rejects_max_chunks_over_fifty_thousand" {
  command = plan
  variables {
    limits = { max_chunks = 50001 }
  }
  expect_failures = [var.limits]
}

run "limits_rejects_chunk_bytes_under_the_minimum" {
  command = plan
  variables {
    limits = { chunk_bytes = 1024 }
  }
  expect_failures = [var.limits]
}

run "limits_rejects_max_decompressed_bytes_under_one_mib" {
  command = plan
  variables {
    limits = { max_decompressed_bytes = 1000 }
  }
  expect_failures = [var.limits]
}

run "limits_rejects_a_max_gzip_ratio_of_zero" {
  command = plan
  variables {
    limits = { max_gzip_ratio = 0 }
  }
  expect_failures = [var.limits]
}

run "limits_rejects_max_chunks_of_zero" {
  command = plan
  variables {
    limits = { max_chunks = 0 }
  }
  expect_failures = [var.limits]
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

run "datasets_rejects_an_empty_map" {
  command = plan
  variables {
    datasets = {}
  }
  expect_failures = [var.datasets]
}

run "datasets_rejects_a_name_with_a_hyphen" {
  command = plan
  variables {
    datasets = { card-payments = {} }
  }
  expect_failures = [var.datasets]
}

run "datasets_rejects_names_too_long_for_the_environment" {
  command = plan
  variables {
    datasets = { for i in range(40) : "dataset_${i}_${join("", [for j in range(50) : "x"])}" => {} }
  }
  expect_failures = [var.datasets]
}

# Replaced by datasets: refused with the line to write instead (never silently ignored).
run "schema_file_is_refused_with_what_to_write_instead" {
  command = plan
  variables {
    schema_file = "schemas/transactions.json"
  }
  expect_failures = [var.schema_file]
}
