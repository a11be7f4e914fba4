"""Split a file: route the object to its dataset, pin the dataset's schema, register the
object version, plan record-aligned chunks, write the manifest. The splitter handler is its
adapter; S3's answers for an object Split cannot read become named errors here."""

from __future__ import annotations

import gzip
import json
import zlib
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from etl.chunking import plan_chunks
from etl.contract import PREFIXES
from etl.errors import (
    EncodingError,
    InputAccessDenied,
    InputNotFound,
    InputOutsidePipeline,
    KeyTooLong,
)
from etl.events import (
    ObjectCreated,
    SchemaIdentity,
    SplitDuplicate,
    SplitIgnored,
    SplitInput,
    SplitOutput,
)
from etl.keys import S3_MAX_KEY_BYTES, FileRef, route
from etl.runtime import Runtime, add_dataset_dimension, logger, metrics
from etl.s3io import range_reader, stage_gzip


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def _unreadable(ref: FileRef, exc: ClientError) -> Exception:
    """A named error for an object Split cannot read; other errors stay as they are."""
    where = f"s3://{ref.bucket}/{ref.key} (version {ref.version_id or 'null'})"
    if _code(exc) in ("404", "NoSuchKey", "NoSuchVersion"):
        return InputNotFound(
            f"{where} does not exist (deleted or overwritten before it was processed): "
            "upload the file again"
        )
    if _code(exc) in ("403", "AccessDenied", "KMS.AccessDeniedException"):
        return InputAccessDenied(
            f"S3 refused to read {where} ({_code(exc)}): check that the object is encrypted "
            "with the pipeline's KMS key and that the splitter role may read incoming/ "
            "(s3:GetObject, and s3:ListBucket so a missing key is a 404, not a 403)"
        )
    return exc


def resolve_object(s3, ref: FileRef) -> tuple[FileRef, int, str | None]:
    """(ref, size, version id) of the uploaded object. S3 notifications URL-encode keys
    ("a b.csv" -> "a+b.csv"); if the key as given does not exist, its decoded form is tried.

    The version id is the one HEAD answered: the event's own, or for an execution started
    without one (a manual StartExecution) the version that was current then. Every read of
    the file is pinned to it, so an overwrite while the file is processed cannot mix the
    rows of two versions."""
    version = {"VersionId": ref.version_id} if ref.version_id else {}
    try:
        head = s3.head_object(Bucket=ref.bucket, Key=ref.key, **version)
    except ClientError as exc:
        decoded = unquote_plus(ref.key)
        if _code(exc) not in ("404", "NoSuchKey") or decoded == ref.key:
            raise _unreadable(ref, exc) from exc
        ref = FileRef(ref.bucket, decoded, ref.version_id)
        try:
            head = s3.head_object(Bucket=ref.bucket, Key=ref.key, **version)
        except ClientError as exc2:
            raise _unreadable(ref, exc2) from exc2
    return ref, int(head["ContentLength"]), ref.version_id or head.get("VersionId")


def check_key_length(ref: FileRef, max_chunks: int, major: int) -> None:
    """KeyTooLong, before anything is read or written, when the longest key the file would
    get (`FileRef.output_keys`, at the chunk count limit, under its schema's major version)
    passes S3's key limit: such a file would otherwise be processed in full and fail only
    when it is published."""
    longest = ref.longest_output_key_bytes(max_chunks, major)
    if longest > S3_MAX_KEY_BYTES:
        raise KeyTooLong(
            f"the key {ref.key[:80]!r}... is {len(ref.key.encode())} bytes: its output keys "
            f"would be {longest} bytes, past S3's limit of {S3_MAX_KEY_BYTES}; nothing was "
            f"processed. Upload the file under a key at least {longest - S3_MAX_KEY_BYTES} "
            "bytes shorter"
        )


def accepted_ref(detail: ObjectCreated, bucket: str) -> FileRef:
    """The object the execution is about, if the pipeline may process it: an object under
    incoming/ of the pipeline bucket. A manual StartExecution naming config/, staging/ or
    another bucket is refused before anything is read or registered (an input that is no
    S3 event is refused by `SplitInput.from_dict`)."""
    ref = detail.ref
    incoming = PREFIXES["incoming"]
    if ref.bucket != bucket or not ref.key.startswith(incoming):
        raise InputOutsidePipeline(
            f"s3://{ref.bucket}/{ref.key} is not under s3://{bucket}/{incoming}: the pipeline "
            f"processes only objects uploaded to {incoming} of its own bucket; upload the file "
            "there"
        )
    return ref


