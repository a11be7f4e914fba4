"""Throughput and memory benchmark: our processor against its peers and against the floor.

    python bench/bench.py [--size-mb N] [--seed S] [--out bench/results.json] [--keep]
                          [--rss-check] [--repeat K] [--jobs a,b] [--baseline REV]
                          [--local-e2e]
    python bench/bench.py --cold-start [--repeat K] [--out F]  (bench/coldstart.py)

Generates a synthetic transactions CSV of N MiB (default 256; ~0.5% invalid rows of
several kinds, see localrun/sample.py) and a clean one of the same shape, reads each once
to warm the page cache, then runs every job (jobs.py: the job table) in its OWN fresh
subprocess, pinned to one thread unless it is an all-cores job:

  processor   chunkfile.process_file: the whole file as one chunk
  polars      bench/polars_reference.py  } the same job: the schema's checks, typed
  duckdb      bench/duckdb_reference.py  } Parquet of the valid rows, rejects + reason
  pandas      bench/pandas_reference.py (chunked read_csv + validate + to_parquet)
  floor       pyarrow's typed parse of the clean sample + the processor's Parquet write
  parse_only  pyarrow.csv.open_csv over the file, strings only, no checks, no write
  splitter    etl.chunking.plan_chunks with 64 MiB chunks: bytes read per boundary
  validate    localrun/validate.py: the whole file as the pipeline chunks it, published
  describe    localrun/describe.py: a Table Schema inferred from every record
  (and processor/polars/duckdb/validate/describe on all cores, and a chunk's path through
  an S3 model)

With --local-e2e the same sample then goes through the whole pipeline on the embedded
moto (``python -m localrun``: deploy envs/dev with Terraform, then upload and wait); the
run's time after the deploy gives ``local_e2e_mb_s`` and ``ratio_local_e2e_to_processor``
(local seconds / processor seconds; target <= 5).

Every job's valid/rejected counts are checked against the generator's and the
processor's, the peers' and validate's valid outputs against the processor's value by value
(validate's rejects too), and describe must read every record and infer one schema at both
thread counts; any disagreement fails the run (exit 1) after results.json and results.png
are written.

Seconds are the job's own wall time (measured inside the child after its imports); MB/s
is file bytes / 1e6 / seconds; peak RSS is the child's ru_maxrss from os.wait4. Sizes on
the command line are MiB. The parent imports only the standard library until every child
has run (matplotlib at the very end). Child mode: ``bench.py --worker JOB ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import harness
import report
from jobs import DEFAULT_JOBS, JOBS, VALUE_CHECKED, worker
from s3model import S3_MODEL
from settings import COLDSTART_JSON, HERE, MIB, ROOT, RSS_CHECK_MIB


# --------------------------------------------------------------------------- arguments
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--size-mb",
        type=float,
        default=256,
        help="sample size in MiB (default 256; e.g. 2 for a quick check that "
        "every job runs and the counts agree)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out",
        type=Path,
        default=HERE / "results.json",
        help="results.json path; the chart is written beside it (.png)",
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=HERE / "data",
        help="where samples and job outputs go (default bench/data/)",
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated CSVs and job outputs in the data dir",
    )
    ap.add_argument(
        "--rss-check",
        action="store_true",
        help="also run the processor on a 1 GiB file and report its peak RSS",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per timed job; the fastest run counts (RSS: the largest)",
    )
    ap.add_argument(
        "--jobs",
        default=",".join(DEFAULT_JOBS),
        help=f"comma-separated subset of jobs (default: all of {DEFAULT_JOBS})",
    )
    ap.add_argument(
        "--quoted-newlines",
        action="store_true",
        help="main sample with newlines inside quoted merchants (the splitter always "
        "also runs on such a sample; the polars peer refuses it)",
    )
    ap.add_argument(
        "--baseline",
        metavar="REV",
        help="also run the processor jobs on the lambdas/ of git revision REV, "
        "interleaved with this tree's runs, and report the speed-up",
    )
    ap.add_argument(
        "--local-e2e",
        action="store_true",
        help="also run the sample end to end on the embedded moto (needs terraform) and"
        " report its MB/s after the deploy against the processor's",
    )
    ap.add_argument(
        "--cold-start",
        action="store_true",
        help="only report each handler's init on the python3.12 runtime with the real layer"
        " and the layer's sizes (bench/coldstart.py; --repeat interpreters each; --out)",
    )
    ap.add_argument("--worker", choices=sorted(JOBS), help=argparse.SUPPRESS)
    ap.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.wanted = [j.strip() for j in args.jobs.split(",") if j.strip()]
    if args.quoted_newlines and args.jobs == ap.get_default("jobs"):
        # the polars peer pairs records with lines, which quoted newlines break (it refuses
        # such a file with an error): leave it out unless asked for by name
        args.wanted = [j for j in args.wanted if not j.startswith("polars")]
        print(
            "--quoted-newlines: the polars jobs are left out (the polars reference refuses "
            "newlines inside quoted values)"
        )
    unknown = [j for j in args.wanted if j not in JOBS or j.startswith("diff_")]
    if unknown:
        ap.error(f"unknown jobs {unknown}; choose from {DEFAULT_JOBS}")
    if args.size_mb <= 0:
        ap.error("--size-mb must be positive")
    return args


# --------------------------------------------------------------------------- samples
@dataclass
class Samples:
    main: Path
    info: dict
    clean: Path | None = None
    clean_info: dict | None = None

    def paths(self) -> dict[str, Path]:
        return {"main": self.main, "clean": self.clean or self.main}


def _sample_path(data: Path, size_mb: float, seed: int, suffix: str = "") -> Path:
    return data / f"transactions_{size_mb:g}mib_seed{seed}{suffix}.csv"


def prepare_samples(args: argparse.Namespace) -> Samples:
    """The main sample (with invalid rows) and, if a job wants it, the clean one; warm."""
    size_bytes = int(args.size_mb * MIB)
    qnl = "_qnl" if args.quoted_newlines else ""
    main = _sample_path(args.data_dir, args.size_mb, args.seed, qnl)
    print(f"generating {main} ({args.size_mb:g} MiB) ...", flush=True)
    info = harness.ensure_sample(main, size_bytes, args.seed, quoted_newlines=args.quoted_newlines)
    if not info.get("cached"):
        print(
            f"  generator: {info['bytes'] / 1e6:.0f} MB in {info['seconds']:.2f} s "
            f"({info['mb_per_s']:.0f} MB/s)"
        )
    print(f"  {info['rows']:,} rows, {info['invalid_rows']:,} invalid ({info['invalid_by_kind']})")
    samples = Samples(main, info)
    if any(JOBS[j].sample == "clean" for j in args.wanted):
        samples.clean = _sample_path(args.data_dir, args.size_mb, args.seed, qnl + "_clean")
        print(f"generating {samples.clean} (no invalid rows, for the floor) ...", flush=True)
        samples.clean_info = harness.ensure_sample(
            samples.clean,
            size_bytes,
            args.seed,
            quoted_newlines=args.quoted_newlines,
            invalid_fraction=0.0,
        )
        print(f"warming page cache: {harness.warm(samples.clean):.2f} s")
    print(f"warming page cache: {harness.warm(main):.2f} s")
    return samples


# --------------------------------------------------------------------------- extra runs
def run_splitter_hard_case(args, jobs: dict, work: Path) -> None:
    """The splitter's hard case: quoted fields holding newlines (ambiguous quote state)."""
    if "splitter" not in args.wanted:
        return
    if args.quoted_newlines:
        jobs["splitter_quoted_newlines"] = jobs["splitter"]
        return
    qcsv = _sample_path(args.data_dir, args.size_mb, args.seed, "_qnl")
    print("generating a quoted-newlines sample for the splitter ...", flush=True)
    harness.ensure_sample(qcsv, int(args.size_mb * MIB), args.seed, quoted_newlines=True)
    jobs["splitter_quoted_newlines"] = harness.run_child("splitter", qcsv, work / "splitter_qnl")
    if not args.keep:
        harness.remove_sample(qcsv)


