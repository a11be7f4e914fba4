"""python -m localrun [INPUT.csv] [--out DIR] [--chunk-bytes N] [--schema FILE ...]
                     [--dataset NAME] [--max-concurrency N] [--keep-running]

Runs the real pipeline on an embedded moto server: `terraform apply` of envs/dev against
it, with every --schema as a dataset named by the schema's `name`, then uploads INPUT to
incoming/<dataset>/ (--dataset, default: the first schema's); the S3 event starts the state
machine, the handlers run from the zips Terraform deployed. Without INPUT a small synthetic
transactions file is generated. Exit 0 when the file SUCCEEDED, 1 when it FAILED, 2 when
the local environment could not be set up (e.g. terraform missing), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from localrun.deployment import DEFAULT_PREFIX
from localrun.pipeline import DEFAULT_SCHEMA, LocalPipeline, Progress
from localrun.results import summary_table
from localrun.stack import Step, TerraformMissing, require_terraform

SAMPLE_ROWS = 20_000
SAMPLE_CHUNK_BYTES = 256 * 1024
# warm processor workers started before the upload (and one of every other function): the
# bench's 256 MiB file is 4 chunks of 64 MiB; a cold start imports pyarrow (its cost:
# docs/decisions.md, "Cold start"), better spent before the clock starts
PREWARM_PROCESSORS = 4


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localrun",
        description="Run the CSV -> Parquet pipeline locally on an embedded moto server.",
    )
    parser.add_argument(
        "input", nargs="?", type=Path, help="CSV file to process (default: a generated sample)"
    )
    parser.add_argument(
        "--out", type=Path, help="write summary.json, valid/*.parquet and rejected/*.parquet here"
    )
    parser.add_argument(
        "--chunk-bytes",
        type=int,
        help="target chunk size in bytes (default: contract.json's 64 MiB; 256 KiB for the sample)",
    )
    parser.add_argument(
        "--schema",
        type=Path,
        action="append",
        dest="schemas",
        help="schema JSON, repeatable: each is a dataset named by the schema's `name`"
        f" (default: {DEFAULT_SCHEMA})",
    )
    parser.add_argument(
        "--dataset", help="upload INPUT under incoming/<NAME>/ (default: the first schema's)"
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=10,
        help="Distributed Map MaxConcurrency (default: 10)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the run, keep the emulator up for inspection until Ctrl-C",
    )
    parser.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"resource name prefix (default: {DEFAULT_PREFIX})",
    )
    parser.add_argument(
        "--deploy-only",
        action="store_true",
        help="only deploy envs/dev to the emulator, check `terraform plan` shows no changes,"
        " destroy it (what `python3 noxfile.py -s deploy-dev -- --emulator` runs)",
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        help="deploy build.py's artifacts (dist/manifest.json: zips and the real layer)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="seconds to wait for the execution (default: 3600)",
    )
    args = parser.parse_args(argv)
    if args.input is not None and not args.input.is_file():
        parser.error(f"input file not found: {args.input} (relative to {Path.cwd()})")
    if args.manifest is not None and not args.manifest.is_file():
        parser.error(f"manifest not found: {args.manifest} (run python3 noxfile.py -s package)")
    args.schemas = args.schemas or [DEFAULT_SCHEMA]
    for schema in args.schemas:
        if not schema.is_file():
            parser.error(f"schema file not found: {schema} (relative to {Path.cwd()})")
    if args.chunk_bytes is not None and args.chunk_bytes < 1024:
        parser.error("--chunk-bytes must be at least 1024 (envs/dev's limits.chunk_bytes_minimum)")
    if args.max_concurrency <= 0:
        parser.error("--max-concurrency must be positive")
    return args


class _ApplyProgress:
    """terraform apply: an updating counter on a terminal, a line per resource elsewhere."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._width = 0

    def __call__(self, step: Step) -> None:
        total = "?" if step.total is None else str(step.total)
        line = (
            f"terraform {step.command} envs/dev: {step.done}/{total}"
            f"  {step.elapsed_s:5.0f}s  {step.address}"
        )
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width)[: max(self._width, len(line))])
            self._width = len(line)
            self.stream.flush()
        else:
            print(line, file=self.stream, flush=True)

    def done(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


class _ProgressLine:
    """One updating line on a terminal; a line every few seconds elsewhere."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last = 0.0
        self._width = 0

    def __call__(self, progress: Progress) -> None:
        total = "?" if progress.chunks_total is None else str(progress.chunks_total)
        line = (
            f"{progress.status:<9} chunks {progress.chunks_done}/{total}  "
            f"rows {progress.rows_done:,}  {progress.rows_per_s:,.0f} rows/s  "
            f"{progress.elapsed_s:6.1f}s"
        )
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            self.stream.flush()
        elif time.monotonic() - self._last >= 2 or progress.status != "RUNNING":
            self._last = time.monotonic()
            print(line, file=self.stream, flush=True)

    def done(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


def _schema_problems(args: argparse.Namespace) -> str | None:
    """Every problem of the schema files and the dataset they make, before the emulator
    starts (None if they are valid)."""
    lambdas = str(Path(__file__).resolve().parent.parent / "lambdas")
    if lambdas not in sys.path:
        sys.path.append(lambdas)  # the handlers' core, as the functions import it
    from etl.errors import SchemaConfigError
    from etl.schema_check import check_schema_file

    from buildtools import schemas as schema_changes
    from localrun.deployment import schema_datasets

    try:
        for path in args.schemas:
            check_schema_file(path)
        datasets = schema_datasets(args.schemas)
    except SchemaConfigError as exc:
        return f"SchemaConfigError: {exc}"
    except ValueError as exc:
        return str(exc)
    if args.dataset is not None and args.dataset not in datasets:
        return f"--dataset {args.dataset}: no --schema names it (datasets: {', '.join(datasets)})"
    # each dataset against its releases (<dir>/released/<name>/), as Terraform reads them
    if refused := schema_changes.dataset_problems(datasets):
        return "schema check failed (docs/schema-versions.md):\n" + "\n".join(refused)
    return None


def _deploy_only(args: argparse.Namespace) -> int:
    """apply, plan (must show no changes), destroy: the deploy, on the emulator."""
    from localrun.pipeline import Deployment, dev_variables

    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    progress = _ApplyProgress()
    variables = dev_variables(
        prefix=args.prefix,
        chunk_bytes=args.chunk_bytes,
        max_concurrency=args.max_concurrency,
        schema_paths=args.schemas,
    )
    deployed = Deployment(variables, manifest=args.manifest)
    try:
        deployed.start(progress, plan=True)
        progress.done()
        print(json.dumps(deployed.outputs, indent=2))
        clean = deployed.plan_code == 0
        print(
            "terraform plan after apply: "
            + ("no changes" if clean else f"CHANGES\n{deployed.plan_output}"),
            file=sys.stderr,
        )
        deployed.destroy(progress)
        progress.done()
        times = ", ".join(f"{k} {v:.0f} s" for k, v in deployed.stack.timings.items())
        print(f"{deployed.stack.provider.describe()}: {times}", file=sys.stderr)
        return 0 if clean else 1
    except KeyboardInterrupt:
        progress.done()
        print("\ninterrupted: stopped terraform and the emulator", file=sys.stderr)
        return 130
    except Exception as exc:
        progress.done()
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        deployed.close()


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None, *, deployment=None) -> int:  # noqa: C901 (the CLI's steps in order)
    """``deployment``: attach to an already deployed stack (tests) instead of deploying."""
    args = _parse_args(argv)
    if (problems := _schema_problems(args)) is not None:
        print(f"error: {problems}", file=sys.stderr)
        return 2
    if deployment is None:
        try:
            require_terraform()  # at once, before any slow work
        except TerraformMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.deploy_only:
        return _deploy_only(args)
    # moto logs every failed task at ERROR with its whole parse tree; the summary and the
    # failure message say what failed.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    # Clean up on kill too, and take Ctrl-C even where the shell started us with SIGINT
    # ignored (background jobs of non-interactive shells).
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="localrun-input-") as scratch:
        input_path, chunk_bytes = args.input, args.chunk_bytes
        if input_path is None:
            from localrun.sample import write_transactions

            input_path = Path(scratch) / "sample-transactions.csv"
            stats = write_transactions(input_path, rows=SAMPLE_ROWS, quoted_newlines=True)
            chunk_bytes = chunk_bytes or SAMPLE_CHUNK_BYTES
            print(
                f"no INPUT given: generated {input_path.name} ({stats.rows:,} rows,"
                f" {stats.invalid_rows} invalid, {stats.bytes / 1e6:.2f} MB);"
                f" chunk bytes {chunk_bytes:,}",
                file=sys.stderr,
            )
        progress = _ProgressLine()
        apply_progress = _ApplyProgress()
        try:
            if deployment is None:
                print(
                    "building the function zips, starting the local AWS emulator and"
                    " deploying envs/dev to it with terraform (about a minute; the first run"
                    " also builds the real layer into .build-cache/, about 30 s) ...",
                    file=sys.stderr,
                )
                settings = {
                    "prefix": args.prefix,
                    "chunk_bytes": chunk_bytes,
                    "max_concurrency": args.max_concurrency,
                    "schema_paths": args.schemas,
                    "apply_progress": apply_progress,
                    "prewarm_processors": PREWARM_PROCESSORS,
                }
            else:
                settings = {"deployment": deployment}
            began = time.monotonic()
            with LocalPipeline(**settings) as pipeline:
                apply_progress.done()
                if deployment is None:
                    print(
                        f"deployed envs/dev in {time.monotonic() - began:.0f} s"
                        f" ({pipeline.deployment.stack.provider.describe()})",
                        file=sys.stderr,
                    )
                key = pipeline.incoming_key(input_path.name, args.dataset)
                print(
                    f"moto on {pipeline.endpoint_url}; uploading s3://{pipeline.bucket}/{key}",
                    file=sys.stderr,
                )
                try:
                    result = pipeline.run_file(
                        input_path,
                        out_dir=args.out,
                        timeout=args.timeout,
                        progress=progress,
                        dataset=args.dataset,
                    )
                finally:
                    progress.done()
                runtime = pipeline.layer.runtime.describe()
                print(summary_table(result, input_path, args.out, runtime))
                if result.status != "SUCCEEDED":
                    logs = pipeline.work_dir / "logs"
                    if args.out is not None:  # the work dir goes away with the emulator
                        logs = shutil.copytree(logs, args.out / "logs", dirs_exist_ok=True)
                        where = f"function logs: {logs}"
                    else:
                        where = "give --out DIR to keep the function logs"
                    print(f"FAILED: {result.error}\n  {where}", file=sys.stderr)
                if args.keep_running:
                    print(
                        "\nkeeping the emulator up:"
                        f" export AWS_ENDPOINT_URL={pipeline.endpoint_url}"
                        " AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
                        " AWS_DEFAULT_REGION=us-east-1\n"
                        f"e.g. aws s3 ls s3://{pipeline.bucket} --recursive. Ctrl-C to stop.",
                        file=sys.stderr,
                    )
                    try:
                        while True:
                            time.sleep(3600)
                    except KeyboardInterrupt:  # the way to stop it: exit with the run's status
                        print("\nstopping the emulator", file=sys.stderr)
                return 0 if result.status == "SUCCEEDED" else 1
        except KeyboardInterrupt:
            apply_progress.done()
            print("\ninterrupted: stopped the emulator and the function workers", file=sys.stderr)
            return 130
        except TimeoutError as exc:  # the execution did not end within --timeout
            if args.out is not None:
                args.out.mkdir(parents=True, exist_ok=True)
                summary = {
                    "status": "FAILED",
                    "rows_total": None,
                    "rows_valid": None,
                    "rows_rejected": None,
                    "chunks": None,
                    "error": f"timeout: {exc}",
                    "dataset": args.dataset,
                    "schema": None,
                    "execution_arn": None,
                    "duration_s": None,
                }
                (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # setup errors: build, bind, moto, terraform
            apply_progress.done()
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    from localrun.exits import exit_now

    exit_now(main())  # no interpreter teardown: localrun/exits.py says why
