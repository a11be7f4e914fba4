# The catalog's tables and their Glue/Athena column types, derived from each dataset's schema
# JSON (a Frictionless Table Schema): the same files that drive validation and the Parquet
# types, so the catalog cannot drift from the data. Kept in its own provider-free file so tests
# can evaluate it with `terraform console`. The schemas themselves are checked completely by
# build.py (and by every function that loads them); a document without `fields` fails here.
#
# One table pair per dataset and major schema version: the current major from the dataset's
# schema_file, each older major from its released baseline
# <dir of schema_file>/released/<dataset>/v<N>.json (N below the current major), so a new
# major gets its own tables and prefixes and leaves the older ones as they are.
locals {
  schema_documents = { for name, d in var.datasets : name => jsondecode(file(d.schema_file)) }

  # `version` is N, "N", "N.M" or "N.M.P" (none means 1, as etl.schema reads it); the major is
  # its first component.
  current_majors = {
    for name, doc in local.schema_documents : name => tonumber(split(".", tostring(try(doc.version, 1)))[0])
  }

  released_majors = merge([
    for name, d in var.datasets : {
      for f in fileset("${dirname(d.schema_file)}/released/${name}", "v*.json") :
      "${name}_v${tonumber(trimsuffix(trimprefix(f, "v"), ".json"))}" => {
        dataset = name
        major   = tonumber(trimsuffix(trimprefix(f, "v"), ".json"))
        file    = "${dirname(d.schema_file)}/released/${name}/${f}"
      }
      if can(regex("^v[1-9][0-9]*\\.json$", f)) && try(tonumber(trimsuffix(trimprefix(f, "v"), ".json")) < local.current_majors[name], false)
    }
  ]...)

  # Table pairs keyed "<dataset>_v<major>" (the valid rows' table name), each reading the
  # objects below its two prefixes.
  catalog_tables = {
    for key, t in merge(local.released_majors, {
      for name, d in var.datasets : "${name}_v${local.current_majors[name]}" => {
        dataset = name
        major   = local.current_majors[name]
        file    = d.schema_file
      }
      }) : key => merge(t, {
      valid_prefix    = "${var.prefixes["processed"]}${t.dataset}/v${t.major}/"
      rejected_prefix = "${var.prefixes["rejected"]}${t.dataset}/v${t.major}/"
    })
  }

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
  processed_columns = {
    for key, t in local.catalog_tables : key => [
      for f in jsondecode(file(t.file)).fields : {
        name    = f.name
        type    = try(f.type, "string") == "number" ? "decimal(${try(f.precision, 38)},${try(f.scale, 18)})" : local.glue_types[try(f.type, "string")]
        comment = try(f.constraints.required, false) ? "required" : "optional"
      }
    ]
  }

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
