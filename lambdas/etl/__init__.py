"""Pure core of the CSV ETL pipeline: no Lambda, no AWS in here except `status`/`runtime`.

Modules:
    contract   names shared with Terraform and the local harness (contract.json)
    errors     the named errors the state machine catches
    schema     the declared schema (columns, Arrow types, rules) loaded from JSON
    csvscan    quote-aware record boundary scanning on raw bytes
    chunking   the splitter's plan: record-aligned byte ranges from a few ranged reads
    checks     the validator's file-level checks (header, encoding, delimiter)
    transform  the processor: one byte range -> typed Parquet + rejects (the chunk driver)
    blocks     cutting the byte stream into blocks of whole records
    rules      the schema's per-column checks and casts on a parsed block
    outcome    a chunk's counts and its rejected rows
    finalize   conservation check and the success summary
    keys       deterministic ids and S3 keys
    status     DynamoDB status items with conditional writes
    runtime    settings from the environment, AWS clients, logging and metrics
"""
