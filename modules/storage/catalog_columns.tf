# Glue/Athena column types derived from the deployed schema JSON (a Frictionless Table
# Schema): the same file that drives validation and the Parquet types, so the catalog cannot
# drift from the data. Kept in its own provider-free file so tests can evaluate it with
# `terraform console`. The schema itself is checked completely by build.py (and by every
# function that loads it); a document without `fields` fails here, at plan time.
locals {
  schema_document = jsondecode(file(var.schema_file))

  # Hive (so Glue and Athena) has no time of day: a `time` is Parquet TIME(MICROS), an INT64
  # of microseconds after midnight, declared bigint. A `yearmonth` is its text (YYYY-MM).
  glue_types = {
    string    = "string"
    integer   = "bigint"
    datetime  = "timestamp"
    date      = "date"
    boolean   = "boolean"
    time      = "bigint"
    year      = "int"
    yearmonth = "string"
    any       = "string"
  }

  # a number without precision/scale is DECIMAL(38, 18) (etl.schema.DEFAULT_NUMBER_*)
  processed_columns = [
    for f in local.schema_document.fields : {
      name    = f.name
      type    = try(f.type, "string") == "number" ? "decimal(${try(f.precision, 38)},${try(f.scale, 18)})" : local.glue_types[try(f.type, "string")]
      comment = try(f.constraints.required, false) ? "required" : "optional"
    }
  ]

  rejected_columns = [
    { name = "line", type = "bigint", comment = "1-based line in the original file where the record starts" },
    { name = "reason", type = "string", comment = "why the row was rejected (no values: group by it)" },
    { name = "raw", type = "string", comment = "the record's exact text" },
    {
      name    = "failures"
      type    = "array<struct<column:string,rule:string,value:string>>"
      comment = "each failure: column (null for record-level rules), rule (type, required, enum, pattern, minimum, maxLength, fields, encoding, malformed, ...), the value as in the file"
    },
  ]
}
