"""Parent side: samples, fresh child processes, the run loop, the baseline revision.

Imports only the standard library, so the parent's own pages never inflate a child's peak
RSS (Linux carries the pre-exec RSS into `ru_maxrss`).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from jobs import JOBS, Job
from settings import HERE, MIB, ROOT, SINGLE_THREAD_ENV

BASELINE_JOBS = ("processor", "processor_all_cores")
RESULT_PREFIX = "BENCH-RESULT "


# --------------------------------------------------------------------------- samples
def ensure_sample(
    path: Path,
    size_bytes: int,
    seed: int,
    *,
    quoted_newlines: bool = False,
    invalid_fraction: float = 0.005,
) -> dict:
    """Generate (in a child, so the parent stays small) or reuse a cached sample."""
    meta = path.with_suffix(".json")
    wanted = {
        "target_bytes": size_bytes,
        "seed": seed,
        "quoted_newlines": quoted_newlines,
        "invalid_fraction": invalid_fraction,
    }
    if path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if all(info.get(k) == v for k, v in wanted.items()) and path.stat().st_size == info.get(
            "bytes"
        ):
            return {**info, "cached": True}
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "localrun.sample",
        str(path),
        "--size-mb",
        repr(size_bytes / MIB),
        "--seed",
        str(seed),
        "--invalid-fraction",
        repr(invalid_fraction),
    ]
    if quoted_newlines:
        cmd.append("--quoted-newlines")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    info = {**json.loads(out.stdout.strip().splitlines()[-1]), **wanted, "cached": False}
    meta.write_text(json.dumps(info, indent=2))
    return info


def remove_sample(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)


def warm(path: Path) -> float:
    """Flush dirty pages (a just-generated sample is still being written back, which would
    compete with the first jobs) and read the file once so every job sees a warm cache."""
    os.sync()
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(16 * MIB)
        while f.readinto(buf):
            pass
    return time.perf_counter() - started


# --------------------------------------------------------------------------- one child
def child_env(job: str, lambdas: Path = ROOT / "lambdas") -> dict[str, str]:
    """The environment of a job's child: pinned to one thread unless the job table says all
    cores (pyarrow sizes its pool from OMP_NUM_THREADS, so a pinned environment would make
    an all-cores job run on one thread); `etl` imported from `lambdas`."""
    env = dict(os.environ)
    if JOBS[job].all_cores:
        for name in SINGLE_THREAD_ENV:
            env.pop(name, None)
    else:
        env.update(SINGLE_THREAD_ENV)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(lambdas), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    return env


def run_child(job: str, csv: Path, out: Path, lambdas: Path = ROOT / "lambdas") -> dict:
    """Run one job in a fresh subprocess (pinned to one thread unless the job table says
    all cores); add its exact peak RSS. `lambdas` is where the child imports `etl` from
    (another revision for --baseline)."""
    env = child_env(job, lambdas)
    # the job before may have left its outputs to be written back: flushed now, outside
    # every job's clock, so no job pays for its predecessor's
    os.sync()
    cmd = [
        sys.executable,
        str(HERE / "bench.py"),
        "--worker",
        job,
        "--csv",
        str(csv),
        "--workdir",
        str(out),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stdout_chunks: list[bytes] = []
    stderr_chunks: list[bytes] = []

    def drain(stream, sink):
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    readers = [
        threading.Thread(target=drain, args=(proc.stdout, stdout_chunks)),
        threading.Thread(target=drain, args=(proc.stderr, stderr_chunks)),
    ]
    for t in readers:
        t.start()
    # os.wait4 gives this child's own rusage (RUSAGE_CHILDREN would be a max over all)
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    stdout = b"".join(stdout_chunks).decode("utf-8", "replace")
    stderr = b"".join(stderr_chunks).decode("utf-8", "replace")
    lines = [ln for ln in stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if lines:
        payload = json.loads(lines[-1][len(RESULT_PREFIX) :])
    else:
        payload = {
            "ok": False,
            "available": True,
            "error": f"exit {proc.returncode}: {stderr.strip()[-2000:]}",
        }
    payload["peak_rss_mib"] = rusage.ru_maxrss / 1024  # Linux: KiB
    payload["exit_code"] = proc.returncode
    if stderr.strip() and payload.get("ok"):
        payload["stderr_tail"] = stderr.strip()[-500:]
    return payload


# --------------------------------------------------------------------------- the run loop
@dataclass
class Run:
    """What the jobs of one bench run produced."""

    jobs: dict[str, dict] = field(default_factory=dict)
    baseline_runs: dict[str, list[dict]] = field(default_factory=dict)


def run_jobs(
    wanted: list[str],
    samples: dict[str, Path],
    work: Path,
    *,
    repeat: int,
    baseline_dir: Path | None = None,
    baseline_rev: str | None = None,
) -> Run:
    """Each job `repeat` times (fastest run counts; RSS: the largest), each in a fresh child,
    in rounds: every job's first run, then every job's second run, ... so a load that
    changes during the run (a shared machine) weighs on every job alike and the ratios of
    one run compare like with like. With a baseline, its run of a processor job follows
    ours (same machine state). A job whose run fails is not run again."""
    run = Run()
    runs: dict[str, list[dict]] = {name: [] for name in wanted}
    for i in range(max(1, repeat)):
        for name in wanted:
            job = JOBS[name]
            if (i and not job.repeat) or (runs[name] and not runs[name][-1].get("ok")):
                continue
            how = "all cores" if job.all_cores else "1 thread"
            print(
                f"running {name} ({how}, fresh process{f', run {i + 1}' if i else ''}) ...",
                flush=True,
            )
            shutil.rmtree(work / name, ignore_errors=True)  # no stale parts from older runs
            runs[name].append(run_child(name, samples[job.sample], work / name))
            if baseline_dir and name in BASELINE_JOBS:
                print(f"running {name} at {baseline_rev} ...", flush=True)
                shutil.rmtree(work / f"baseline_{name}", ignore_errors=True)
                run.baseline_runs.setdefault(name, []).append(
                    run_child(
                        name, samples[job.sample], work / f"baseline_{name}", lambdas=baseline_dir
                    )
                )
    for name in wanted:
        run.jobs[name] = _best(runs[name], JOBS[name], samples[JOBS[name].sample])
        _print_job(name, run.jobs[name])
    return run


def _best(runs: list[dict], job: Job, csv: Path) -> dict:
    """The fastest run, with the largest peak RSS of all runs and every run's seconds."""
    best = min(runs, key=lambda r: r.get("seconds", float("inf")))
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    best["runs_seconds"] = [r.get("seconds") for r in runs]
    best["sample_bytes"] = csv.stat().st_size
    if best.get("ok") and job.timed and "seconds" in best:
        best["mb_s"] = best["sample_bytes"] / 1e6 / best["seconds"]
    return best


