"""Parent side: results.json (metrics, ratios, count checks), the printed table, the chart.

Ratios are `ours / job` at the same thread count: the processor's MB/s over the job's
(processor_all_cores' for an all-cores job), so 2.0 reads "ours is 2x that job".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import cost
from harness import git_state, machine
from jobs import COUNTED, DESCRIBED, JOBS, PEERS
from settings import COLDSTART_JSON, ROOT, TARGETS

RSS_CHECKED = ("processor", "processor_all_cores")  # run on the 1 GiB chunk (bench.py)
CHART_GROUPS = {  # group: (colour, legend)
    "ours": ("#1f77b4", "ours"),
    "loop": ("#2ca02c", "validate / describe (the user's loop)"),
    "peer": ("#ff7f0e", "peers: the same job"),
    "reference": ("#d62728", "pandas reference"),
    "floor": ("#7f7f7f", "floor / parse only: no checks"),
    "extra": ("#9ecae1", "S3 model (extra)"),
}


def _metric(jobs: dict, job: str, key: str):
    j = jobs.get(job, {})
    return j.get(key) if j.get("ok") else None


def _ratio(a, b):
    return a / b if a and b else None


def ours_for(job: str) -> str:
    return "processor_all_cores" if JOBS[job].all_cores else "processor"


def timed_jobs(jobs: dict) -> list[str]:
    """The timed jobs that ran, in the job table's order (ours, peers, pandas, floor ...)."""
    return [name for name, job in JOBS.items() if job.timed and name in jobs]


# --------------------------------------------------------------------------- results
def build_results(
    *,
    size_mb: float,
    sample: dict,
    clean: dict | None,
    jobs: dict,
    load: tuple[float, float],
    quoted_newlines: bool,
    s3_model: dict,
    baseline: dict | None,
) -> dict:
    results: dict = {"size_mb": size_mb}
    for name in timed_jobs(jobs):
        results[f"{name}_mb_s"] = _metric(jobs, name, "mb_s")
        results[f"{name}_peak_rss_mib"] = _metric(jobs, name, "peak_rss_mib")
    results["processor_all_cores_threads"] = _metric(jobs, "processor_all_cores", "threads")
    results["splitter_bytes_per_boundary"] = _metric(jobs, "splitter", "bytes_per_boundary")
    results["splitter_quoted_newlines_bytes_per_boundary"] = _metric(
        jobs, "splitter_quoted_newlines", "bytes_per_boundary"
    )
    results.update(ratios(results, jobs))
    results["cost"] = cost_block(results, jobs)
    results.update(
        {
            "s3_model": s3_model,
            "rows": sample["rows"],
            "quoted_newlines": quoted_newlines,
            "loadavg_1m": {"before": load[0], "after": load[1]},
            "size_bytes": sample["bytes"],
            "units": {
                "size_mb": "MiB (2**20 bytes)",
                "*_mb_s": "MB/s, 1 MB = 1e6 bytes",
                "*_rss_mib": "MiB (ru_maxrss of the job's own process)",
                "splitter_bytes_per_boundary": "bytes",
                "ratio_*": "ours / job MB/s, at the job's thread count",
                "time_ratio_*": "job seconds / job seconds (below 1: the first is faster)",
                "cpu_ratio_*": "job CPU seconds / job CPU seconds (threads and workers)",
            },
            "machine": machine(),
            "git": git_state(),
            "pyarrow_version": next(
                (j.get("pyarrow_version") for j in jobs.values() if j.get("pyarrow_version")), None
            ),
            "peer_versions": {p: _metric(jobs, p, "version") for p in PEERS},
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "threads": 1,
            "generator": _generator(sample),
            "generator_clean": _generator(clean) if clean else None,
            "jobs": jobs,
        }
    )
    if baseline:
        results["baseline"] = baseline
    if "processor" not in jobs:
        results["processor"] = "not run"
    elif not jobs["processor"].get("ok"):
        results["processor"] = (
            "not available" if jobs["processor"].get("available") is False else "failed"
        )
    return results


def cost_block(results: dict, jobs: dict, coldstart_json: Path = COLDSTART_JSON) -> dict | None:
    """results.json's `cost`: this run's processor speeds at the deployed defaults, with the
    processor's init per chunk read from `bench.py --cold-start`'s file when it exists."""
    return cost.from_results(
        results | {"jobs": jobs},
        cost.deployed_defaults(ROOT),
        init=cost.processor_init(coldstart_json, ROOT),
    )


