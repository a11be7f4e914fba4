terraform {
  required_version = "~> 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.66.0"
    }
  }

  # Remote state with S3-native locking. Partial configuration: copy
  # backend.hcl.example to backend.hcl and run `terraform init -backend-config=backend.hcl`.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project     = "csv-etl"
      Environment = "prod"
      ManagedBy   = "terraform"
    })
  }
}