def split_file(rt: Runtime, split: SplitInput) -> SplitIgnored | SplitDuplicate | SplitOutput:
    """Split the object ``split`` names: ignored if it is a 0-byte placeholder, a duplicate
    if its version is already registered, else planned (its chunk manifest written)."""
    ref, size, pinned = resolve_object(rt.s3, accepted_ref(split.detail, rt.settings.bucket))
    logger.append_keys(file_id=ref.file_id)
    if size == 0 and ref.is_placeholder:
        logger.info("folder marker or placeholder: nothing to process")
        return SplitIgnored(
            split.execution_id,
            ref.bucket,
            ref.key,
            ref.version_id,
            "a 0-byte folder marker or placeholder holds no data",
        )
    dataset = route(ref, rt.settings.datasets)  # UnknownDataset before anything is recorded
    add_dataset_dimension(dataset)
    latest, _ = rt.pin_schema(dataset)
    check_key_length(ref, rt.settings.max_chunks, latest.major)
    proceed, item = rt.status.register_file(
        ref.file_id,
        split.execution_id,
        {
            "bucket": ref.bucket,
            "key": ref.key,
            "version_id": ref.version_id or "null",
            "size": size,
            **latest.item_attributes(),
        },
    )
    base = {"execution_id": split.execution_id, **ref.identity()}
    if not proceed:
        logger.info(
            "duplicate event: this object version is already registered",
            extra={"status": item.get("status"), "first_execution": item.get("execution_id")},
        )
        metrics.add_metric(name="DuplicateEvents", unit="Count", value=1)
        return SplitDuplicate(**base, status=item.get("status"))
    # a retried Split of this execution keeps the schema version the file was registered with
    identity = SchemaIdentity.from_item(item) or latest
    return _plan(rt, ref, base, identity, size, pinned)


def _staged(rt: Runtime, ref: FileRef, size: int, pinned: str | None) -> tuple:
    """(data key, data version, compression, size) of the bytes to plan: the object itself,
    or for a .gz object its decompressed copy under staging/ (EncodingError if not gzip)."""
    if not ref.is_gzip:
        return ref.key, pinned, "none", size
    try:
        data_version, size = stage_gzip(
            rt.s3,
            ref.bucket,
            ref.key,
            pinned,
            ref.staging_key,
            max_bytes=rt.settings.max_decompressed_bytes,
            max_ratio=rt.settings.max_gzip_ratio,
        )
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise EncodingError(
            f"the object ends in .gz but is not valid gzip ({exc}): "
            "upload a gzip-compressed CSV or drop the .gz suffix"
        ) from exc
    return ref.staging_key, data_version, "gzip", size


def _plan(
    rt: Runtime, ref: FileRef, base: dict, identity: SchemaIdentity, size: int, pinned
) -> SplitOutput:
    """Plan the registered file's chunks and write its manifest."""
    schema = rt.schema(identity)
    data_key, data_version, compression, size = _staged(rt, ref, size, pinned)
    plan = plan_chunks(
        range_reader(rt.s3, ref.bucket, data_key, data_version),
        size,
        chunk_bytes=rt.settings.chunk_bytes,
        max_record_bytes=rt.settings.max_record_bytes,
        delimiter=schema.delimiter,
        max_chunks=rt.settings.max_chunks,
    )
    rt.s3.put_object(
        Bucket=ref.bucket,
        Key=ref.manifest_key,
        Body=json.dumps([c.to_dict() for c in plan.chunks]).encode(),
        ContentType="application/json",
    )
    logger.info(
        "planned chunks",
        extra={
            "chunks": len(plan.chunks),
            "size": size,
            "probe_bytes": plan.bytes_read,
            "fallbacks": plan.fallbacks,
            "schema": identity.to_dict(),
        },
    )
    metrics.add_metric(name="PlannedChunks", unit="Count", value=len(plan.chunks))
    return SplitOutput(
        **base,
        schema=identity,
        size=size,
        data_key=data_key,
        data_version_id=data_version,
        compression=compression,
        manifest_key=ref.manifest_key,
        chunk_count=len(plan.chunks),
        header_start=plan.header_start,
        header_end=plan.header_end,
        header_newlines=plan.header_newlines,
    )