def _generator(sample: dict) -> dict:
    return {
        k: sample[k]
        for k in ("rows", "bytes", "invalid_rows", "invalid_by_kind", "seconds", "mb_per_s")
        if k in sample
    }


def ratios(results: dict, jobs: dict) -> dict:
    """The headline ratios (issue 14) and ours / job for every timed job."""
    mb = {name: results.get(f"{name}_mb_s") for name in timed_jobs(jobs)}
    out = {}
    for threads, suffix in (("processor", ""), ("processor_all_cores", "_all_cores")):
        peers = {p: mb.get(p + suffix) for p in PEERS if mb.get(p + suffix)}
        fastest = max(peers, key=peers.get) if peers else None
        out[f"fastest_peer{suffix}"] = fastest
        out[f"ratio_{threads}_to_fastest_peer{suffix}"] = _ratio(
            mb.get(threads), peers.get(fastest)
        )
    # scaling inside a chunk: the processor on every core over itself on one thread
    out["ratio_processor_all_cores_to_processor"] = _ratio(
        mb.get("processor_all_cores"), mb.get("processor")
    )
    # the machine's own scaling of the same work (one process per core, nothing shared) and
    # how much of it the threads reach (bench/processes.py)
    out["ratio_processor_processes_to_processor"] = _ratio(
        mb.get("processor_processes"), mb.get("processor")
    )
    out["ratio_processor_all_cores_to_processor_processes"] = _ratio(
        mb.get("processor_all_cores"), mb.get("processor_processes")
    )
    out["ratio_processor_to_floor"] = _ratio(mb.get("processor"), mb.get("floor"))
    out["ratio_processor_to_parse_only"] = _ratio(mb.get("processor"), mb.get("parse_only"))
    out["ratio_processor_to_pandas"] = _ratio(mb.get("processor"), mb.get("pandas"))
    out["ratio_processor_to_polars"] = _ratio(mb.get("processor"), mb.get("polars"))
    out["ratio_processor_to_duckdb"] = _ratio(mb.get("processor"), mb.get("duckdb"))
    out.update(time_ratios(jobs))
    out["ratio_ours_to_job"] = {
        name: _ratio(mb.get(ours_for(name)), mb.get(name))
        for name in mb
        if JOBS[name].group != "extra"
    }
    return out


LOOP_PAIRS = (
    ("validate", "processor"),
    ("validate_all_cores", "processor"),
    ("describe_all_cores", "validate_all_cores"),
)


def time_ratios(jobs: dict) -> dict:
    """Issue 20's targets as the issue states them, job seconds over job seconds (below 1:
    the first is faster): validate on one thread against the processor, validate on all
    cores against the processor alone, describe against validate, both on all cores. And
    the same pairs in CPU seconds (every thread and worker process), which a busy machine
    moves far less than wall time: what each job costs, not a target."""
    out = {}
    for key, prefix in (("seconds", "time_ratio"), ("cpu_seconds", "cpu_ratio")):
        spent = {name: _metric(jobs, name, key) for name in jobs}
        for a, b in LOOP_PAIRS:
            out[f"{prefix}_{a}_to_{b}"] = _ratio(spent.get(a), spent.get(b))
    return out


