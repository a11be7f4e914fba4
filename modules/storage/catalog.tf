# Athena-queryable tables over the published data: processed/ (typed rows, columns from the
# schema) and rejected/ (line, reason, raw, failures). Athena reads every object below a table's
# location, so each table covers all datasets and versions; filter on "$path" (for example
# `WHERE "$path" LIKE '%/version=<id>/%'`) to read one file version.

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
  count = var.catalog.enabled ? 1 : 0

  name          = "processed"
  database_name = aws_glue_catalog_database.this[0].name
  description   = "Valid rows, typed by the deployed schema."
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    EXTERNAL              = "TRUE"
    classification        = "parquet"
    "parquet.compression" = "SNAPPY"
  }

  storage_descriptor {
    location      = "s3://${local.bucket_name}/${var.prefixes["processed"]}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    dynamic "columns" {
      for_each = local.processed_columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

resource "aws_glue_catalog_table" "rejected" {
  count = var.catalog.enabled ? 1 : 0

  name          = "rejected"
  database_name = aws_glue_catalog_database.this[0].name
  description   = "Rejected rows with their line, reason, exact raw text and failures (column, rule, value)."
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    EXTERNAL              = "TRUE"
    classification        = "parquet"
    "parquet.compression" = "SNAPPY"
  }

  storage_descriptor {
    location      = "s3://${local.bucket_name}/${var.prefixes["rejected"]}"
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