def run_diffs(jobs: dict, csv: Path, work: Path) -> dict[str, dict]:
    """Untimed: the peers' valid outputs against the processor's, value by value."""
    diffs = {}
    if not jobs.get("processor", {}).get("ok"):
        return diffs
    for peer in VALUE_CHECKED:
        if jobs.get(peer, {}).get("ok"):
            print(f"comparing processor and {peer} outputs (untimed) ...", flush=True)
            diffs[peer] = harness.run_child(f"diff_{peer}", csv, work)
    return diffs


def run_rss_check(args, jobs: dict, work: Path) -> dict:
    """The 1 GiB chunk: the processor's RSS target is for chunks up to 1 GiB, at one thread
    and at all cores (each thread holds blocks of its own)."""
    if not jobs.get("processor", {}).get("ok") or not (
        args.rss_check or args.size_mb >= RSS_CHECK_MIB
    ):
        return {}
    names = report.RSS_CHECKED
    if args.size_mb == RSS_CHECK_MIB:
        big = {name: jobs.get(name, {}) for name in names}
    else:
        big_csv = _sample_path(args.data_dir, RSS_CHECK_MIB, args.seed)
        print("generating the 1 GiB chunk for the RSS check ...", flush=True)
        harness.ensure_sample(big_csv, RSS_CHECK_MIB * MIB, args.seed)
        harness.warm(big_csv)
        big = {}
        for name in names:
            print(f"running {name} on 1 GiB ...", flush=True)
            shutil.rmtree(work / f"{name}_1gib", ignore_errors=True)
            big[name] = harness.run_child(name, big_csv, work / f"{name}_1gib")
            if big[name].get("ok"):
                big[name]["mb_s"] = big_csv.stat().st_size / 1e6 / big[name]["seconds"]
        if not args.keep:
            harness.remove_sample(big_csv)
    return {
        key: big[name].get(field)
        for name in names
        for key, field in (
            (f"{name}_1gib_peak_rss_mib", "peak_rss_mib"),
            (f"{name}_1gib_mb_s", "mb_s"),
        )
    }


