# Inputs shared by every run in tests/*.tftest.hcl (terraform test reads this file);
# a run overrides single values in its own variables block. The build manifest is the
# repository's dist/manifest.json (tests/terraform writes a fake build there in its copy).
prefix = "etl-test"
