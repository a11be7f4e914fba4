"""python -m localrun.describe FILE [FILE ...] [--schema EXISTING.json] [--jobs N]

Infers a Table Schema that this pipeline accepts from whole CSV files and prints it (JSON)
on stdout; on stderr, per field, what was decided and the first value that ruled out each
narrower type. With `--schema`, completes an existing schema from the data instead: keeps
everything its author wrote, adds what the data shows is missing (a number's
precision/scale, a datetime's timezone, a date format, boolean words, missing values,
fields the schema lacks) and says what it added.

Every record is read: the files are cut into record-aligned chunks (`etl.chunking`, as the
splitter cuts them), each chunk is summarised on its own process (`localrun.inference`),
and the summaries merge in whatever order they finish, so the answer never depends on the
chunking. Running the pipeline with the printed schema on the same files rejects nothing
but records with the wrong number of fields (reported), and keeps every value as its text
says. Exit 0 on success, 2 when a file cannot be described (the message says why).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path

from localrun.chunkread import ChunkTask, DescribeError, summarize_chunk
from localrun.describeplan import plan_file
from localrun.inference import (
    BOOLEAN_WORDS,
    MISSING_CANDIDATES,
    ColumnSummary,
    Probe,
    Summary,
    Where,
    probes,
)
from localrun.progress import ByteProgress

# Workers are forked where the platform can (no interpreter start and no imports per worker:
# a spawned worker re-imports pyarrow: docs/decisions.md, "Cold start"); Arrow's pools and
# allocators re-initialise after a fork, and a worker uses no Arrow threads (single-threaded
# CSV reads, kernels on one array). Elsewhere (macOS, Windows) they are spawned.
START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
TYPE_ORDER = ("boolean", "integer", "number", "date", "datetime", "time", "yearmonth")


# ---------------------------------------------------------------------------
# summarising every chunk, in parallel
# ---------------------------------------------------------------------------

_counters = None  # (bytes, records) shared with the parent, in a worker


def _init_worker(counters) -> None:
    global _counters
    _counters = counters


def _report(n_bytes: int, records: int) -> None:
    if _counters is not None:
        with _counters[0].get_lock():
            _counters[0].value += n_bytes
        with _counters[1].get_lock():
            _counters[1].value += records


def _summarize(task: ChunkTask) -> Summary:
    return summarize_chunk(task, _report)


def summarize_all(tasks: list[ChunkTask], jobs: int, progress: ByteProgress) -> list[Summary]:
    """Every chunk's summary (in no particular order): on `jobs` processes, or in this one
    when there is a single chunk or job."""
    if jobs <= 1 or len(tasks) <= 1:
        done = [0, 0]

        def report(n_bytes: int, records: int) -> None:
            done[0] += n_bytes
            done[1] += records
            progress.update(*done)

        return [summarize_chunk(t, report) for t in tasks]
    ctx = multiprocessing.get_context(START_METHOD)
    counters = (ctx.Value("q", 0), ctx.Value("q", 0))
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(counters,)) as pool:
        pending = pool.map_async(_summarize, tasks, chunksize=1)
        while not pending.ready():
            pending.wait(0.2)
            progress.update(counters[0].value, counters[1].value)
        return pending.get()


def merge(summaries: list[Summary], names: tuple[str, ...]) -> Summary:
    total = Summary.empty(names)
    for s in summaries:
        total = total.merged(s.select(names))
    return total


# ---------------------------------------------------------------------------
# deciding the schema
# ---------------------------------------------------------------------------


def _show(value: str | None) -> str:
    text = repr(value)
    return text if len(text) <= 42 else text[:39] + "...'"


# Where every value reads both ways (`1,234`: 1.234 or 1234), the file's delimiter decides: a
# `;`-delimited file follows the convention that writes decimal commas; in any other a comma
# inside a value is a digit-group mark (`"1,234"` in a comma-delimited file is a thousand).
DECIMAL_COMMA_DELIMITERS = (";",)


class Decision:
    """One field's inferred type and why: `doc` is its Table Schema field."""

    def __init__(self, name: str, col: ColumnSummary, delimiter: str = ","):
        self.name = name
        self.col = col
        self.delimiter = delimiter
        self.probe, self.notes = self._choose()
        self.also: list[str] = [
            p.name
            for p in probes()
            if self.probe is not None
            and p.type == self.probe.type
            and p is not self.probe
            and p.name not in col.failures
            and p.type in ("date", "datetime")
        ]

    @property
    def type(self) -> str:
        return self.probe.type if self.probe is not None else "string"

    def _choose(self) -> tuple[Probe | None, list[str]]:
        notes = []
        if not self.col.present:
            return None, ["no values at all: a string"]
        for probe in probes():
            if probe.name in self.col.failures:
                continue
            if probe.type == "number" and self._precision(probe)[0] > 38:
                digits = self._precision(probe)[0]
                notes.append(f"not {probe.name}: needs {digits} digits, more than 38")
                continue
            return self._comma_as_group(probe, notes)
        return None, notes

    def _comma_as_group(self, probe: Probe, notes: list[str]) -> tuple[Probe, list[str]]:
        """A decimal comma every value also admits as a digit-group mark gives way to the
        grouped reading unless the delimiter is one of DECIMAL_COMMA_DELIMITERS."""
        if probe.type != "number" or probe.group or probe.mark != ",":
            return probe, notes
        if self.delimiter in DECIMAL_COMMA_DELIMITERS:
            return probe, notes
        grouped = next(
            (
                p
                for p in probes()
                if p.group == ","
                and p.name not in self.col.failures
                and (p.type != "number" or self._precision(p)[0] <= 38)
            ),
            None,
        )
        if grouped is None:
            return probe, notes
        note = (
            f"also fits {probe.name}: ',' read as the digit-group mark, the delimiter being "
            f"{self.delimiter!r} (check which the data means)"
        )
        return grouped, [*notes, note]

    @property
    def precision_scale(self) -> tuple[int, int]:
        """A number's (precision, scale): the digits that hold every value."""
        return self._precision(self.probe)

    def _precision(self, probe: Probe) -> tuple[int, int]:
        scale = self.col.scale.get(probe.name, 0)
        return max(1, self.col.int_digits.get(probe.name, 0) + scale), scale

    def other_readings(self) -> list[str]:
        """The digit-group forms every value fits as well, which read the chosen decimal
        mark as a group mark (`1,234` as 1234): the plain reading is kept."""
        if self.type != "number" or not self.precision_scale[1]:
            return []
        return [
            p.name
            for p in probes()
            if p.group == self.probe.mark and p.name not in self.col.failures
        ]

    def ruled_out(self) -> dict[str, Where]:
        """Per narrower type, the value after which no form of that type fitted."""
        out: dict[str, Where] = {}
        for typ in TYPE_ORDER:
            if typ == self.type:
                break
            failed = [self.col.failures.get(p.name) for p in probes() if p.type == typ]
            if None not in failed:  # (a field with no values rules out nothing)
                out[typ] = max(failed, key=lambda w: w.key)
        return out

    def doc(self, missing: list[str]) -> dict:
        field: dict = {"name": self.name, **(self.probe.doc if self.probe else {"type": "string"})}
        if self.type == "number":
            field["precision"], field["scale"] = self.precision_scale
        if self.type == "boolean":
            field["trueValues"] = [t for t, f in BOOLEAN_WORDS if {t, f} & self.col.words]
            field["falseValues"] = [f for t, f in BOOLEAN_WORDS if {t, f} & self.col.words]
        if not any(self.col.missing.get(m) for m in missing):
            field["constraints"] = {"required": True}
        return field


