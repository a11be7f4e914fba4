# Inputs shared by every run in tests/*.tftest.hcl (terraform test reads this file);
# a run overrides single values in its own variables block.
prefix = "etl-test"
names = {
  dashboard = "etl-test-pipeline"
  service   = "etl-test"
}
state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:etl-test-pipeline"
function_names = {
  splitter    = "etl-test-splitter"
  validator   = "etl-test-validator"
  processor   = "etl-test-processor"
  finalizer   = "etl-test-finalizer"
  mark_failed = "etl-test-mark-failed"
}
table_name        = "etl-test-status"
events_dlq_name   = "etl-test-events-dlq"
alarm_topic_arn   = "arn:aws:sns:us-east-1:123456789012:etl-test-failures"
metrics_namespace = "CsvEtl"
custom_metrics = {
  dimension = "service"
  emitted   = ["RowsValid", "RowsRejected", "ProcessedBytes", "ChunkSeconds", "ReadRetries", "FilesCompleted", "FilesFailed"]
}
datasets = ["transactions", "orders"]
