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

  # EventBridge (dead-letter delivery to the encrypted SQS queue) and CloudWatch alarms
  # (publish to the encrypted SNS topic) call KMS as service principals, so only the key
  # policy can let them use the key: each for this pipeline's rules or alarms only
  # (aws:SourceArn, var.key_service_users), in this account. Nothing else does: S3
  # notifications go to EventBridge (not to SQS/SNS) and the topic has no SQS subscriptions,
  # so SNS itself needs no grant. The pipeline's own roles (functions, state machine) get the
  # key through IAM, limited there by kms:ViaService and the service's encryption context
  # (modules compute and orchestration).
  statement {
    sid       = "AllowPipelineRulesToUseKeyForDeadLetters"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.key_event_rule_arns
    }
  }

  statement {
    sid       = "AllowPipelineAlarmsToUseKeyForTheTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.key_alarm_arns
    }
  }
}

# TLS only, and objects only under the pipeline key. Uploads that carry no encryption
# headers get the bucket default (SSE-KMS with the pipeline key), so only explicit wrong
# values are denied (the pattern AWS documents for the s3:x-amz-server-side-encryption*
# condition keys): another algorithm (SSE-S3 "AES256", DSSE), another KMS key, or "aws:kms"
# without a key id (S3 then uses the AWS managed aws/s3 key, not the bucket default).
# PutObject also covers CopyObject and CreateMultipartUpload.
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

  statement {
    sid       = "DenyObjectsNotEncryptedWithKms"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  statement {
    sid       = "DenyObjectsUnderAnotherKmsKey"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [local.kms_key_arn]
    }
  }

  statement {
    sid       = "DenyObjectsUnderTheAwsManagedKey"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }

    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = ["true"]
    }
  }
}
