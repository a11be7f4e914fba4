# Key policy: the account administers the key through IAM (AWS's default key policy);
# services that write encrypted data on our behalf get use of the key, scoped to this
# account and, for CloudWatch Logs, to this pipeline's log groups.
data "aws_iam_policy_document" "kms_key" {
  # checkov:skip=CKV_AWS_109: key policy; "*" is this key and the root principal delegates to IAM (AWS default key policy)
  # checkov:skip=CKV_AWS_111: key policy; "*" is this key and the root principal delegates to IAM (AWS default key policy)
  # checkov:skip=CKV_AWS_356: key policy; in a key policy the resource "*" means this key only
  statement {
    sid       = "EnableRootAccountAdministration"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid    = "AllowCloudWatchLogs"
    effect = "Allow"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.prefix}-*",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/vendedlogs/states/${var.prefix}-*",
      ]
    }
  }

  # EventBridge (DLQ delivery), CloudWatch alarms (SNS publish) and S3 event
  # notifications write to encrypted SQS/SNS and need the data key.
  statement {
    sid       = "AllowAwsServicesToUseKeyForQueuesAndTopics"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com", "sns.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# TLS only: deny every request that does not use HTTPS.
data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.bucket.arn,
      "${local.bucket.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
