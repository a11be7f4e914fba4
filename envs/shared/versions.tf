# Linked into every environment root (envs/<env>/versions.tf -> ../shared/versions.tf):
# the pins and the provider, written once. The environment's name comes from its main.tf.
terraform {
  required_version = "~> 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.66.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project     = "csv-etl"
      Environment = local.environment
      ManagedBy   = "terraform"
    })
  }
}
