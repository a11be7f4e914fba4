# The compute module's contract: one function, role and log group per contract function,
# the layer through S3, the environment, and least-privilege policies built from the
# functions' S3 prefixes. Mocked provider: no AWS, no credentials.
mock_provider "aws" {
  source          = "../tests/mocks"
  override_during = plan
}

run "functions_roles_and_log_groups_per_function" {
  command = plan

  assert {
    condition     = output.function_names == { splitter = "etl-test-splitter", finalizer = "etl-test-finalizer" }
    error_message = "Functions are named <prefix>-<name with hyphens>, keyed by contract name."
  }
  assert {
    condition     = keys(output.function_arns) == ["finalizer", "splitter"] && output.function_arns["finalizer"] == aws_lambda_function.this["finalizer"].arn
    error_message = "function_arns are the functions' ARNs, keyed by contract name."
  }
  assert {
    condition     = output.role_arns["splitter"] == aws_iam_role.function["splitter"].arn && aws_iam_role.function["splitter"].name == "etl-test-splitter-fn"
    error_message = "Each function has its own role <function name>-fn."
  }
  assert {
    condition     = aws_lambda_function.this["splitter"].role == aws_iam_role.function["splitter"].arn
    error_message = "A function runs with its own role."
  }
  assert {
    condition     = output.log_group_names == { splitter = "/aws/lambda/etl-test-splitter", finalizer = "/aws/lambda/etl-test-finalizer" }
    error_message = "Each function logs to /aws/lambda/<function name>."
  }
  assert {
    condition     = aws_cloudwatch_log_group.function["splitter"].retention_in_days == 30 && aws_cloudwatch_log_group.function["splitter"].kms_key_id == var.kms_key_arn
    error_message = "Log groups keep 30 days by default and are encrypted with the pipeline key."
  }
  assert {
    condition     = aws_lambda_function.this["splitter"].logging_config[0].log_group == "/aws/lambda/etl-test-splitter" && aws_lambda_function.this["splitter"].logging_config[0].log_format == "JSON"
    error_message = "Functions log JSON to their log group."
  }
  assert {
    condition     = aws_lambda_function.this["splitter"].memory_size == 1769 && aws_lambda_function.this["splitter"].timeout == 900 && aws_lambda_function.this["splitter"].reserved_concurrent_executions == -1
    error_message = "Defaults: 1769 MB, 900 s, no reserved concurrency."
  }
  assert {
    condition     = aws_lambda_function.this["finalizer"].memory_size == 1024 && aws_lambda_function.this["finalizer"].reserved_concurrent_executions == 5
    error_message = "Per-function memory and reserved concurrency are applied."
  }
  assert {
    condition     = aws_lambda_function.this["splitter"].runtime == "python3.12" && aws_lambda_function.this["splitter"].architectures == tolist(["arm64"]) && aws_lambda_function.this["splitter"].tracing_config[0].mode == "Active"
    error_message = "python3.12 on arm64 with X-Ray tracing by default."
  }
  assert {
    condition     = aws_lambda_function.this["splitter"].environment[0].variables == tomap({ ETL_BUCKET = "etl-test-processing-123456789012", ETL_STATUS_TABLE = "etl-test-status", POWERTOOLS_SERVICE_NAME = "etl-test", POWERTOOLS_METRICS_NAMESPACE = "CsvEtl", POWERTOOLS_LOG_LEVEL = "INFO" })
    error_message = "The environment is the caller's plus the Powertools settings (service name defaults to the prefix)."
  }
  assert {
    condition     = aws_lambda_function.this["splitter"].kms_key_arn == var.kms_key_arn
    error_message = "Environment variables are encrypted with the pipeline key."
  }
}

run "layer_goes_through_s3" {
  command = plan

  assert {
    condition     = aws_s3_object.layer.bucket == "etl-test-processing-123456789012" && aws_s3_object.layer.key == "artifacts/layers/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.zip"
    error_message = "The layer zip is uploaded under artifacts/layers/<sha256>.zip."
  }
  assert {
    condition     = aws_lambda_layer_version.deps.s3_key == aws_s3_object.layer.key && aws_lambda_layer_version.deps.layer_name == "etl-test-deps"
    error_message = "The layer version is created from the uploaded object."
  }
  assert {
    condition     = output.layer_arn == aws_lambda_layer_version.deps.arn && aws_lambda_function.this["finalizer"].layers == tolist([aws_lambda_layer_version.deps.arn])
    error_message = "Every function uses the layer; layer_arn exports it."
  }
}