def _print_job(name: str, result: dict) -> None:
    if not result.get("ok"):
        print(f"  {name}: {result.get('error')}")
    elif "mb_s" in result:
        print(
            f"  {name}: {result['seconds']:.2f} s, {result['mb_s']:.1f} MB/s, "
            f"peak RSS {result['peak_rss_mib']:.0f} MiB"
        )
    elif "bytes_per_boundary" in result:
        print(
            f"  {name}: {result['seconds'] * 1e3:.1f} ms, "
            f"{result['bytes_per_boundary']:,.0f} bytes read per boundary"
        )


# --------------------------------------------------------------------------- --baseline
def checkout_lambdas(rev: str, data: Path) -> Path:
    """lambdas/ of git revision `rev` in a scratch directory (for --baseline)."""
    target = data / "baseline"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "lambdas"], capture_output=True, check=False
    )
    if archive.returncode:
        raise SystemExit(f"--baseline {rev}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "lambdas"


def baseline_summary(rev: str, runs: dict[str, list[dict]], jobs: dict, size: int) -> dict:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    out = {"rev": rev, "commit": commit, "jobs": {}}
    for job, job_runs in runs.items():
        ok = [r for r in job_runs if r.get("ok")]
        if not ok or not jobs.get(job, {}).get("ok"):
            continue
        best = min(r["seconds"] for r in ok)
        out["jobs"][job] = {
            "seconds": best,
            "mb_s": size / 1e6 / best,
            "runs_seconds": [r["seconds"] for r in ok],
            "peak_rss_mib": max(r["peak_rss_mib"] for r in ok),
            "speedup": best / jobs[job]["seconds"],
        }
    return out


# --------------------------------------------------------------------------- the machine
def git_state() -> dict:
    """The commit measured, and whether the processor's sources had uncommitted edits."""

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    try:
        return {
            "commit": git("rev-parse", "--short", "HEAD"),
            "lambdas_etl_dirty": bool(git("status", "--porcelain", "--", "lambdas/etl")),
        }
    except OSError:
        return {}


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split()
        info["mem_gib"] = round(int(mem[1]) / 2**20, 1)
    except OSError:
        pass
    return info
