output "architecture" {
  description = "Architecture the build manifest was built for."
  value       = local.manifest.architecture
}

output "contract" {
  description = "contract.json as an object."
  value       = local.contract
}

output "defaults" {
  description = "contract.json `defaults` (handler limits used when the caller sets none)."
  value       = local.contract.defaults
}

output "dynamodb_actions" {
  description = "DynamoDB item actions per function (\"dynamodb:<Action>\"), from contract.json functions.*.dynamodb."
  value       = local.dynamodb_actions
}

output "env" {
  description = "Environment variable names by contract key (contract.json `env`)."
  value       = local.contract.env
}

output "function_names" {
  description = "Function names by contract key, from names.function."
  value       = local.function_names
}

output "functions" {
  description = "The compute module's `functions` input: contract handler, description and S3 access, the manifest's zip, settings and reserved concurrency."
  value       = local.functions
}

output "layer" {
  description = "The compute module's `layer` input from the manifest."
  value       = local.layer
}

output "metrics" {
  description = "contract.json `metrics` without the comment: namespace, dimension and the emitted metrics by name."
  value = {
    namespace = local.contract.metrics.namespace
    dimension = local.contract.metrics.dimension
    emitted   = local.contract.metrics.emitted
  }
}

output "names" {
  description = "Resource names by contract.json `names` key, with {prefix} and {account_id} substituted ({function} kept in `function`)."
  value       = local.names
}

output "prefixes" {
  description = "S3 key prefixes by name (contract.json `prefixes`)."
  value       = local.contract.prefixes
}

output "schema_object_key_pattern" {
  description = "Object key of a dataset's schema, {dataset} to be replaced (contract.json `schema_object_key_pattern`)."
  value       = local.contract.schema_object_key_pattern
}

output "state_machine_variables" {
  description = "Non-ARN variables of the state machine template (contract.json state_machine.variables)."
  value       = local.contract.state_machine.variables
}

output "table_key" {
  description = "The status table's partition and sort key names (contract.json `table`)."
  value = {
    partition_key = local.contract.table.partition_key
    sort_key      = local.contract.table.sort_key
  }
}
