data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

# ---------------------------------------------------------------------------
# Layer: pyarrow + aws-lambda-powertools, trimmed by build.py to fit under Lambda's 50 MiB
# direct-upload cap (build.py prints the sizes; docs/decisions.md, "Lambda layer"); it goes
# to S3 first under a content-addressed key anyway, to keep the margin and upload it once
# per content.
# ---------------------------------------------------------------------------

resource "aws_s3_object" "layer" {
  bucket      = var.artifacts_bucket
  key         = local.layer_key
  source      = var.layer.path
  source_hash = var.layer.base64sha256
  tags        = var.tags
}

resource "aws_lambda_layer_version" "deps" {
  layer_name               = local.layer_name
  description              = "pyarrow and aws-lambda-powertools for ${var.runtime} on ${var.architecture}"
  s3_bucket                = aws_s3_object.layer.bucket
  s3_key                   = aws_s3_object.layer.key
  source_code_hash         = var.layer.base64sha256
  compatible_runtimes      = [var.runtime]
  compatible_architectures = [var.architecture]
}

# ---------------------------------------------------------------------------
# Log groups, created before the functions so retention and KMS apply from the start.
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "function" {
  # checkov:skip=CKV_AWS_338: retention is an input (default 30 days as in the seed); one year is the caller's choice, not a default
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116: invoked synchronously by Step Functions (lambda:invoke, RequestResponse); a DLQ only applies to async invokes, failures are caught by the state machine
  # checkov:skip=CKV_AWS_117: the functions only call regional AWS APIs (S3, DynamoDB, KMS, Logs); no VPC resources to reach
  # checkov:skip=CKV_AWS_272: code signing not used; zips are built reproducibly by build.py and pinned by source_code_hash
  # checkov:skip=CKV_AWS_115: reserved concurrency is a validated per-function input; envs/prod reserves the processor, dev and the once-per-file functions stay unreserved on purpose (docs/decisions.md)
  for_each = var.functions

  function_name                  = local.function_names[each.key]
  description                    = each.value.description
  role                           = aws_iam_role.function[each.key].arn
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  handler                        = each.value.handler
  filename                       = each.value.zip_path
  source_code_hash               = each.value.zip_base64sha256
  layers                         = [aws_lambda_layer_version.deps.arn]
  memory_size                    = each.value.memory_mb
  timeout                        = each.value.timeout_s
  reserved_concurrent_executions = each.value.reserved_concurrency == null ? -1 : each.value.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  ephemeral_storage {
    size = each.value.ephemeral_storage_mb
  }

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function]
}

# No on-failure destination: aws_lambda_function_event_invoke_config destinations and
# DLQs apply to asynchronous invocations only. Every invocation here is synchronous from
# Step Functions, whose Catch routes failures to MarkFailed -> SNS.