def run_local_e2e(jobs: dict, samples: Samples, work: Path) -> tuple[dict, list[str]]:
    """The sample through the whole pipeline on the embedded moto (`python -m localrun`,
    which builds the zips and deploys envs/dev first); timed from the upload to the end of
    the execution (its summary.json's duration_s), so the deploy does not count."""
    out = work / "local_e2e"
    shutil.rmtree(out, ignore_errors=True)
    print("local end-to-end run: deploying envs/dev to moto, then the sample ...", flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "localrun", str(samples.main), "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    summary_path = out / "summary.json"
    if proc.returncode != 0 or not summary_path.is_file():
        tail = proc.stderr.strip().splitlines()[-5:]
        return {}, [f"local_e2e: python -m localrun exited {proc.returncode}: {tail}"]
    summary = json.loads(summary_path.read_text())
    seconds = summary["duration_s"]
    result = {
        "local_e2e_seconds": seconds,
        "local_e2e_chunks": summary["chunks"],
        "local_e2e_mb_s": samples.info["bytes"] / 1e6 / seconds,
    }
    processor = jobs.get("processor", {})
    problems = []
    if processor.get("ok"):
        result["ratio_local_e2e_to_processor"] = seconds / processor["seconds"]
        got = (summary["rows_valid"], summary["rows_rejected"])
        want = (processor["rows_valid"], processor["rows_rejected"])
        if got != want:
            problems.append(f"local_e2e valid/rejected {got} != processor's {want}")
    return result, problems


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args.worker, args.csv, args.workdir)
        return 0
    if args.cold_start:
        import coldstart

        default_out = args.out == HERE / "results.json"
        out = COLDSTART_JSON if default_out else args.out
        return coldstart.main(args.repeat if args.repeat > 1 else 5, out)
    work = args.data_dir / "out"
    load_before = os.getloadavg()
    samples = prepare_samples(args)
    baseline_dir = harness.checkout_lambdas(args.baseline, args.data_dir) if args.baseline else None
    run = harness.run_jobs(
        args.wanted,
        samples.paths(),
        work,
        repeat=args.repeat,
        baseline_dir=baseline_dir,
        baseline_rev=args.baseline,
    )
    jobs = run.jobs
    run_splitter_hard_case(args, jobs, work)
    load_after = os.getloadavg()
    baseline = None
    if baseline_dir:
        baseline = harness.baseline_summary(
            args.baseline, run.baseline_runs, jobs, samples.info["bytes"]
        )
        shutil.rmtree(baseline_dir, ignore_errors=True)

    results = report.build_results(
        size_mb=args.size_mb,
        sample=samples.info,
        clean=samples.clean_info,
        jobs=jobs,
        load=(load_before[0], load_after[0]),
        quoted_newlines=args.quoted_newlines,
        s3_model=S3_MODEL,
        baseline=baseline,
    )
    diffs = run_diffs(jobs, samples.main, work)
    counts, problems = report.check_counts(jobs, samples.info, samples.clean_info, diffs)
    results["counts"] = counts
    results.update(run_rss_check(args, jobs, work))
    if args.local_e2e:
        local, local_problems = run_local_e2e(jobs, samples, work)
        results.update(local)
        problems += local_problems
    warnings = report.check_splits(jobs)
    if max(load_before[0], load_after[0]) > 0.5:
        warnings.append(
            f"machine was busy (1-min load {load_before[0]:.2f} -> "
            f"{load_after[0]:.2f}): timings are noisy; use --repeat"
        )
    results["warnings"], results["problems"] = warnings, problems
    report.print_report(results, problems, warnings)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    png = args.out.with_suffix(".png")
    report.chart(results, png)
    print(f"\nwrote {args.out} and {png}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
        for path in (samples.main, samples.clean):
            if path:
                harness.remove_sample(path)
    if problems:
        print(f"bench FAILED: {len(problems)} disagreement(s) above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
