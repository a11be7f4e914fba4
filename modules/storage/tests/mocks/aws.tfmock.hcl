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
