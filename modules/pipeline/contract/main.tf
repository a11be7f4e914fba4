# Reads lambdas/etl/contract.json and the build manifest once and turns them into the inputs
# of the storage, compute, orchestration and observability modules. Used by modules/pipeline
# and by the test fixtures, so the glue between the contract and the modules exists once.
locals {
  repo_root = abspath("${path.module}/../../..")
  contract  = jsondecode(file(coalesce(var.contract_file, "${local.repo_root}/lambdas/etl/contract.json")))
  manifest  = jsondecode(file(coalesce(var.artifacts_manifest, "${local.repo_root}/dist/manifest.json")))

  artifacts_root = coalesce(var.artifacts_root, local.repo_root)

  # names.*: {prefix} and {account_id} substituted; {function} is left for the compute
  # module (one function name per functions key, "_" as "-").
  names = {
    for key, pattern in local.contract.names :
    key => replace(replace(pattern, "{prefix}", var.prefix), "{account_id}", var.account_id)
    if key != "comment"
  }
  function_names = {
    for name in keys(local.contract.functions) :
    name => replace(local.names.function, "{function}", replace(name, "_", "-"))
  }

  functions = {
    for name, fn in local.contract.functions : name => merge(
      {
        handler          = fn.handler
        description      = fn.description
        s3_read          = fn.s3_read
        s3_write         = fn.s3_write
        s3_delete        = fn.s3_delete
        s3_list          = fn.s3_list
        zip_path         = "${local.artifacts_root}/${local.manifest.artifacts[name].path}"
        zip_base64sha256 = local.manifest.artifacts[name].base64sha256
        # Caps this function's concurrent executions across all files (null: unreserved).
        reserved_concurrency = lookup(var.reserved_concurrency, name, null)
      },
      { for k, v in try(var.function_settings[name], {}) : k => v if v != null },
    )
  }

  # contract.json lists the item actions without the service prefix.
  dynamodb_actions = {
    for name, fn in local.contract.functions : name => [for a in fn.dynamodb : "dynamodb:${a}"]
  }

  layer = {
    path         = "${local.artifacts_root}/${local.manifest.artifacts.layer.path}"
    sha256       = local.manifest.artifacts.layer.sha256
    base64sha256 = local.manifest.artifacts.layer.base64sha256
  }
}
