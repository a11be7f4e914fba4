"""AWS Lambda deployment package quotas and the check against them. Sizes are binary:
AWS's "250 MB" unzipped quota is 250 MiB (262,144,000 bytes), and every size the build
prints is labelled MiB (or KiB)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from buildtools.artifacts import ArtifactRecord
from buildtools.errors import ArtifactTooLarge

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Limits:
    """AWS Lambda deployment package quotas, in bytes."""

    unzipped_total: int = 250 * MIB  # function + all layers, unzipped
    direct_upload_zipped: int = 50 * MIB  # zip uploaded directly (not via S3)


def check_limits(
    functions: Sequence[ArtifactRecord], layer: ArtifactRecord | None, limits: Limits | None = None
) -> list[str]:
    """Raise ArtifactTooLarge on a hard Lambda limit; return warnings for soft ones."""
    limits = limits or Limits()
    warnings = []
    layer_unzipped = layer.unzipped_size if layer else 0
    if layer and layer.unzipped_size > limits.unzipped_total:
        raise ArtifactTooLarge(
            f"layer {layer.path.name} is {layer.unzipped_size / MIB:.1f} MiB unzipped, over the"
            f" Lambda limit of {limits.unzipped_total / MIB:.0f} MiB: trim more"
            " in buildtools/layer.py (trim_rule) or move packages out of the layer"
        )
    for fn in functions:
        if fn.size > limits.direct_upload_zipped:
            raise ArtifactTooLarge(
                f"function {fn.name!r} zip is {fn.size / MIB:.1f} MiB, over the"
                f" {limits.direct_upload_zipped / MIB:.0f} MiB direct-upload limit: move"
                " dependencies into the layer"
            )
        total = fn.unzipped_size + layer_unzipped
        if total > limits.unzipped_total:
            raise ArtifactTooLarge(
                f"function {fn.name!r} + layer are {total / MIB:.1f} MiB unzipped, over the Lambda"
                f" limit of {limits.unzipped_total / MIB:.0f} MiB: shrink the function or the layer"
            )
    if layer and layer.size > limits.direct_upload_zipped:
        warnings.append(
            f"layer zip is {layer.size / MIB:.1f} MiB, over the"
            f" {limits.direct_upload_zipped / MIB:.0f} MiB direct-upload limit:"
            " it must be uploaded through S3 (the Terraform does)"
        )
    return warnings