def decide(summary: Summary, *, name: str, delimiter: str) -> tuple[dict, list[Decision]]:
    """The Table Schema the summary allows, and each field's decision."""
    decisions = [
        Decision(n, c, delimiter) for n, c in zip(summary.names, summary.columns, strict=True)
    ]
    found = {m for d in decisions if d.type != "string" for m, k in d.col.missing.items() if k}
    missing = [m for m in MISSING_CANDIDATES if m == "" or m in found]
    doc = {
        "name": name,
        "dialect": {"delimiter": delimiter, "header": True},
        "missingValues": missing,
        "fields": [d.doc(missing) for d in decisions],
    }
    return doc, decisions


def dataset_name(path: str) -> str:
    stem = Path(path).name.split(".")[0]
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem) or "dataset"


# ---------------------------------------------------------------------------
# the summary on stderr
# ---------------------------------------------------------------------------


def _where(summary: Summary, w: Where, files: list[str]) -> str:
    place = f"line {summary.line_of(w)}"
    return f"{files[w.file]} {place}" if len(files) > 1 else place


def report_lines(summary: Summary, doc: dict, decisions: list[Decision], files: list[str]):
    """What was decided per field and the first value that ruled out each narrower type."""
    yield (
        f"{summary.records:,} records, delimiter {doc['dialect']['delimiter']!r}, "
        f"missing values {doc['missingValues']}"
    )
    if summary.wrong_width:
        w = summary.first_wrong_width
        yield (
            f"  {summary.wrong_width:,} records have another number of fields than the header "
            f"(first: {_where(summary, w, files)}, {w.value} fields): the pipeline rejects them"
        )
    for d, field in zip(decisions, doc["fields"], strict=True):
        kind = d.type
        if kind == "number":
            kind += f"({field['precision']},{field['scale']})"
        if "format" in field:
            kind += f" {field['format']}"
        if "groupChar" in field:
            kind += f" in digit groups by {field['groupChar']!r}"
        required = "required" if field.get("constraints", {}).get("required") else "optional"
        missing = ", ".join(f"{m!r} x{k:,}" for m, k in d.col.missing.items() if k)
        yield f"{d.name}: {kind}, {required}" + (f" (missing: {missing})" if missing else "")
        by_value: dict[Where, list[str]] = {}
        for typ, w in d.ruled_out().items():
            by_value.setdefault(w, []).append(typ)
        for w, types in by_value.items():
            yield f"  not {', '.join(types)}: {_show(w.value)} at {_where(summary, w, files)}"
        for note in d.notes:
            yield f"  {note}"
        if d.also:
            yield f"  also fits {', '.join(d.also)} (first kept: check which the data means)"
        if d.other_readings():
            yield (
                f"  also fits {', '.join(d.other_readings())}: {d.probe.mark!r} kept as the "
                "decimal mark (check which the data means)"
            )
        if field.get("timezone") == "UTC":
            yield "  the values carry no zone: assumed UTC (timezone: UTC)"


