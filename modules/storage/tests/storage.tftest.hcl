# The storage module's contract: names, protection switches, the KMS key choice and the
# outputs other modules wire to. Mocked provider: no AWS, no credentials.
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}

run "defaults_create_a_private_bucket_table_and_key" {
  command = plan

  assert {
    condition     = aws_s3_bucket.this[0].bucket == "etl-test-processing-123456789012" && length(aws_s3_bucket.retained) == 0
    error_message = "The bucket name is <prefix>-processing-<account id>, in the unprotected block."
  }
  assert {
    condition     = output.bucket_name == aws_s3_bucket.this[0].id && output.bucket_arn == aws_s3_bucket.this[0].arn
    error_message = "bucket_name/bucket_arn must come from the bucket."
  }
  assert {
    condition     = aws_s3_bucket.this[0].force_destroy == false
    error_message = "force_destroy is off unless asked for."
  }
  assert {
    condition     = output.table_name == "etl-test-status" && output.table_arn == aws_dynamodb_table.this[0].arn
    error_message = "The table is <prefix>-status and table_arn comes from it."
  }
  assert {
    condition     = aws_dynamodb_table.this[0].deletion_protection_enabled == true && aws_dynamodb_table.this[0].point_in_time_recovery[0].enabled == true
    error_message = "The table has deletion protection (default) and point-in-time recovery."
  }
  assert {
    condition     = output.kms_key_arn == aws_kms_key.this[0].arn && aws_kms_key.this[0].enable_key_rotation == true
    error_message = "A rotating key is created and exported when no kms_key_arn is given."
  }
  assert {
    condition     = aws_kms_alias.this[0].name == "alias/etl-test-etl"
    error_message = "The key alias is alias/<prefix>-etl."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id == aws_kms_key.this[0].arn
    error_message = "The bucket is encrypted with the pipeline key."
  }
  assert {
    condition     = alltrue([for k in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"] : aws_s3_bucket_public_access_block.this[k] == true])
    error_message = "All public access is blocked."
  }
  assert {
    condition     = data.aws_iam_policy_document.bucket.statement[0].effect == "Deny" && one(data.aws_iam_policy_document.bucket.statement[0].condition).variable == "aws:SecureTransport" && jsonencode(one(data.aws_iam_policy_document.bucket.statement[0].condition).values) == jsonencode(["false"])
    error_message = "The bucket policy denies every request without TLS."
  }
  assert {
    condition     = output.schema_object_keys == { transactions = "config/schemas/transactions.json" } && aws_s3_object.schema["transactions"].kms_key_id == aws_kms_key.this[0].arn
    error_message = "The schema is uploaded to config/schema.json, encrypted with the pipeline key."
  }
  assert {
    condition     = output.catalog_database_name == "etl_test"
    error_message = "The Glue database defaults to the prefix with underscores."
  }
  assert {
    condition     = [for c in aws_glue_catalog_table.processed[0].storage_descriptor[0].columns : c.name] == ["transaction_id", "account_id", "timestamp", "amount", "currency", "merchant", "category", "status"]
    error_message = "The processed table has the schema's columns, in order."
  }
  assert {
    condition     = aws_glue_catalog_table.processed[0].storage_descriptor[0].location == "s3://etl-test-processing-123456789012/processed/"
    error_message = "The processed table reads processed/."
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.bucket.statement : s.sid] == ["DenyInsecureTransport", "DenyObjectsNotEncryptedWithKms", "DenyObjectsUnderAnotherKmsKey", "DenyObjectsUnderTheAwsManagedKey"] && alltrue([for s in data.aws_iam_policy_document.bucket.statement : s.effect == "Deny"])
    error_message = "The bucket policy denies plain HTTP and objects under anything but the pipeline key; it allows nothing."
  }
  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.bucket.statement : s.condition if s.sid == "DenyObjectsUnderAnotherKmsKey"])) == jsonencode([{ test = "StringNotEqualsIfExists", variable = "s3:x-amz-server-side-encryption-aws-kms-key-id", values = [aws_kms_key.this[0].arn] }])
    error_message = "Uploads naming another KMS key are denied."
  }
  assert {
    condition     = [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.id] == ["abort-incomplete-multipart-uploads", "expire-noncurrent-versions", "remove-expired-delete-markers", "processed-storage-class", "expire-manifests", "expire-staging", "expire-work"]
    error_message = "Lifecycle: multipart abort, noncurrent expiry and expired delete markers bucket-wide, processed/ storage class, expiry of the scratch prefixes."
  }
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.abort_incomplete_multipart_upload[0].days_after_initiation if r.id == "abort-incomplete-multipart-uploads"]) == 7
    error_message = "Incomplete multipart uploads are aborted after 7 days."
  }
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.noncurrent_version_expiration[0].noncurrent_days if r.id == "expire-noncurrent-versions"]) == 30
    error_message = "Noncurrent versions expire after 30 days everywhere."
  }
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.expiration[0].expired_object_delete_marker if r.id == "remove-expired-delete-markers"]) == true
    error_message = "Delete markers with no version behind them are removed."
  }
  assert {
    condition     = jsonencode([for r in aws_s3_bucket_lifecycle_configuration.this.rule : [r.filter[0].prefix, [for t in r.transition : [t.days, t.storage_class]], length(r.expiration)] if r.id == "processed-storage-class"]) == jsonencode([["processed/", [[30, "GLACIER_IR"]], 0]])
    error_message = "processed/ moves to GLACIER_IR (read by Athena) after 30 days and never expires by default."
  }
  assert {
    condition     = jsonencode({ for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.id => [r.filter[0].prefix, r.expiration[0].days, r.noncurrent_version_expiration[0].noncurrent_days] if startswith(r.id, "expire-") && r.id != "expire-noncurrent-versions" }) == jsonencode({ expire-manifests = ["manifests/", 7, 1], expire-staging = ["staging/", 7, 1], expire-work = ["work/", 7, 1] })
    error_message = "Scratch prefixes: objects expire after 7 days, their noncurrent versions after 1 day."
  }
}

