"""The parts of ``build.py`` (the command line and :func:`build.build_all` live there).

Modules, one concern each:
    errors     BuildError and its named subclasses (actionable messages)
    zips       the one zip writer (byte-reproducible, atomic) and what is never packaged
    artifacts  plans, records, ``<artifact>.inputs.json`` stamps (skip if unchanged), manifest
    functions  the function zips: entry module + the shared ``etl/`` package, per contract
    layer      the pyarrow layer: pip for Lambda's platform, trimming, pinned distributions
    sizes      the Lambda size quotas and the check against them (sizes print as MiB)

Stdlib only: the build runs on a bare interpreter before any dependency is installed.
"""
