locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  dns_suffix = data.aws_partition.current.dns_suffix

  state_machine_name = "${var.prefix}-pipeline"
  rule_name          = "${var.prefix}-s3-incoming"

  # Built from the name, not from aws_sfn_state_machine.this.arn: the machine's role
  # needs these ARNs (Distributed Map child executions), and the machine needs the role.
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"
  execution_arns = [
    "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}/*",
    "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}:*",
  ]
  # Built statically too, so the rendered definition is known at plan time (plan tests
  # and reviewers see the real document); these are the URL and ARN formats SQS and SNS return.
  results_queue_url = "https://sqs.${local.region}.${data.aws_partition.current.dns_suffix}/${local.account_id}/${aws_sqs_queue.results.name}"
  failure_topic_arn = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${aws_sns_topic.failures.name}"


  invoked_function_arns = flatten([
    for arn in values(var.function_arns) : [arn, "${arn}:*"]
  ])
}
