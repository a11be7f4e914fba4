# Inputs shared by every run in tests/*.tftest.hcl (terraform test reads this file);
# a run overrides single values in its own variables block.
prefix = "etl-test"
prefixes = {
  incoming  = "incoming/"
  staging   = "staging/"
  manifests = "manifests/"
  work      = "work/"
  processed = "processed/"
  rejected  = "rejected/"
  config    = "config/"
}
schema_file = "../../schemas/transactions.json"
datasets = {
  transactions = { schema_file = "../../schemas/transactions.json" }
}
table_key = {
  partition_key = "file_id"
  sort_key      = "chunk_id"
}
