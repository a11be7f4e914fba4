# The composition: contract.json names, keys, grants and metrics reach the four modules, and
# the per-environment switches reach storage. Mocked provider: no AWS, no credentials.
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}

run "names_come_from_the_contract_patterns" {
  command = plan

  assert {
    condition     = output.names == { for k, p in module.contract.contract.names : k => replace(replace(p, "{prefix}", "etl-test"), "{account_id}", "123456789012") if k != "comment" }
    error_message = "Every resource name is a contract.json names pattern with the prefix and account."
  }
  assert {
    condition     = output.bucket_name == "etl-test-processing-123456789012" && output.table_name == "etl-test-status"
    error_message = "Bucket and table are named by names.bucket and names.table."
  }
  assert {
    condition     = output.function_names == { for k in keys(module.contract.contract.functions) : k => "etl-test-${replace(k, "_", "-")}" }
    error_message = "One function per contract function, named by names.function."
  }
}

run "contract_keys_grants_and_variables_reach_the_modules" {
  command = plan

  assert {
    condition     = module.contract.table_key == { partition_key = module.contract.contract.table.partition_key, sort_key = module.contract.contract.table.sort_key }
    error_message = "The table keys are contract.json table.partition_key and table.sort_key."
  }
  assert {
    condition     = module.contract.dynamodb_actions == { for k, f in module.contract.contract.functions : k => [for a in f.dynamodb : "dynamodb:${a}"] }
    error_message = "Each function's DynamoDB grants are its contract.json dynamodb list."
  }
  assert {
    condition     = module.contract.state_machine_variables == module.contract.contract.state_machine.variables
    error_message = "The state machine template gets contract.json state_machine.variables."
  }
}

run "dev_switches_reach_storage" {
  command = plan

  variables {
    force_destroy                = true
    deletion_protection          = false
    retain                       = false
    kms_key_deletion_window_days = 7
  }

  assert {
    condition     = module.storage.bucket_name == "etl-test-processing-123456789012"
    error_message = "The bucket keeps its contract name."
  }
}

run "lifecycle_rules_reach_storage" {
  command = plan

  variables {
    lifecycle_rules = { processed_storage_class = "INTELLIGENT_TIERING", processed_transition_after_days = 45 }
  }

  assert {
    condition     = module.storage.lifecycle_rules.processed_storage_class == "INTELLIGENT_TIERING" && module.storage.lifecycle_rules.processed_transition_after_days == 45
    error_message = "The caller's lifecycle_rules reach the storage module."
  }
  assert {
    condition     = module.storage.lifecycle_rules.transient_expire_after_days == 7
    error_message = "Attributes the caller leaves out keep the storage module's defaults."
  }
}

run "the_default_dataset_is_transactions" {
  command = plan

  assert {
    condition     = jsonencode(keys(local.datasets)) == jsonencode(["transactions"]) && endswith(local.datasets.transactions.schema_file, "/schemas/transactions.json")
    error_message = "Without datasets the deployment serves transactions with <repo>/schemas/transactions.json."
  }
  assert {
    condition     = local.environment["ETL_DATASETS"] == "transactions"
    error_message = "ETL_DATASETS names the datasets."
  }
}

run "datasets_reach_storage_compute_and_observability" {
  command = plan

  variables {
    datasets = {
      transactions = {}
      orders       = { schema_file = "../storage/tests/schemas/orders.json" }
    }
  }

  assert {
    condition     = local.environment[module.contract.env.datasets] == "orders,transactions"
    error_message = "Every function gets the dataset names, sorted and comma-separated, in contract.json env.datasets (ETL_DATASETS)."
  }
  assert {
    condition     = module.contract.env.datasets == "ETL_DATASETS" && module.contract.schema_object_key_pattern == "config/schemas/{dataset}.json"
    error_message = "contract.json names the variable and the schema objects' key pattern."
  }
  assert {
    condition     = module.storage.schema_object_keys == { orders = "config/schemas/orders.json", transactions = "config/schemas/transactions.json" }
    error_message = "Each dataset's schema goes to contract.json schema_object_key_pattern."
  }
  assert {
    condition     = jsonencode(sort(keys(module.storage.catalog_tables))) == jsonencode(["orders_v1", "orders_v2", "transactions_v1"]) && output.catalog_tables == module.storage.catalog_tables
    error_message = "A table pair per dataset and major (orders keeps its released major 1), exported as catalog_tables."
  }
}

run "limits_reach_the_functions_environment" {
  command = plan

  variables {
    limits = { chunk_bytes = 2097152, max_chunks = 50 }
  }

  assert {
    condition     = local.environment[module.contract.env.chunk_bytes] == "2097152" && local.environment[module.contract.env.max_chunks] == "50"
    error_message = "The limits set reach the functions' environment."
  }
  assert {
    condition     = local.environment[module.contract.env.max_record_bytes] == tostring(module.contract.defaults.max_record_bytes)
    error_message = "A limit left out is contract.json defaults."
  }
}