# ---------------------------------------------------------------------------
# completing an existing schema
# ---------------------------------------------------------------------------


def complete(existing: dict, inferred: dict, decisions: list[Decision]) -> tuple[dict, list[str]]:
    """`existing` with what the data shows it lacks; every keyword its author wrote is kept.
    Returns the completed document and one line per addition."""
    doc = json.loads(json.dumps(existing))
    added: list[str] = []

    def add(where: dict, key: str, value, path: str) -> None:
        where[key] = value
        added.append(f"{path}.{key} = {json.dumps(value, ensure_ascii=False)}")

    if "dialect" not in doc:
        add(doc, "dialect", inferred["dialect"], "$")
    if "missingValues" not in doc and inferred["missingValues"] != [""]:
        add(doc, "missingValues", inferred["missingValues"], "$")
    fields = doc.setdefault("fields", [])
    by_name = {d.name: (d, f) for d, f in zip(decisions, inferred["fields"], strict=True)}
    for i, field in enumerate(fields):
        if isinstance(field, dict) and field.get("name") in by_name:
            _complete_field(field, *by_name[field["name"]], f"$.fields[{i}]", add)
    known = {f.get("name") for f in fields if isinstance(f, dict)}
    for name, (_, inferred_field) in by_name.items():
        if name not in known:
            fields.append(inferred_field)
            added.append(f"$.fields[{len(fields) - 1}] = {json.dumps(inferred_field)}")
    return doc, added


def misfits(doc: dict, decisions: list[Decision], summary: Summary, files: list[str]):
    """The declared fields whose type the data rules out (their values would be rejects)."""
    by_name = {d.name: d for d in decisions}
    for i, field in enumerate(doc.get("fields", [])):
        decision = by_name.get(field.get("name")) if isinstance(field, dict) else None
        if decision is None:
            continue
        typ = field.get("type", "string")
        ruled = decision.ruled_out().get(typ)
        if ruled is not None:
            yield (
                f"$.fields[{i}]: {_show(ruled.value)} at {_where(summary, ruled, files)} is not "
                f"of type {typ!r} (the pipeline would reject it)"
            )
        elif typ == "number" == decision.type and "precision" in field:
            need_p, need_s = decision.precision_scale
            p, s = field["precision"], field.get("scale", 0)
            if p - s < need_p - need_s or s < need_s:
                yield (
                    f"$.fields[{i}]: precision {p} and scale {s} are too narrow: the values "
                    f"need {need_p - need_s} integer and {need_s} fraction digits"
                )


