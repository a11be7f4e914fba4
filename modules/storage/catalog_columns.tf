# Glue/Athena column types derived from the deployed schema JSON: the same file that drives
# validation and the Parquet types, so the catalog cannot drift from the data. Kept in its
# own provider-free file so tests can evaluate it with `terraform console`.
locals {
  schema_document = jsondecode(file(var.schema_file))

  glue_types = {
    string    = "string"
    int64     = "bigint"
    timestamp = "timestamp"
    date      = "date"
    boolean   = "boolean"
  }

  processed_columns = [
    for c in local.schema_document.columns : {
      name    = c.name
      type    = try(c.type, "string") == "decimal" ? "decimal(${c.precision},${c.scale})" : local.glue_types[try(c.type, "string")]
      comment = try(c.required, true) ? "required" : "optional"
    }
  ]

  rejected_columns = [
    { name = "line", type = "bigint", comment = "1-based line in the original file where the record starts" },
    { name = "reason", type = "string", comment = "why the row was rejected" },
    { name = "raw", type = "string", comment = "the record's exact text" },
  ]
}
