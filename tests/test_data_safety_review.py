"""Data safety, second review (issue 18), at handler level over in-process moto: clean-up
that S3 half refused is retried and then fails loudly (item 5), an execution without a
version id reads one version (7), folder markers are ignored (8), keys too long for their
outputs are refused before any work (9), and no raw row text leaves in a state payload or a
log line (10)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, HEADER
from etl.events import ChunkItem, ChunkRange, Validated
from test_data_safety import _error, _fail_copy_of, _prepared
from test_handlers import Ctx, mark_failed_event, run_pipeline, upload
from test_reliability_handlers import _body, _keys, _process, _split_validate, _tables


# -- issue 18, item 5: per-key delete errors are not a clean failure ------------------------------
def test_mark_failed_whose_deletes_keep_failing_raises_and_its_retry_removes_everything(
    aws, monkeypatch
):
    """DeleteObjects answers 200 with the key in `Errors`: MarkFailed must not report a clean
    failure while Parquet is left under processed/ (before: it returned FAILED and left it)."""
    import finalizer
    import mark_failed
    from etl import s3io
    from etl.errors import DeleteIncomplete
    from etl.keys import FileRef
    from test_s3io import _refusing

    monkeypatch.setattr(s3io.time, "sleep", lambda s: None)
    checked, manifest = _prepared(aws, "incoming/transactions/stuck.csv", _body(30, bad={2}))
    ref = FileRef.from_file_id(checked["file_id"])
    _fail_copy_of(aws.s3, monkeypatch, ref.outputs(1).valid_key(1))
    with pytest.raises(ClientError):
        finalizer.handler(checked, Ctx())  # a partial publish: chunk 0 is under processed/
    assert ref.outputs(1).valid_key(0) in _keys(aws, ref.outputs(1).valid_prefix)
    _refusing(aws.s3, monkeypatch, {ref.outputs(1).valid_key(0): 5})
    event = mark_failed_event({**checked, "error": _error("ClientError", "SlowDown")}, "exec-1")

    with pytest.raises(DeleteIncomplete, match="chunk-000000.parquet: SlowDown"):
        mark_failed.handler(event, Ctx())
    assert _keys(aws, ref.outputs(1).valid_prefix) == [ref.outputs(1).valid_key(0)]

    out = mark_failed.handler(event, Ctx())  # the state machine's Retry of MarkFailed

    assert (out["status"], out["error"]) == ("FAILED", "UnexpectedError")
    for prefix in ("processed/", "rejected/", "work/", "staging/"):
        assert _keys(aws, prefix) == [], prefix


# -- issue 18, item 7: an execution without a version id reads one version only -------------------
def test_an_execution_without_a_version_id_reads_only_the_version_current_at_split(aws):
    """A manual StartExecution names no version-id. Reproduced before the fix: the object is
    overwritten after the first chunk, and the later chunks published the second version's
    rows (X...) under the first's file."""
    import finalizer
    from test_handlers import upload

    first = _body(30, bad={4})
    detail = upload(aws, "incoming/transactions/manual.csv", first)
    version = detail["object"].pop("version-id")
    checked, manifest = _split_validate(aws, detail)
    assert len(manifest) >= 3 and checked["version_id"] is None
    assert checked["data_version_id"] == version
    _process(checked, manifest[0])
    aws.s3.put_object(
        Bucket=BUCKET, Key="incoming/transactions/manual.csv", Body=first.replace(b"T0", b"X0")
    )
    for chunk in manifest[1:]:
        _process(checked, chunk)

    summary = finalizer.handler(checked, Ctx())

    rows = [r for t in _tables(aws, summary["valid_prefix"]).values() for r in t]
    assert [r["transaction_id"] for r in rows] == [f"T{i:06d}" for i in range(30) if i != 4]
    assert (summary["rows_valid"], summary["rows_rejected"]) == (29, 1)


# -- issue 18, item 8: folder markers and placeholders are not files ------------------------------
@pytest.mark.parametrize(
    "key",
    [
        "incoming/2024/",
        "incoming/transactions/",
        "incoming/transactions/a/b/",
        ".keep",
        "a/.gitkeep",
    ],
)
def test_a_zero_byte_folder_marker_or_placeholder_is_ignored(aws, key):
    import splitter
    from etl.keys import FileRef
    from test_handlers import split_event

    key = key if key.startswith("incoming/") else f"incoming/transactions/{key}"
    detail = upload(aws, key, b"")

    out = splitter.handler(split_event(detail, "exec-1"), Ctx())

    assert out == {
        "execution_id": "exec-1",
        "bucket": BUCKET,
        "key": key,
        "version_id": detail["object"]["version-id"],
        "ignored": True,
        "reason": "a 0-byte folder marker or placeholder holds no data",
    }
    ref = FileRef(BUCKET, key, detail["object"]["version-id"])
    assert aws.status.get_file(ref.file_id) is None
    assert _keys(aws, "manifests/") == [] and _keys(aws, "staging/") == []


def test_other_empty_objects_still_fail_as_empty_file(aws):
    """The decision (docs/decisions.md): only markers are ignored; an empty data file is a
    failed export someone must hear about."""
    from etl.errors import EmptyFile

    with pytest.raises(EmptyFile):
        _split_validate(aws, upload(aws, "incoming/transactions/export.csv", b""))


def test_a_dotfile_with_data_is_processed_like_any_file(aws):
    out = run_pipeline(aws, upload(aws, "incoming/transactions/.hidden.csv", _body(3)))
    assert (out["status"], out["rows_valid"]) == ("COMPLETE", 3)


