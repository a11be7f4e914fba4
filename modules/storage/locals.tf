locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id

  bucket_name = var.names.bucket

  catalog_database_name = coalesce(var.catalog.database_name, replace(var.prefix, "-", "_"))
  table_name            = var.names.table
  kms_alias_name        = var.names.kms_alias

  create_kms_key = var.kms_key_arn == null

  # The resources EventBridge and CloudWatch use the key for (aws:SourceArn in the key policy).
  key_event_rule_arns = [
    for name in coalesce(var.key_service_users.event_rules, ["${var.prefix}-*"]) :
    "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${name}"
  ]
  key_alarm_arns = [
    "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${coalesce(var.key_service_users.alarm_name_prefix, "${var.prefix}-")}*"
  ]

  # prevent_destroy cannot come from a variable, so each protected resource has an
  # unprotected block (count = retain ? 0 : 1) and a protected one (count = retain ? 1 : 0).
  # Exactly one instance exists; everything else reads it through these locals, except the
  # resources that configure the bucket itself (main.tf): they name both bucket blocks directly,
  # the only reference checkov links to the bucket without rendering the names chain behind
  # local.bucket, which it gives up on (docs/decisions.md, "checkov and the bucket's links").
  created_kms_key_arn = one(concat(aws_kms_key.this[*].arn, aws_kms_key.retained[*].arn))
  kms_key_arn         = local.create_kms_key ? local.created_kms_key_arn : var.kms_key_arn
  bucket              = one(concat(aws_s3_bucket.this, aws_s3_bucket.retained))
  table               = one(concat(aws_dynamodb_table.this, aws_dynamodb_table.retained))

  # Transient working data: chunk manifests, staged (decompressed) copies and chunk
  # rejects waiting for the finalizer. Nothing here is needed after a run completes.
  transient_prefixes = {
    for name in ["work", "staging", "manifests"] : name => var.prefixes[name]
  }

  # The processed/ rule exists only when it has an action (S3 refuses a rule without one).
  processed_lifecycle = var.lifecycle_rules.processed_storage_class != "STANDARD" || var.lifecycle_rules.processed_expire_after_days != null
}
