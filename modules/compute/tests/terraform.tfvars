# Inputs shared by every run in tests/*.tftest.hcl (terraform test reads this file);
# a run overrides single values in its own variables block.
prefix = "etl-test"
names = {
  function = "etl-test-{function}"
  layer    = "etl-test-deps"
  service  = "etl-test"
}
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
dynamodb_actions = {
  splitter    = ["dynamodb:GetItem", "dynamodb:PutItem"]
  validator   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
  finalizer   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]
  mark_failed = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]
}
