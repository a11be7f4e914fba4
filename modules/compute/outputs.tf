output "function_arns" {
  description = "Function ARNs keyed by contract name (splitter, validator, processor, finalizer, mark_failed)."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "function_names" {
  description = "Function names keyed by contract name."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "layer_arn" {
  description = "ARN of the dependencies layer version."
  value       = aws_lambda_layer_version.deps.arn
}

output "log_group_names" {
  description = "Log group names keyed by contract name."
  value       = { for k, g in aws_cloudwatch_log_group.function : k => g.name }
}

output "role_arns" {
  description = "Execution role ARNs keyed by contract name."
  value       = { for k, r in aws_iam_role.function : k => r.arn }
}
