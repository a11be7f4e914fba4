# Values the mocked hashicorp/aws returns in this module's `terraform test` runs:
# one account in us-east-1, ARNs in the formats AWS returns.

mock_data "aws_region" {
  defaults = {
    id          = "us-east-1"
    description = "US East (N. Virginia)"
    endpoint    = "ec2.us-east-1.amazonaws.com"
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