# --------------------------------------------------------------------------- count checks
def check_counts(  # noqa: C901 (one count rule per job kind, read top to bottom)
    jobs: dict, sample: dict, clean: dict | None, diffs: dict[str, dict]
) -> tuple[dict, list[str]]:
    """Every job's valid/rejected counts against the generator's and the processor's, and the
    value-by-value diffs. Returns (counts, problems): any problem fails the run."""
    expected = (sample["rows"] - sample["invalid_rows"], sample["invalid_rows"])
    counts: dict = {"expected_valid": expected[0], "expected_rejected": expected[1]}
    problems: list[str] = []
    ours = jobs.get("processor", {})
    ours_counts = (ours.get("rows_valid"), ours.get("rows_rejected")) if ours.get("ok") else None
    for name in COUNTED:
        j = jobs.get(name)
        if not j or not j.get("ok"):
            continue
        got = (j["rows_valid"], j["rows_rejected"])
        counts[f"{name}_valid"], counts[f"{name}_rejected"] = got
        if got != expected:
            problems.append(
                f"{name} counts valid/rejected {got[0]}/{got[1]} differ from the "
                f"generator's {expected[0]}/{expected[1]}"
            )
        if ours_counts and got != ours_counts:
            problems.append(
                f"{name} counts valid/rejected {got[0]}/{got[1]} differ from the "
                f"processor's {ours_counts[0]}/{ours_counts[1]}"
            )
    floor = jobs.get("floor", {})
    if floor.get("ok") and clean:
        counts["floor_rows"] = floor["rows_valid"]
        if floor["rows_valid"] != clean["rows"]:
            problems.append(
                f"floor wrote {floor['rows_valid']} rows of the clean sample's {clean['rows']}"
            )
    problems += check_described(jobs, sample, counts)
    for peer, d in diffs.items():
        counts[f"diff_{peer}"] = {
            k: v for k, v in d.items() if k not in ("peak_rss_mib", "exit_code")
        }
        if not d.get("ok"):
            problems.append(f"diff vs {peer} failed: {d.get('error')}")
            continue
        if d["valid_only_in_processor"] or d["valid_only_in_peer"]:
            problems.append(
                f"processor and {peer} keep different rows: "
                f"{d['valid_only_in_processor']} only in ours, "
                f"{d['valid_only_in_peer']} only in {peer}"
            )
        cols = d.get("valid_columns_identical") or {}
        if cols and not all(cols.values()):
            problems.append(
                f"processor and {peer} valid values differ in columns "
                f"{sorted(k for k, v in cols.items() if not v)}"
            )
        if d.get("rejected_identical") is False:
            problems.append(
                f"processor and {peer} rejects differ (rows {d['rejected_rows'][0]} / "
                f"{d['rejected_rows'][1]})"
            )
    for name, j in jobs.items():
        if not j.get("ok") and j.get("available") is not False:
            problems.append(f"{name} failed: {j.get('error')}")
    return counts, problems


def check_described(jobs: dict, sample: dict, counts: dict) -> list[str]:
    """describe reads every record, and infers the same schema however it chunks the file."""
    problems, schemas = [], {}
    for name in DESCRIBED:
        j = jobs.get(name)
        if not j or not j.get("ok"):
            continue
        counts[f"{name}_records"] = j["rows_described"]
        schemas[name] = j["schema"]
        if j["rows_described"] != sample["rows"]:
            problems.append(
                f"{name} read {j['rows_described']} records of the generator's {sample['rows']}"
            )
    if len({json.dumps(doc, sort_keys=True) for doc in schemas.values()}) > 1:
        problems.append(f"{' and '.join(schemas)} inferred different schemas")
    return problems


def check_splits(jobs: dict) -> list[str]:
    return [
        f"{name}: plan is not record-aligned or does not tile the file"
        for name in ("splitter", "splitter_quoted_newlines")
        if jobs.get(name, {}).get("ok")
        and not (jobs[name]["starts_after_newline"] and jobs[name]["chunks_tile_the_file"])
    ]


# --------------------------------------------------------------------------- printing
def _fmt(v, spec: str = ".1f") -> str:
    return "n/a" if v is None else format(v, spec)


OPERATORS = {
    ">=": lambda value, limit: value >= limit,
    "<=": lambda value, limit: value <= limit,
    "<": lambda value, limit: value < limit,
}


def _check(value, op: str, limit: float) -> str:
    if value is None:
        return "n/a"
    return "PASS" if OPERATORS[op](value, limit) else "FAIL"


def _rejected_cell(job: dict) -> str:
    if isinstance(job.get("rows_rejected"), int):
        return f"{job['rows_rejected']:,}"
    if "rows_described" in job:
        return "(records read)"
    return f"{job.get('rows_skipped_by_parser', 0):,} skipped"


