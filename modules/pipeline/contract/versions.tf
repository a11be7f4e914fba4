terraform {
  # No provider: this module only reads files and computes values.
  required_version = ">= 1.9"
}
