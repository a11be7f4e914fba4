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

# Every policy document renders to a real policy JSON (roles and role policies validate it).
mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\",\"Condition\":{\"StringEquals\":{\"aws:SourceAccount\":\"123456789012\"}}}]}"
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
