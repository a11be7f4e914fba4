# Values the mocked hashicorp/aws returns in this module's `terraform test` runs:
# one account in us-east-1, ARNs in the formats AWS returns.

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

# Every policy document renders to a real policy JSON (roles and policies validate it).
mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"states.amazonaws.com\"},\"Action\":\"sts:AssumeRole\",\"Condition\":{\"StringEquals\":{\"aws:SourceAccount\":\"123456789012\"}}}]}"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn       = "arn:aws:iam::123456789012:role/etl-test-pipeline-sfn"
    unique_id = "AROA3XFRBF535PLBIFPI4"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/etl-test-pipeline"
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