run "lifecycle_inputs_reach_the_rules" {
  command = plan

  variables {
    lifecycle_rules = {
      processed_storage_class       = "STANDARD"
      processed_expire_after_days   = 400
      transient_expire_after_days   = 3
      noncurrent_expire_after_days  = 60
      noncurrent_versions_to_retain = 2
    }
  }

  assert {
    condition     = jsonencode([for r in aws_s3_bucket_lifecycle_configuration.this.rule : [length(r.transition), r.expiration[0].days] if r.id == "processed-storage-class"]) == jsonencode([[0, 400]])
    error_message = "STANDARD keeps processed/ where it is; processed_expire_after_days expires it."
  }
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.this.rule : [r.noncurrent_version_expiration[0].noncurrent_days, r.noncurrent_version_expiration[0].newer_noncurrent_versions] if r.id == "expire-noncurrent-versions"]) == [60, 2]
    error_message = "noncurrent_expire_after_days and noncurrent_versions_to_retain reach the bucket-wide rule."
  }
  assert {
    condition     = alltrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.expiration[0].days == 3 && r.noncurrent_version_expiration[0].noncurrent_days == 1 if contains(["expire-work", "expire-staging", "expire-manifests"], r.id)])
    error_message = "Scratch prefixes expire after transient_expire_after_days and their noncurrent versions after 1 day, whatever the bucket-wide rule keeps."
  }
}

run "standard_without_expiry_has_no_processed_rule" {
  command = plan

  variables {
    lifecycle_rules = { processed_storage_class = "STANDARD" }
  }

  assert {
    condition     = !contains([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.id], "processed-storage-class") && length(aws_s3_bucket_lifecycle_configuration.this.rule) == 6
    error_message = "Nothing to do for processed/ means no processed/ rule (S3 refuses a rule without an action)."
  }
}

run "retain_protects_bucket_table_and_key" {
  command = plan

  variables {
    retain = true
  }

  assert {
    condition     = length(aws_s3_bucket.this) == 0 && length(aws_dynamodb_table.this) == 0 && length(aws_kms_key.this) == 0
    error_message = "retain = true uses none of the unprotected blocks."
  }
  assert {
    condition     = output.bucket_arn == aws_s3_bucket.retained[0].arn && output.table_arn == aws_dynamodb_table.retained[0].arn && output.kms_key_arn == aws_kms_key.retained[0].arn
    error_message = "The outputs come from the protected (prevent_destroy) blocks."
  }
  assert {
    condition     = aws_s3_bucket.retained[0].force_destroy == false && aws_dynamodb_table.retained[0].deletion_protection_enabled == true
    error_message = "A retained bucket is never force-destroyed; the table keeps deletion protection."
  }
}

run "existing_key_and_explicit_names" {
  command = plan

  variables {
    kms_key_arn   = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    bucket_name   = "acme-etl-landing"
    table_name    = "acme-etl-status"
    force_destroy = true
    catalog       = { enabled = false }
  }

  assert {
    condition     = length(aws_kms_key.this) + length(aws_kms_key.retained) + length(aws_kms_alias.this) == 0
    error_message = "A given kms_key_arn creates no key and no alias."
  }
  assert {
    condition     = output.kms_key_arn == "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    error_message = "kms_key_arn passes the given key through."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id == var.kms_key_arn
    error_message = "The bucket is encrypted with the given key."
  }
  assert {
    condition     = aws_s3_bucket.this[0].bucket == "acme-etl-landing" && aws_s3_bucket.this[0].force_destroy == true && aws_dynamodb_table.this[0].name == "acme-etl-status"
    error_message = "Explicit bucket and table names and force_destroy are used."
  }
  assert {
    condition     = output.catalog_database_name == null && length(aws_glue_catalog_table.processed) == 0
    error_message = "catalog.enabled = false creates no Glue database or tables."
  }
}
