# Inputs shared by every run in tests/*.tftest.hcl (terraform test reads this file);
# a run overrides single values in its own variables block.
prefix = "etl-test"
names = {
  results_queue        = "etl-test-results.fifo"
  failure_topic        = "etl-test-failures"
  state_machine        = "etl-test-pipeline"
  event_rule           = "etl-test-s3-incoming"
  events_dlq           = "etl-test-events-dlq"
  execution_ended_rule = "etl-test-execution-ended"
}
function_arns = {
  splitter    = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter"
  validator   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-validator"
  processor   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-processor"
  finalizer   = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-finalizer"
  mark_failed = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-mark-failed"
}
bucket_name = "etl-test-processing-123456789012"
bucket_arn  = "arn:aws:s3:::etl-test-processing-123456789012"
kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
execution_ended_handler = {
  function = "mark_failed"
  role_arn = "arn:aws:iam::123456789012:role/etl-test-mark-failed-fn"
}