# -- issue 18, item 9: output keys past S3's key limit are refused before any work ----------------
def _long_key(output_bytes: int, max_chunks: int) -> str:
    """An input key whose longest output key is `output_bytes` long (today
    processed/transactions/v1/<name>/version=<16 hex>/chunk-NNNNNN.parquet; the
    overhead is read from FileRef, and the test below checks it against the key written)."""
    from etl.keys import FileRef

    overhead = (
        FileRef(BUCKET, "incoming/transactions/n.csv", None).longest_output_key_bytes(max_chunks, 1)
        - 1
    )
    return f"incoming/transactions/{'n' * (output_bytes - overhead)}.csv"


def test_a_key_whose_outputs_fit_exactly_is_published(aws):
    from etl.keys import FileRef

    detail = upload(aws, _long_key(1024, aws.settings.max_chunks), _body(5))
    summary = run_pipeline(aws, detail)
    ref = FileRef.from_file_id(summary["file_id"])
    assert ref.longest_output_key_bytes(aws.settings.max_chunks, 1) == 1024
    assert summary["status"] == "COMPLETE"
    assert len(_keys(aws, "processed/")[0].encode()) == 1024  # chunk-000000: as long as -009999


def test_a_key_whose_outputs_would_pass_the_s3_limit_is_refused_before_any_work(aws):
    import mark_failed
    import splitter
    from etl.errors import KeyTooLong
    from test_handlers import split_event

    detail = upload(aws, _long_key(1025, aws.settings.max_chunks), _body(5))
    with pytest.raises(
        KeyTooLong,
        match="output keys would be 1025 bytes, past S3's limit of "
        "1024; nothing was processed. Upload the file under a key at least 1 ",
    ):
        splitter.handler(split_event(detail, "exec-1"), Ctx())
    assert _keys(aws, "manifests/") == [] and _keys(aws, "staging/") == []

    out = mark_failed.handler(
        mark_failed_event({**detail, "error": _error("KeyTooLong", "too long")}, "exec-1"), Ctx()
    )
    assert (out["status"], out["error"]) == ("FAILED", "KeyTooLong")


# -- issue 18, item 10: no raw row text in anything returned to Step Functions -------------------
SECRET = "Jörg Kessler 4111-1111-1111-1111"  # a rejected row's text that must stay out
# What is looked for: pieces of SECRET that nothing else can hold by chance. The card's bare
# "4111" can: a version id (a random UUID), a log record's time, thread id or process id, a key.
LEAKS = ("Jörg", "Kessler", "4111-1111")


def _every_output(aws, detail: dict, execution_id: str) -> tuple[list[dict], dict]:
    """Split, Validate, every processor and Finalize (or MarkFailed after its failure): every
    event the handlers return, and the last one."""
    import finalizer
    import mark_failed
    import processor
    import splitter
    import validator
    from etl.errors import EtlError
    from test_handlers import split_event

    outputs = [splitter.handler(split_event(detail, execution_id), Ctx())]
    outputs.append(validator.handler(outputs[0], Ctx()))
    checked = outputs[-1]
    manifest = json.loads(
        aws.s3.get_object(Bucket=BUCKET, Key=checked["manifest_key"])["Body"].read()
    )
    for chunk in manifest:
        item = ChunkItem.of(Validated.from_dict(checked), ChunkRange.from_dict(chunk), execution_id)
        outputs.append(processor.handler(item.to_dict(), Ctx()))
    try:
        outputs.append(finalizer.handler(checked, Ctx()))
    except EtlError as exc:
        error = _error(exc.name, str(exc))
        event = mark_failed_event({**checked, "error": error}, execution_id)
        outputs.append(mark_failed.handler(event, Ctx()))
    return outputs, outputs[-1]


@pytest.mark.parametrize("rejected_rows", [3, 20])  # COMPLETE with rejects; TooManyRejects
def test_no_handler_returns_or_logs_the_raw_text_of_a_rejected_row(aws, caplog, rejected_rows):
    from conftest import row

    bad = [row(i, merchant=f"{SECRET} {i}", amount="1.005") for i in range(rejected_rows)]
    good = [row(100 + i) for i in range(30)]
    body = "\n".join([HEADER, *good[:10], *bad, *good[10:]]).encode() + b"\n"
    caplog.set_level("INFO")

    key = f"incoming/transactions/raw{rejected_rows}-4111.csv"  # a bare "4111" is no leak
    outputs, last = _every_output(aws, upload(aws, key, body), "e")

    assert last["status"] == ("COMPLETE" if rejected_rows == 3 else "FAILED")
    assert last["rows_rejected" if rejected_rows == 3 else "error"] == (
        3 if rejected_rows == 3 else "TooManyRejects"
    )
    for out in outputs:
        text = json.dumps(out, ensure_ascii=False)
        assert [x for x in (*LEAKS, "1.005") if x in text] == [], out
    ours = [r for r in caplog.records if not r.name.startswith(("boto", "urllib3", "moto"))]
    assert {"planned chunks", "chunk processed"} <= {r.getMessage() for r in ours}
    logged = " ".join(str(r.__dict__) for r in ours)  # the message and every extra field
    assert [x for x in LEAKS if x in logged] == []
    if rejected_rows == 3:  # the rows are where the README says: rejects dataset, status table
        assert [r["line"] for r in last["first_rejects"]] == [12, 13, 14]
        item = aws.status.get_file(last["file_id"])
        assert item["first_rejects"][0]["raw"] == bad[0]
        assert [r["raw"] for t in _tables(aws, last["rejected_prefix"]).values() for r in t] == bad
