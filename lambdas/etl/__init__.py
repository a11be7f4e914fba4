"""Core of the CSV ETL pipeline, shared by every function: no Lambda code in here.

AWS is touched only by `s3io` (boto3: ranged reads, uploads), `status` (the DynamoDB table),
`runtime` (clients, Powertools logging and metrics) and `split` (it reads S3's error codes from
botocore's ClientError to name them); each function's work (split, validate, chunk, publish,
failure: the handlers in lambdas/ only parse the event, call one of these and return its typed
event) drives AWS through them, and the other modules are pure
(bytes, Arrow and plain data in and out) and import without boto3 or botocore, and
`contract` is stdlib only (tests/test_import_graph.py checks both, and that no module imports
another that imports it back).

Modules:
    split      the splitter's work: S3 answers as named errors, the object, planning
    validate   the validator's work: file-level checks, then PROCESSING
    chunk      the processor's work: one chunk to work/, its status, metrics and log
    publish    the finalizer's work: publishing (safe to retry) and the rejects rewrite
    failure    MarkFailed's work: the verdict, clean-up, messages, the execution-ended rule
    contract   the one reader of contract.json: names shared with Terraform, build, harness
    errors     the named errors the state machine catches
    events     the typed events between the state machine's states (from_dict / to_dict)
    schema     the declared schema's types (columns, Arrow types, rules)
    schema_check  reading a schema document into them (every problem with its JSON path)
    schema_version  a schema's major version (N, "N", "N.M", "N.M.P"; outputs per major)
    compat     schema versions and the compatibility check against released baselines
    xsdregex   a pattern's XML Schema class escapes (\\d \\w \\s ...) as RE2 Unicode classes
    csvscan    quote-aware record boundary scanning on raw bytes
    chunking   the splitter's plan: record-aligned byte ranges from a few ranged reads
    checks     the validator's file-level checks (header, encoding, delimiter)
    transform  the processor: one byte range -> typed Parquet + rejects (the chunk driver)
    blocks     cutting the byte stream into blocks of whole records
    inorder    the parallel chunk driver: every thread cuts, prepares and writes blocks, in order
    rules      the schema's per-column checks and casts on a parsed block
    outcome    a chunk's counts and its rejected rows
    finalize   conservation check and the success summary
    keys       deterministic ids and S3 keys
    s3io       S3 reads (ranged, retried, streamed) and uploads with boto3
    status_model  the status table's key names, sort keys and states (no I/O)
    status     DynamoDB status items with conditional writes (keys from the contract)
    runtime    settings from the environment, AWS clients, logging and metrics
"""