run "policies_follow_the_s3_prefixes" {
  command = plan

  assert {
    condition     = [for s in data.aws_iam_policy_document.function["splitter"].statement : s.sid] == ["ReadObjectsByPrefix", "WriteObjectsByPrefix", "ListOnlyOwnPrefixes", "StatusTableItems", "DecryptThroughDynamoDB", "DecryptThroughS3", "GenerateDataKeyThroughS3", "WriteOwnLogGroup", "XRayTracing", "DenyDeleteBucketAndTable"]
    error_message = "The splitter deletes nothing, lists incoming/ and has no metrics grant (metrics go out as EMF in the logs)."
  }
  assert {
    condition     = jsonencode(one(one([for s in data.aws_iam_policy_document.function["splitter"].statement : s.condition if s.sid == "ListOnlyOwnPrefixes"])).values) == jsonencode(["incoming/*"])
    error_message = "The splitter lists incoming/ only (s3_list), so a missing key is a 404."
  }
  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.function["splitter"].statement : s.resources if s.sid == "WriteObjectsByPrefix"])) == jsonencode(["arn:aws:s3:::etl-test-processing-123456789012/manifests/*", "arn:aws:s3:::etl-test-processing-123456789012/staging/*"])
    error_message = "The splitter writes staging/ and manifests/ only."
  }
  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.function["finalizer"].statement : s.resources if s.sid == "DeleteObjectsByPrefix"])) == jsonencode(["arn:aws:s3:::etl-test-processing-123456789012/staging/*", "arn:aws:s3:::etl-test-processing-123456789012/work/*"])
    error_message = "The finalizer deletes under work/ and staging/ only."
  }
  assert {
    condition     = jsonencode(one(one([for s in data.aws_iam_policy_document.function["finalizer"].statement : s.condition if s.sid == "ListOnlyOwnPrefixes"])).values) == jsonencode(["work/*", "staging/*"])
    error_message = "The finalizer lists only the prefixes it deletes from."
  }
  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.function["finalizer"].statement : s.actions if s.sid == "StatusTableItems"])) == jsonencode(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"])
    error_message = "The finalizer's table actions are the dynamodb_actions default."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["splitter"].statement : s.effect if s.sid == "DenyDeleteBucketAndTable"]) == "Deny"
    error_message = "Every role denies deleting the bucket and the table."
  }
  assert {
    condition     = aws_iam_role_policy.function["splitter"].role == aws_iam_role.function["splitter"].id
    error_message = "Each role gets its own inline policy."
  }
}

run "kms_use_follows_s3_and_table_access" {
  command = plan

  variables {
    functions = {
      validator = {
        handler          = "validator.handler"
        description      = "File-level checks before fan-out."
        zip_path         = "dist/functions/validator.zip"
        zip_base64sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        s3_read          = ["incoming", "staging", "config"]
      }
      mark_failed = {
        handler          = "mark_failed.handler"
        description      = "Marks the file FAILED and removes its unpublished files."
        zip_path         = "dist/functions/mark_failed.zip"
        zip_base64sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        s3_delete        = ["work", "staging", "processed", "rejected"]
      }
    }
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.function["validator"].statement : s.sid] == ["ReadObjectsByPrefix", "StatusTableItems", "DecryptThroughDynamoDB", "DecryptThroughS3", "WriteOwnLogGroup", "XRayTracing", "DenyDeleteBucketAndTable"]
    error_message = "A function that only reads may decrypt through S3 but not generate data keys."
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function["mark_failed"].statement : s.sid] == ["DeleteObjectsByPrefix", "ListOnlyOwnPrefixes", "StatusTableItems", "DecryptThroughDynamoDB", "WriteOwnLogGroup", "XRayTracing", "DenyDeleteBucketAndTable"]
    error_message = "A function that neither reads nor writes objects gets no use of the key through S3."
  }
  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.function["validator"].statement : s.actions if s.sid == "DecryptThroughS3"])) == jsonencode(["kms:Decrypt"]) && jsonencode({ for c in one([for s in data.aws_iam_policy_document.function["validator"].statement : s.condition if s.sid == "DecryptThroughS3"]) : c.variable => [c.test, c.values] }) == jsonencode({ "kms:ViaService" = ["StringEquals", ["s3.us-east-1.amazonaws.com"]], "kms:EncryptionContext:aws:s3:arn" = ["StringEquals", [var.bucket_arn]] })
    error_message = "Decrypt through S3 only, for this bucket's objects only."
  }
  assert {
    condition     = jsonencode({ for c in one([for s in data.aws_iam_policy_document.function["mark_failed"].statement : s.condition if s.sid == "DecryptThroughDynamoDB"]) : c.variable => [c.test, c.values] }) == jsonencode({ "kms:ViaService" = ["StringEquals", ["dynamodb.us-east-1.amazonaws.com"]], "kms:EncryptionContext:aws:dynamodb:tableName" = ["StringEquals", ["etl-test-status"]] })
    error_message = "Decrypt through DynamoDB only, for the status table only."
  }
  assert {
    condition     = jsonencode(one([for s in data.aws_iam_policy_document.function["mark_failed"].statement : s.resources if s.sid == "DeleteObjectsByPrefix"])) == jsonencode(["arn:aws:s3:::etl-test-processing-123456789012/processed/*", "arn:aws:s3:::etl-test-processing-123456789012/rejected/*", "arn:aws:s3:::etl-test-processing-123456789012/staging/*", "arn:aws:s3:::etl-test-processing-123456789012/work/*"])
    error_message = "MarkFailed deletes its unpublished files under work/, staging/, processed/ and rejected/."
  }
}

run "x86_64_and_custom_service_name" {
  command = plan

  variables {
    architecture = "x86_64"
    service_name = "acme-etl"
    log_level    = "DEBUG"
  }

  assert {
    condition     = aws_lambda_function.this["splitter"].architectures == tolist(["x86_64"]) && aws_lambda_layer_version.deps.compatible_architectures == toset(["x86_64"])
    error_message = "architecture applies to the functions and the layer."
  }
  assert {
    condition     = aws_lambda_function.this["splitter"].environment[0].variables["POWERTOOLS_SERVICE_NAME"] == "acme-etl" && aws_lambda_function.this["splitter"].environment[0].variables["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    error_message = "service_name and log_level reach the environment."
  }
}