def print_report(results: dict, problems: list[str], warnings: list[str]) -> None:  # noqa: C901 (the report's sections, in order)
    jobs = results["jobs"]
    ratio = results["ratio_ours_to_job"]
    rows = [
        ("job", "threads", "seconds", "CPU s", "MB/s", "ours/job", "peak RSS MiB", "valid",
         "rejected")
    ]  # fmt: skip
    for name in timed_jobs(jobs):
        j = jobs[name]
        if not j.get("ok"):
            rows.append((name, "", j.get("error", "failed")[:60], "", "", "", "", "", ""))
            continue
        valid = j.get("rows_valid", j.get("rows_parsed", j.get("rows_described")))
        rows.append(
            (
                name,
                str(j.get("threads", "")),
                _fmt(j["seconds"], ".2f"),
                _fmt(j.get("cpu_seconds"), ".2f"),
                _fmt(j.get("mb_s")),
                _fmt(ratio.get(name), ".2f"),
                _fmt(j["peak_rss_mib"], ".0f"),
                f"{valid:,}" if isinstance(valid, int) else "",
                _rejected_cell(j),
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    print(
        f"\n{results['size_mb']:g} MiB ({results['size_bytes'] / 1e6:.0f} MB), "
        f"{results['rows']:,} rows, warm cache; MB = 1e6 bytes; ours/job: the processor's "
        "MB/s over the job's at the same thread count"
    )
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    for name in ("splitter", "splitter_quoted_newlines"):
        s = jobs.get(name, {})
        if s.get("ok"):
            print(
                f"{name} (64 MiB chunks): {s['chunks']} chunks, {s['boundaries']} boundaries, "
                f"{s['bytes_read']:,} bytes read in {s['reads']} reads = "
                f"{s['bytes_per_boundary']:,.0f} bytes/boundary, {s['fallbacks']} fallbacks, "
                f"{s['seconds'] * 1e3:.1f} ms"
            )
        elif s:
            print(f"{name}: {s.get('error')}")
    if "local_e2e_mb_s" in results:
        v = results.get("ratio_local_e2e_to_processor")
        print(
            f"  local end-to-end (embedded moto, after the deploy): "
            f"{results['local_e2e_mb_s']:.1f} MB/s in {results['local_e2e_seconds']:.1f} s, "
            f"{results['local_e2e_chunks']} chunks; ratio_local_e2e_to_processor <= 5: "
            f"{_fmt(v, '.2f')}  {_check(v, '<=', 5)}"
        )
    for name in RSS_CHECKED:
        if f"{name}_1gib_peak_rss_mib" in results:
            print(
                f"{name} on a 1 GiB chunk: peak RSS "
                f"{_fmt(results[f'{name}_1gib_peak_rss_mib'], '.0f')} MiB, "
                f"{_fmt(results.get(f'{name}_1gib_mb_s'))} MB/s"
            )
    for job, b in results.get("baseline", {}).get("jobs", {}).items():
        print(
            f"{job} vs {results['baseline']['rev']} ({results['baseline']['commit']}), "
            f"interleaved in this run: {b['mb_s']:.1f} MB/s then, now {b['speedup']:.2f}x"
        )
    print("\ntargets:")
    for key, (op, limit) in TARGETS.items():
        print(
            f"  {key} {op} {limit:g}: {_fmt(results.get(key), '.2f')}  "
            f"{_check(results.get(key), op, limit)}"
        )
    for name in RSS_CHECKED:
        if f"{name}_1gib_peak_rss_mib" in results:
            v = results[f"{name}_1gib_peak_rss_mib"]
            print(f"  {name}_1gib_peak_rss_mib <= 300: {_fmt(v, '.0f')}  {_check(v, '<=', 300)}")
    cpu = [(a, b, results.get(f"cpu_ratio_{a}_to_{b}")) for a, b in LOOP_PAIRS]
    if any(r is not None for _, _, r in cpu):
        print(
            "  (CPU seconds, no target: "
            + ", ".join(f"{a} / {b} {_fmt(r, '.2f')}" for a, b, r in cpu)
            + ")"
        )
    print(
        f"  (fastest peer: {results.get('fastest_peer')}; processor / parse-only "
        f"{_fmt(results.get('ratio_processor_to_parse_only'), '.2f')}, / pandas "
        f"{_fmt(results.get('ratio_processor_to_pandas'), '.2f')})"
    )
    if results.get("cost"):
        c = results["cost"]
        d = c["defaults"]
        print(
            f"\ncost of one GB of CSV ({d['arch']}, {d['chunk_bytes'] // 2**20} MiB chunks, "
            f"Map concurrency {d['concurrency']}; list prices of {c['prices_read_on']}; "
            "bench/cost.py states the model):"
        )
        print(cost.markdown(c))
    counts = results["counts"]
    print(f"counts: {json.dumps({k: v for k, v in counts.items() if not k.startswith('diff')})}")
    for key, d in counts.items():
        if key.startswith("diff_") and d.get("valid_columns_identical"):
            cols = d["valid_columns_identical"]
            same = "identical" if all(cols.values()) else "DIFFERENT"
            print(f"processor and {d['peer']} valid outputs: {same} values in every column")
            if "rejected_identical" in d:
                same = "identical" if d["rejected_identical"] else "DIFFERENT"
                print(f"processor and {d['peer']} rejects: {same} (line, raw, reason, failures)")
    for w in warnings:
        print(f"WARNING: {w}")
    for p in problems:
        print(f"FAIL: {p}")


# --------------------------------------------------------------------------- the chart
def chart(results: dict, path: Path) -> None:
    """One horizontal bar per timed job (MB/s, with ours/job printed) and its peak RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jobs = results["jobs"]
    names = timed_jobs(jobs)[::-1]  # matplotlib draws the first bar at the bottom
    labels, speeds, rss, colours, notes = [], [], [], [], []
    for name in names:
        j, spec = jobs[name], JOBS[name]
        threads = "all cores" if spec.all_cores else "1 thread"
        label = f"{spec.label.removesuffix(', all cores')} ({threads})"
        if not j.get("ok"):
            label += "\n(not available)" if j.get("available") is False else "\n(failed)"
        labels.append(label)
        speeds.append(j.get("mb_s") or 0.0)
        rss.append(j.get("peak_rss_mib") or 0.0 if j.get("ok") else 0.0)
        colours.append(CHART_GROUPS[spec.group][0])
        r = results["ratio_ours_to_job"].get(name)
        if name in ("processor", "processor_all_cores") or r is None:
            notes.append(f"{j.get('mb_s') or 0:.1f}")
        else:
            notes.append(f"{j['mb_s']:.1f}   ours = {r:.2f}x")
    height = 1.9 + 0.42 * len(names)
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(13, height), gridspec_kw={"width_ratios": [2.2, 1]}, sharey=True
    )
    bars = ax1.barh(labels, speeds, color=colours)
    ax1.bar_label(bars, labels=notes, padding=3, fontsize=8)
    ax1.set_xlim(0, max(speeds + [1.0]) * 1.45)
    ax1.set_xlabel(
        "MB/s (1 MB = 1e6 bytes); 'ours = Nx': the processor's MB/s / the job's, same thread count",
        fontsize=8,
    )
    ax1.tick_params(axis="y", labelsize=8)
    ax1.set_title(f"Throughput on {results['size_mb']:g} MiB", fontsize=9, loc="left")
    groups = {JOBS[n].group for n in names}
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=colour)
        for g, (colour, _) in CHART_GROUPS.items()
        if g in groups
    ]
    ax1.legend(
        handles,
        [legend for g, (_, legend) in CHART_GROUPS.items() if g in groups],
        loc="lower right",
        fontsize=7,
    )
    bars = ax2.barh(labels, rss, color=colours)
    ax2.bar_label(bars, fmt="%.0f", padding=3, fontsize=8)
    ax2.axvline(300, ls="--", color="k", lw=1, label="processor target: 300 MiB")
    ax2.set_xlim(0, max(rss + [300.0]) * 1.25)
    ax2.legend(loc="lower right", fontsize=7)
    ax2.set_xlabel("peak RSS (MiB)", fontsize=8)
    ax2.set_title("Peak memory per job", fontsize=9, loc="left")
    load = results.get("loadavg_1m", {})
    fig.suptitle(
        f"at one thread: processor / floor = "
        f"{_fmt(results.get('ratio_processor_to_floor'), '.2f')}x (target >= 0.7), "
        f"processor / fastest peer ({results.get('fastest_peer') or 'n/a'}) = "
        f"{_fmt(results.get('ratio_processor_to_fastest_peer'), '.2f')}x (target >= 1.5)\n"
        f"{results['git'].get('commit', '')} - pyarrow {results.get('pyarrow_version')} - "
        f"{results['machine'].get('cpu', '')} x {results['machine'].get('cpus')} - "
        f"1-min load {_fmt(load.get('before'), '.2f')} -> {_fmt(load.get('after'), '.2f')}",
        fontsize=9,
        x=0.01,
        ha="left",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
