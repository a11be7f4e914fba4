# Athena-queryable tables over the published data, a pair per dataset and major schema version
# (local.catalog_tables): <dataset>_v<major> over processed/<dataset>/v<major>/ (typed rows,
# columns from that major's schema) and <dataset>_v<major>_rejected over
# rejected/<dataset>/v<major>/ (line, reason, raw, failures). No partitions: Athena reads every
# object below a table's location, so no crawler and no MSCK REPAIR; filter on "$path" (for
# example `WHERE "$path" LIKE '%/version=<id>/%'`) to read one file version.

resource "aws_glue_catalog_database" "this" {
  count = var.catalog.enabled ? 1 : 0

  name        = local.catalog_database_name
  description = "Tables over the CSV ETL pipeline's published Parquet (${local.bucket_name})."
}

# Athena reads processed/ only while its objects are in a class Athena can read: the
# lifecycle moves them to lifecycle_rules.processed_storage_class (GLACIER_IR by default;
# INTELLIGENT_TIERING, STANDARD_IA or STANDARD) and the variable refuses GLACIER and
# DEEP_ARCHIVE, which Athena skips without an error (the table would silently lose rows).
resource "aws_glue_catalog_table" "processed" {
  for_each = var.catalog.enabled ? local.catalog_tables : {}

  name          = each.key
  database_name = aws_glue_catalog_database.this[0].name
  description   = "Valid rows of dataset ${each.value.dataset}, schema major version ${each.value.major}."
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    EXTERNAL              = "TRUE"
    classification        = "parquet"
    "parquet.compression" = "SNAPPY"
  }

  storage_descriptor {
    location      = "s3://${local.bucket_name}/${each.value.valid_prefix}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    dynamic "columns" {
      for_each = local.processed_columns[each.key]
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

resource "aws_glue_catalog_table" "rejected" {
  for_each = var.catalog.enabled ? local.catalog_tables : {}

  name          = "${each.key}_rejected"
  database_name = aws_glue_catalog_database.this[0].name
  description   = "Rejected rows of dataset ${each.value.dataset} (schema major version ${each.value.major}) with their line, reason, exact raw text and failures (column, rule, value)."
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    EXTERNAL              = "TRUE"
    classification        = "parquet"
    "parquet.compression" = "SNAPPY"
  }

  storage_descriptor {
    location      = "s3://${local.bucket_name}/${each.value.rejected_prefix}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    dynamic "columns" {
      for_each = local.rejected_columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}