def _complete_field(field: dict, decision: Decision, inferred: dict, path: str, add) -> None:
    """One declared field: what its type needs that the data can tell."""
    typ = field.get("type", "string")
    numeric = decision.type in ("integer", "number")
    if typ == "number" and "precision" not in field and "scale" not in field and numeric:
        mark = field.get("decimalChar", ".")
        group = inferred.get("groupChar")
        same_marks = decision.type == "integer" or inferred.get("decimalChar", ".") == mark
        if same_marks and group in (None, field.get("groupChar")):
            add(field, "precision", inferred.get("precision", _integer_digits(decision)), path)
            add(field, "scale", inferred.get("scale", 0), path)
    dated = typ == decision.type and typ in ("date", "datetime")
    if dated and "format" not in field and "format" in inferred:
        add(field, "format", inferred["format"], path)
    if typ == "datetime" and "timezone" not in field and "%z" not in field.get("format", "%z"):
        add(field, "timezone", "UTC", path)
    if typ == "boolean" and decision.type == "boolean":
        from etl.schema import DEFAULT_FALSE_VALUES, DEFAULT_TRUE_VALUES

        words = set(inferred["trueValues"] + inferred["falseValues"])
        if not words <= {*DEFAULT_TRUE_VALUES, *DEFAULT_FALSE_VALUES}:
            for key in ("trueValues", "falseValues"):
                if key not in field:
                    add(field, key, inferred[key], path)


def _integer_digits(decision: Decision) -> int:
    """The digits of an integer field's values: those of the number form with the same
    digit-group mark (every value of the integer form fits it)."""
    twin = next(p for p in probes() if p.type == "number" and p.group == decision.probe.group)
    return max(1, decision.col.int_digits.get(twin.name, 0))


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localrun.describe",
        description="Infer a Table Schema this pipeline accepts from whole CSV files.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="CSV files with one header")
    parser.add_argument(
        "--schema", help="complete this existing schema from the data instead of inferring one"
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: every core)"
    )
    parser.add_argument("--delimiter", help="the delimiter (default: sniffed from the first lines)")
    parser.add_argument(
        "--chunk-bytes", type=int, help="bytes per chunk (default: a share of each file per job)"
    )
    parser.add_argument("--name", help="the schema's name (default: the first file's name)")
    return parser.parse_args(argv)


def describe(args: argparse.Namespace, err=sys.stderr) -> dict:
    """The schema document for `args` (the summary and any additions written to `err`)."""
    jobs = max(1, args.jobs)
    plans = [
        plan_file(p, i, jobs, args.chunk_bytes, args.delimiter) for i, p in enumerate(args.files)
    ]
    delimiter, names = plans[0][0], plans[0][1]
    for path, (other_delimiter, other_names, _, _) in zip(args.files, plans, strict=True):
        if other_delimiter != delimiter or set(other_names) != set(names):
            raise DescribeError(
                f"{path}: its header ({other_delimiter!r}, {list(other_names)}) differs from "
                f"{args.files[0]}'s ({delimiter!r}, {list(names)}): describe files of one "
                "layout together"
            )
    tasks = [t for plan in plans for t in plan[3]]
    total = sum(os.path.getsize(p) for p in args.files)
    progress = ByteProgress("describe", total, stream=err)
    summaries = summarize_all(tasks, jobs, progress)
    progress.done()
    summary = merge(summaries, names)
    if not summary.records:
        raise DescribeError(f"{args.files[0]}: only blank lines after the header: no records")
    summary.header_lines = {i: plan[2] for i, plan in enumerate(plans)}
    doc, decisions = decide(
        summary, name=args.name or dataset_name(args.files[0]), delimiter=delimiter
    )
    for line in report_lines(summary, doc, decisions, args.files):
        print(line, file=err)
    if args.schema:
        existing = json.loads(Path(args.schema).read_text(encoding="utf-8"))
        doc, added = complete(existing, doc, decisions)
        print(f"added to {args.schema}:" if added else f"nothing to add to {args.schema}", file=err)
        for line in added:
            print(f"  {line}", file=err)
        for line in misfits(doc, decisions, summary, args.files):
            print(f"does not fit the data: {line}", file=err)
    return doc


def render(doc: dict) -> str:
    """The schema as JSON, one field per line (as the README shows schemas): easy to edit."""

    def one(value) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [f"  {one(k)}: {one(v)}" for k, v in doc.items() if k != "fields"]
    fields = ",\n".join(f"    {one(f)}" for f in doc.get("fields", []))
    lines.append(f'  "fields": [\n{fields}\n  ]')
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    from etl.errors import EtlError, SchemaConfigError
    from etl.schema_check import parse_schema

    try:
        doc = describe(args)
        parse_schema(doc, args.schema or "the inferred schema")
    except (DescribeError, EtlError, OSError, ValueError) as exc:
        if isinstance(exc, SchemaConfigError):
            print(f"describe: the schema is still not accepted: {exc}", file=sys.stderr)
        else:
            print(f"describe: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render(doc))
    return 0


if __name__ == "__main__":
    from localrun.exits import exit_now

    exit_now(main())  # no interpreter teardown: localrun/exits.py says why
