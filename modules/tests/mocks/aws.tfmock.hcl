# Values the mocked hashicorp/aws returns in every module's `terraform test` runs (each
# tests/*.tftest.hcl has mock_provider "aws" { source = "../tests/mocks" }): one account in
# us-east-1, ARNs in the formats AWS returns. override_* blocks name one module's resources;
# in the other modules their targets do not exist and Terraform ignores them.


mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:sts::123456789012:assumed-role/ci/terraform-test"
    user_id    = "AROA3XFRBF535PLBIFPI4:terraform-test"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

mock_data "aws_region" {
  defaults = {
    id          = "us-east-1"
    description = "US East (N. Virginia)"
    endpoint    = "ec2.us-east-1.amazonaws.com"
  }
}

# Every policy document renders to a real policy JSON (resources validate it).
mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"DenyInsecureTransport\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":[\"arn:aws:s3:::etl-test-processing-123456789012\",\"arn:aws:s3:::etl-test-processing-123456789012/*\"],\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}"
  }
}

mock_resource "aws_kms_key" {
  defaults = {
    arn    = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    key_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
  }
}

mock_resource "aws_kms_alias" {
  defaults = {
    arn = "arn:aws:kms:us-east-1:123456789012:alias/etl-test-etl"
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    id  = "etl-test-processing-123456789012"
    arn = "arn:aws:s3:::etl-test-processing-123456789012"
  }
}

mock_resource "aws_dynamodb_table" {
  defaults = {
    id  = "etl-test-status"
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/etl-test-status"
  }
}

mock_resource "aws_glue_catalog_database" {
  defaults = {
    arn = "arn:aws:glue:us-east-1:123456789012:database/etl_test"
  }
}

mock_resource "aws_glue_catalog_table" {
  defaults = {
    arn = "arn:aws:glue:us-east-1:123456789012:table/etl_test/processed"
  }
}

override_data {
  target = data.aws_iam_policy_document.kms_key
  values = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"EnableRootAccountAdministration\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"},{\"Sid\":\"AllowCloudWatchLogs\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"logs.us-east-1.amazonaws.com\"},\"Action\":[\"kms:Encrypt\",\"kms:Decrypt\",\"kms:ReEncrypt*\",\"kms:GenerateDataKey*\",\"kms:DescribeKey\"],\"Resource\":\"*\",\"Condition\":{\"ArnLike\":{\"kms:EncryptionContext:aws:logs:arn\":\"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/etl-test-*\"}}}]}"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn       = "arn:aws:iam::123456789012:role/etl-test-splitter-fn"
    unique_id = "AROA3XFRBF535PLBIFPI4"
  }
}

mock_resource "aws_iam_role_policy" {
  defaults = {
    id = "etl-test-splitter-fn:least-privilege"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/etl-test-splitter"
  }
}

mock_resource "aws_s3_object" {
  defaults = {
    etag       = "0a4d55a8d778e5022fab701977c5d840"
    version_id = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
  }
}

mock_resource "aws_lambda_layer_version" {
  defaults = {
    arn                         = "arn:aws:lambda:us-east-1:123456789012:layer:etl-test-deps:1"
    layer_arn                   = "arn:aws:lambda:us-east-1:123456789012:layer:etl-test-deps"
    version                     = "1"
    created_date                = "2026-01-01T00:00:00.000+0000"
    signing_job_arn             = ""
    source_code_size            = 57671680
    signing_profile_version_arn = ""
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn           = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter"
    invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter/invocations"
    qualified_arn = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter:$LATEST"
    version       = "$LATEST"
    last_modified = "2026-01-01T00:00:00.000+0000"
  }
}

override_data {
  target = data.aws_iam_policy_document.function
  values = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"ReadObjectsByPrefix\",\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:GetObjectVersion\"],\"Resource\":[\"arn:aws:s3:::etl-test-processing-123456789012/incoming/*\",\"arn:aws:s3:::etl-test-processing-123456789012/config/*\"]},{\"Sid\":\"UsePipelineKey\",\"Effect\":\"Allow\",\"Action\":[\"kms:Decrypt\",\"kms:GenerateDataKey\"],\"Resource\":\"arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\"},{\"Sid\":\"DenyDeleteBucketAndTable\",\"Effect\":\"Deny\",\"Action\":[\"s3:DeleteBucket\",\"dynamodb:DeleteTable\"],\"Resource\":[\"arn:aws:s3:::etl-test-processing-123456789012\",\"arn:aws:dynamodb:us-east-1:123456789012:table/etl-test-status\"]}]}"
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn   = "arn:aws:sns:us-east-1:123456789012:etl-test-failures"
    id    = "arn:aws:sns:us-east-1:123456789012:etl-test-failures"
    owner = "123456789012"
  }
}

