data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = var.functions

  name               = "${local.function_names[each.key]}-fn"
  description        = "Least-privilege role of the ${local.function_names[each.key]} function."
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# One policy per function, built from contract.json's s3_read/s3_write/s3_delete prefixes.
data "aws_iam_policy_document" "function" {
  for_each = var.functions

  dynamic "statement" {
    for_each = length(each.value.s3_read) > 0 ? [1] : []
    content {
      sid       = "ReadObjectsByPrefix"
      effect    = "Allow"
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = local.s3_object_arns[each.key].read
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_write) > 0 ? [1] : []
    content {
      sid       = "WriteObjectsByPrefix"
      effect    = "Allow"
      actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
      resources = local.s3_object_arns[each.key].write
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_delete) > 0 ? [1] : []
    content {
      sid       = "DeleteObjectsByPrefix"
      effect    = "Allow"
      actions   = ["s3:DeleteObject"]
      resources = local.s3_object_arns[each.key].delete
    }
  }

  dynamic "statement" {
    for_each = length(local.s3_object_arns[each.key].list) > 0 ? [1] : []
    content {
      sid       = "ListOnlyOwnPrefixes"
      effect    = "Allow"
      actions   = ["s3:ListBucket"]
      resources = [var.bucket_arn]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = local.s3_object_arns[each.key].list
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.dynamodb_actions[each.key]) > 0 ? [1] : []
    content {
      sid       = "StatusTableItems"
      effect    = "Allow"
      actions   = var.dynamodb_actions[each.key]
      resources = [var.table_arn]
    }
  }

  # The key only through S3 and DynamoDB, for this bucket's objects and this table's items
  # (local.kms_grants: which grants a function gets). The statement's shape is the same as
  # the state machine's key use in modules/orchestration (a test keeps the two equal).
  dynamic "statement" {
    for_each = local.kms_grants[each.key]
    content {
      sid       = statement.key
      effect    = "Allow"
      actions   = statement.value.actions
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["${statement.value.service}.${local.region}.${local.dns_suffix}"]
      }

      condition {
        test     = "StringEquals"
        variable = statement.value.context_key
        values   = [statement.value.context]
      }
    }
  }

  statement {
    sid       = "WriteOwnLogGroup"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arns[each.key]}:*"]
  }

  # X-Ray trace APIs have no resource-level permissions: AWS requires Resource "*".
  statement {
    sid       = "XRayTracing"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  # No cloudwatch:PutMetricData: Powertools Metrics writes the custom metrics as EMF
  # through the function's log stream, and CloudWatch extracts them from the logs.

  # From the seed: never let a function delete the bucket or the table.
  statement {
    sid       = "DenyDeleteBucketAndTable"
    effect    = "Deny"
    actions   = ["s3:DeleteBucket", "dynamodb:DeleteTable"]
    resources = [var.bucket_arn, var.table_arn]
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = var.functions

  name   = "least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json

  lifecycle {
    precondition {
      condition     = startswith(var.schema_object_key_pattern, var.prefixes["config"])
      error_message = "schema_object_key_pattern (${var.schema_object_key_pattern}) must lie under the config prefix (${var.prefixes["config"]}): the functions' read grant on config covers the schema objects only."
    }
  }
}
