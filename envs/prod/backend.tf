# Remote state with S3-native locking. Partial configuration: copy backend.hcl.example to
# backend.hcl and run `terraform init -backend-config=backend.hcl`.
terraform {
  backend "s3" {}
}