mock_resource "aws_sns_topic_subscription" {
  defaults = {
    arn = "arn:aws:sns:us-east-1:123456789012:etl-test-failures:6a1f7e0c-3c1b-4a59-9c55-2f1d0e8b7a64"
  }
}

mock_resource "aws_sfn_state_machine" {
  defaults = {
    arn           = "arn:aws:states:us-east-1:123456789012:stateMachine:etl-test-pipeline"
    id            = "arn:aws:states:us-east-1:123456789012:stateMachine:etl-test-pipeline"
    status        = "ACTIVE"
    creation_date = "2026-01-01T00:00:00Z"
  }
}

mock_resource "aws_cloudwatch_event_rule" {
  defaults = {
    arn = "arn:aws:events:us-east-1:123456789012:rule/etl-test-s3-incoming"
  }
}

# The two queues differ, so each gets its own values.
override_resource {
  target          = aws_sqs_queue.results
  override_during = plan
  values = {
    arn = "arn:aws:sqs:us-east-1:123456789012:etl-test-results.fifo"
    id  = "https://sqs.us-east-1.amazonaws.com/123456789012/etl-test-results.fifo"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/etl-test-results.fifo"
  }
}

override_resource {
  target          = aws_sqs_queue.events_dlq
  override_during = plan
  values = {
    arn = "arn:aws:sqs:us-east-1:123456789012:etl-test-events-dlq"
    id  = "https://sqs.us-east-1.amazonaws.com/123456789012/etl-test-events-dlq"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/etl-test-events-dlq"
  }
}

override_data {
  target = data.aws_iam_policy_document.events_assume
  values = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"events.amazonaws.com\"},\"Action\":\"sts:AssumeRole\",\"Condition\":{\"StringEquals\":{\"aws:SourceAccount\":\"123456789012\"}}}]}"
  }
}

override_data {
  target = data.aws_iam_policy_document.state_machine
  values = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"InvokePipelineFunctions\",\"Effect\":\"Allow\",\"Action\":\"lambda:InvokeFunction\",\"Resource\":[\"arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter\",\"arn:aws:lambda:us-east-1:123456789012:function:etl-test-splitter:*\"]},{\"Sid\":\"StartChildExecutions\",\"Effect\":\"Allow\",\"Action\":\"states:StartExecution\",\"Resource\":\"arn:aws:states:us-east-1:123456789012:stateMachine:etl-test-pipeline\"}]}"
  }
}

override_data {
  target = data.aws_iam_policy_document.events
  values = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"StartPipeline\",\"Effect\":\"Allow\",\"Action\":\"states:StartExecution\",\"Resource\":\"arn:aws:states:us-east-1:123456789012:stateMachine:etl-test-pipeline\"}]}"
  }
}

override_data {
  target = data.aws_iam_policy_document.events_dlq
  values = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"AllowRuleDeadLetters\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"events.amazonaws.com\"},\"Action\":\"sqs:SendMessage\",\"Resource\":\"arn:aws:sqs:us-east-1:123456789012:etl-test-events-dlq\",\"Condition\":{\"ArnEquals\":{\"aws:SourceArn\":\"arn:aws:events:us-east-1:123456789012:rule/etl-test-s3-incoming\"}}}]}"
  }
}

# The two roles differ, so a policy naming the state machine role cannot pass with the
# EventBridge role's ARN.
override_resource {
  target          = aws_iam_role.events
  override_during = plan
  values = {
    arn       = "arn:aws:iam::123456789012:role/etl-test-s3-incoming-events"
    unique_id = "AROA3XFRBF535PLBIFPJ5"
  }
}

mock_resource "aws_cloudwatch_dashboard" {
  defaults = {
    dashboard_arn = "arn:aws:cloudwatch::123456789012:dashboard/etl-test-pipeline"
  }
}

mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = {
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:etl-test-executions-failed"
  }
}

# The roles' trust policies and the state machine's role and log group (orchestration).
override_data {
  target = data.aws_iam_policy_document.assume
  values = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\",\"Condition\":{\"StringEquals\":{\"aws:SourceAccount\":\"123456789012\"}}}]}"
  }
}

override_data {
  target = data.aws_iam_policy_document.states_assume
  values = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"states.amazonaws.com\"},\"Action\":\"sts:AssumeRole\",\"Condition\":{\"StringEquals\":{\"aws:SourceAccount\":\"123456789012\"}}}]}"
  }
}

override_resource {
  target          = aws_iam_role.state_machine
  override_during = plan
  values = {
    arn       = "arn:aws:iam::123456789012:role/etl-test-pipeline-sfn"
    unique_id = "AROA3XFRBF535PLBIFPI4"
  }
}

override_resource {
  target          = aws_cloudwatch_log_group.state_machine
  override_during = plan
  values = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/etl-test-pipeline"
  }
}
