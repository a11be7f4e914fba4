data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

# ---------------------------------------------------------------------------
# KMS: one customer-managed key for the pipeline's data at rest (S3, DynamoDB)
# and for the other modules' SQS, SNS and CloudWatch Logs.
# ---------------------------------------------------------------------------

resource "aws_kms_key" "this" {
  count = local.create_kms_key && !var.retain ? 1 : 0

  description             = "${var.prefix}: CSV ETL pipeline data, queues, topics and logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms_key.json
  tags                    = var.tags
}

resource "aws_kms_key" "retained" {
  count = local.create_kms_key && var.retain ? 1 : 0

  description             = "${var.prefix}: CSV ETL pipeline data, queues, topics and logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms_key.json
  tags                    = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  name          = local.kms_alias_name
  target_key_id = local.created_kms_key_arn
}

# ---------------------------------------------------------------------------
# S3 processing bucket
# ---------------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_18: access logging goes to a central log bucket owned by the account baseline, not by this pipeline
  # checkov:skip=CKV_AWS_144: cross-region replication is a DR decision per account; processed data can be rebuilt from incoming/
  count = var.retain ? 0 : 1

  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket" "retained" {
  # checkov:skip=CKV_AWS_18: access logging goes to a central log bucket owned by the account baseline, not by this pipeline
  # checkov:skip=CKV_AWS_144: cross-region replication is a DR decision per account; processed data can be rebuilt from incoming/
  count = var.retain ? 1 : 0

  bucket        = local.bucket_name
  force_destroy = false
  tags          = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = one(concat(aws_s3_bucket.this, aws_s3_bucket.retained)).id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = one(concat(aws_s3_bucket.this, aws_s3_bucket.retained)).id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = one(concat(aws_s3_bucket.this, aws_s3_bucket.retained)).id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = one(concat(aws_s3_bucket.this, aws_s3_bucket.retained)).id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = one(concat(aws_s3_bucket.this, aws_s3_bucket.retained)).id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# Scratch prefixes (work/, staging/, manifests/) really expire: current objects after
# transient_expire_after_days, their noncurrent versions (left by the pipeline's own deletes
# in this versioned bucket) after transient_noncurrent_expire_after_days, with no version
# kept back. Everywhere, noncurrent versions expire after noncurrent_expire_after_days
# (noncurrent_versions_to_retain > 0 keeps that many back outside the scratch prefixes: S3
# applies the earliest expiration of overlapping rules), delete markers left with no version
# behind them are removed, and incomplete multipart uploads are aborted.
# processed/ may move to a storage class Athena still reads (GLACIER_IR by default,
# INTELLIGENT_TIERING or STANDARD_IA; STANDARD keeps it where it is); the variable refuses
# GLACIER and DEEP_ARCHIVE, which Athena skips (the Glue table would silently lose rows).
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = one(concat(aws_s3_bucket.this, aws_s3_bucket.retained)).id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days           = var.lifecycle_rules.noncurrent_expire_after_days
      newer_noncurrent_versions = var.lifecycle_rules.noncurrent_versions_to_retain > 0 ? var.lifecycle_rules.noncurrent_versions_to_retain : null
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  dynamic "rule" {
    for_each = local.processed_lifecycle ? [1] : []
    content {
      id     = "processed-storage-class"
      status = "Enabled"

      filter {
        prefix = var.prefixes["processed"]
      }

      dynamic "transition" {
        for_each = var.lifecycle_rules.processed_storage_class == "STANDARD" ? [] : [var.lifecycle_rules.processed_transition_after_days]
        content {
          days          = transition.value
          storage_class = var.lifecycle_rules.processed_storage_class
        }
      }

      dynamic "expiration" {
        for_each = var.lifecycle_rules.processed_expire_after_days == null ? [] : [var.lifecycle_rules.processed_expire_after_days]
        content {
          days = expiration.value
        }
      }
    }
  }

  dynamic "rule" {
    for_each = local.transient_prefixes
    content {
      id     = "expire-${rule.key}"
      status = "Enabled"

      filter {
        prefix = rule.value
      }

      expiration {
        days = var.lifecycle_rules.transient_expire_after_days
      }

      noncurrent_version_expiration {
        noncurrent_days = var.lifecycle_rules.transient_noncurrent_expire_after_days
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# Object Created events go to EventBridge; the orchestration module's rule filters incoming/.
resource "aws_s3_bucket_notification" "this" {
  bucket      = one(concat(aws_s3_bucket.this, aws_s3_bucket.retained)).id
  eventbridge = true
}

# One schema object per dataset (config/schemas/<dataset>.json, contract.json
# schema_object_key_pattern). The bucket is versioned: the functions pin the version the
# splitter read, so a schema change applies to files that arrive after it, never mid-file.
resource "aws_s3_object" "schema" {
  for_each = var.datasets

  bucket       = local.bucket.id
  key          = replace(var.schema_object_key_pattern, "{dataset}", each.key)
  source       = each.value.schema_file
  source_hash  = filemd5(each.value.schema_file)
  content_type = "application/json"
  kms_key_id   = local.kms_key_arn
  # With the S3 Bucket Key the KMS encryption context is the bucket ARN, which is what the
  # functions' kms:EncryptionContext:aws:s3:arn condition allows (modules/compute).
  bucket_key_enabled = true
  tags               = var.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.this]
}

# ---------------------------------------------------------------------------
# DynamoDB status table (file and chunk items, see docs/contracts.md)
# ---------------------------------------------------------------------------

resource "aws_dynamodb_table" "this" {
  count = var.retain ? 0 : 1

  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.table_key.partition_key
  range_key                   = var.table_key.sort_key
  deletion_protection_enabled = var.deletion_protection

  # Both keys are strings (file id; "FILE" or "CHUNK#<n>").
  dynamic "attribute" {
    for_each = [var.table_key.partition_key, var.table_key.sort_key]
    content {
      name = attribute.value
      type = "S"
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  dynamic "ttl" {
    for_each = var.ttl_attribute == null ? [] : [var.ttl_attribute]
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "retained" {
  count = var.retain ? 1 : 0

  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.table_key.partition_key
  range_key                   = var.table_key.sort_key
  deletion_protection_enabled = var.deletion_protection

  # Both keys are strings (file id; "FILE" or "CHUNK#<n>").
  dynamic "attribute" {
    for_each = [var.table_key.partition_key, var.table_key.sort_key]
    content {
      name = attribute.value
      type = "S"
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  dynamic "ttl" {
    for_each = var.ttl_attribute == null ? [] : [var.ttl_attribute]
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  tags = var.tags

  lifecycle {
    prevent_destroy = true
  }
}
