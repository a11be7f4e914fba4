# Linked into every environment root (envs/<env>/moved.tf -> ../shared/moved.tf).
# Deployments made before modules/pipeline had the four modules at the root: these moves keep
# every resource (prod's prevent_destroy ones included) instead of planning destroy + create.
moved {
  from = module.storage
  to   = module.pipeline.module.storage
}

moved {
  from = module.compute
  to   = module.pipeline.module.compute
}

moved {
  from = module.orchestration
  to   = module.pipeline.module.orchestration
}

moved {
  from = module.observability
  to   = module.pipeline.module.observability
}
