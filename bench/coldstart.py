"""Cold start: each handler's init (its module import) on the python3.12 runtime, real layer.

    python bench/bench.py --cold-start [--repeat K] [--out bench/coldstart.json]

For every function of the contract: K fresh interpreters, each started as the local Lambda
worker starts (``localrun.lambda_runtime``: CPython 3.12 ``-I -S``, the function zip
extracted as task root, the real layer for this machine's architecture, the runtime's boto3),
each timing ``import <handler module>`` from inside (interpreter start-up excluded, as Lambda's
``Init Duration`` excludes its own), on a fresh extraction of the layer zip and with ``-B``:
the layer ships no bytecode and Lambda's ``/opt`` is read-only, so there every cold start
compiles the layer's modules (the workers' cache keeps what they compiled; not used here).
Also: the layer's zipped and unzipped sizes, and the processor's ten largest imports by
``python -X importtime`` (cumulative microseconds), with what was measured where: the commit,
the time, the 1-minute load average before and after (the numbers scale with the load).

The cost table (bench/cost.py, via bench/report.py) charges the processor's median init from
this file once per chunk; without the file it says the init is not measured.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from harness import git_state
from settings import MIB, ROOT

sys.path[0:0] = [str(ROOT), str(ROOT / "lambdas")]  # build.py, localrun; etl.contract

_TIMED_IMPORT = (
    "import sys, time; sys.path[0:0] = sys.argv[2:]; began = time.perf_counter();"
    " __import__(sys.argv[1]); print(time.perf_counter() - began)"
)


def _child(runtime, sys_path: list[str], module: str, *flags: str) -> subprocess.CompletedProcess:
    """``import module`` timed in a fresh interpreter; ``sys_path[0]`` is the task root."""
    return subprocess.run(
        [runtime.python, *runtime.python_flags, "-B", *flags, "-c", _TIMED_IMPORT, module,
         *sys_path],
        cwd=sys_path[0], capture_output=True, text=True, check=True,
    )  # fmt: skip


def fresh_layer(runtime, dest: Path) -> list[str]:
    """The layer zip extracted anew (no bytecode, as Lambda mounts it), then the runtime's SDK
    (compiled, as the runtime ships it): what goes on ``sys.path`` after the task root."""
    from localrun.lambda_runtime import layer_sys_path

    with zipfile.ZipFile(runtime.layer_zip) as archive:
        archive.extractall(dest)
    return [*layer_sys_path(dest), *runtime.sys_path[2:]]


def import_profile(stderr: str, top: int = 10) -> list[dict]:
    """The ``top`` largest cumulative entries of ``-X importtime`` output."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append({"module": name.strip(), "cumulative_us": int(cumulative), "self_us": int(own)})
    return sorted(rows, key=lambda r: -r["cumulative_us"])[:top]


def measure(repeat: int = 5) -> dict:
    """Init seconds per handler (min, median over ``repeat`` fresh interpreters) and sizes."""
    from etl.contract import CONTRACT

    import build
    from localrun.lambda_runtime import resolve_runtime

    runtime = resolve_runtime(log=print)
    if not runtime.lambda_like:
        raise SystemExit(f"--cold-start needs the python3.12 runtime: {runtime.describe()}")
    load_before = os.getloadavg()[0]
    results: dict = {
        "runtime": runtime.describe(),
        "repeat": repeat,
        "git": git_state(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "layer_zip_mib": runtime.layer_zip.stat().st_size / MIB,
        "layer_unzipped_mib": runtime.layer_unzipped_bytes / MIB,
        "handlers": {},
    }
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        dist = Path(scratch) / "dist"
        build.build_all(ROOT, dist, functions_only=True, log=lambda m: None)
        layer_path = fresh_layer(runtime, Path(scratch) / "opt")
        for name, function in sorted(CONTRACT.functions.items()):
            module = function.handler.rpartition(".")[0]
            task_root = Path(scratch) / name
            with zipfile.ZipFile(dist / "functions" / f"{name}.zip") as archive:
                archive.extractall(task_root)
            sys_path = [str(task_root), *layer_path]
            seconds = [float(_child(runtime, sys_path, module).stdout) for _ in range(repeat)]
            results["handlers"][name] = {
                "init_s_min": min(seconds),
                "init_s_median": statistics.median(seconds),
            }
            if name == "processor":
                profile = _child(runtime, sys_path, module, "-X", "importtime")
                results["processor_imports"] = import_profile(profile.stderr)
    results["loadavg_1m"] = {"before": load_before, "after": os.getloadavg()[0]}
    return results


def print_report(results: dict) -> None:
    load = results["loadavg_1m"]
    print(f"\ncold start on {results['runtime']}")
    print(f"load average (1 min): {load['before']:.1f} before, {load['after']:.1f} after")
    print(
        f"layer: {results['layer_zip_mib']:.1f} MiB zipped,"
        f" {results['layer_unzipped_mib']:.1f} MiB unzipped"
    )
    for name, times in results["handlers"].items():
        print(
            f"  {name:<12} init {times['init_s_min']:.2f} s min,"
            f" {times['init_s_median']:.2f} s median"
        )
    print("processor, largest imports (cumulative):")
    for row in results.get("processor_imports", []):
        print(f"  {row['cumulative_us'] / 1e6:6.2f} s  {row['module']}")


def main(repeat: int, out: Path) -> int:
    results = measure(repeat)
    print_report(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0
