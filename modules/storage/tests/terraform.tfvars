# Inputs shared by every run in tests/*.tftest.hcl (terraform test reads this file);
# a run overrides single values in its own variables block.
prefix = "etl-test"
names = {
  bucket    = "etl-test-processing-123456789012"
  table     = "etl-test-status"
  kms_alias = "alias/etl-test-etl"
}
prefixes = {
  incoming  = "incoming/"
  staging   = "staging/"
  manifests = "manifests/"
  work      = "work/"
  processed = "processed/"
  rejected  = "rejected/"
  config    = "config/"
}
datasets = {
  transactions = { schema_file = "../../schemas/transactions.json" }
}
table_key = {
  partition_key = "file_id"
  sort_key      = "chunk_id"
}
