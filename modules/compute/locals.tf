locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  dns_suffix = data.aws_partition.current.dns_suffix
  table_name = element(split("/", var.table_arn), 1)

  service_name = var.names.service

  # Defined once: the caller's contract variables plus the Powertools settings.
  environment = merge(var.environment, {
    POWERTOOLS_SERVICE_NAME      = local.service_name
    POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
    POWERTOOLS_LOG_LEVEL         = var.log_level
  })

  function_name_pattern = var.names.function
  layer_name            = var.names.layer

  function_names = {
    for name, _ in var.functions : name => replace(local.function_name_pattern, "{function}", replace(name, "_", "-"))
  }

  log_group_arns = {
    for name, fn in local.function_names : name => "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${fn}"
  }

  # S3 access by prefix: object ARNs per function and access kind. Reading `config` means
  # reading the datasets' schema objects (any version: the functions read the version the
  # splitter pinned), nothing else under config/; other prefixes are read whole.
  read_below_prefix = {
    config = trimprefix(replace(var.schema_object_key_pattern, "{dataset}", "*"), var.prefixes["config"])
  }
  s3_object_arns = {
    for name, f in var.functions : name => {
      read   = [for p in f.s3_read : "${var.bucket_arn}/${var.prefixes[p]}${lookup(local.read_below_prefix, p, "*")}"]
      write  = [for p in f.s3_write : "${var.bucket_arn}/${var.prefixes[p]}*"]
      delete = [for p in f.s3_delete : "${var.bucket_arn}/${var.prefixes[p]}*"]
      # ListBucket only where objects are enumerated: prefixes the function deletes from,
      # plus any it lists explicitly.
      list = [for p in distinct(concat(f.s3_delete, f.s3_list)) : "${var.prefixes[p]}*"]
    }
  }

  layer_key = "${var.artifacts_key_prefix}layers/${var.layer.sha256}.zip"

  # Use of the pipeline key, by service: S3 (the bucket uses an S3 Bucket Key, so the
  # encryption context is the bucket ARN) and DynamoDB (the table name).
  kms_via = {
    s3       = { service = "s3", context_key = "kms:EncryptionContext:aws:s3:arn", context = var.bucket_arn }
    dynamodb = { service = "dynamodb", context_key = "kms:EncryptionContext:aws:dynamodb:tableName", context = local.table_name }
  }
  # Per function: Decrypt through S3 to read objects and to complete multipart uploads;
  # GenerateDataKey only for functions that write objects; Decrypt through DynamoDB for the
  # status table (DynamoDB decrypts on the caller's behalf, reads and writes alike).
  kms_grants = {
    for name, f in var.functions : name => merge(
      length(f.s3_read) + length(f.s3_write) > 0 ? { DecryptThroughS3 = merge(local.kms_via.s3, { actions = ["kms:Decrypt"] }) } : {},
      length(f.s3_write) > 0 ? { GenerateDataKeyThroughS3 = merge(local.kms_via.s3, { actions = ["kms:GenerateDataKey"] }) } : {},
      length(var.dynamodb_actions[name]) > 0 ? { DecryptThroughDynamoDB = merge(local.kms_via.dynamodb, { actions = ["kms:Decrypt"] }) } : {},
    )
  }
}
