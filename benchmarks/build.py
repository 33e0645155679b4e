"""Benchmark of `cop build` on the bundled sample: a full build, a build with nothing changed, and a build after
one country re-delivered its survey, against the floor of what any command costs on the same machine.

    python benchmarks/build.py [--repeat 3] [--out benchmarks/results/build.json] [--redeliver ken_2023]
                               [--timeout SECONDS] [--work DIR] [--keep]

Every figure is the wall-clock time (time.perf_counter) of a subprocess, the median of --repeat runs (every run
kept). The builds run the CLI beside this file (`.venv/bin/cop build --sources DIR --mappings DIR --out DIR
--warehouse FILE`, PYTHONPATH set to this checkout) in a fresh temporary root per repeat that holds copies of
data/sample (root/sample) and data/mappings (root/mappings), so that the specs' relative `file:` paths
(../sample/microdata/<file>) resolve inside the copy, and a fresh Dagster instance (DAGSTER_HOME = root/dagster
with a copy of dagster.yaml, COP_DAGSTER_STATE = root/dagster/state). Nothing is written into the repository.

  floor                  the machine's unavoidable cost of any build command: `python -c "import
                         pipelines.definitions"` (interpreter start + the build's imports, a subprocess) plus
                         the time to sha256 every input file (root/sample and root/mappings) once, in-process
  full                   `cop build` into an empty warehouse, output folder and Dagster instance
  nothing_changed        the same `cop build` again, right after the full build, on the same inputs
  one_country_redelivery one survey re-delivered (default ken_2023): one respondent's weight multiplied by 1.01,
                         the file rewritten in its own format (CSV with the spec's encoding and delimiter and
                         every other byte kept; Parquet with pyarrow; SPSS/Stata with pyreadstat keeping value
                         labels, user-missing values, variable labels and formats), checked by reading both
                         files back (exactly one cell differs), then `cop build` again

Each repeat runs full, nothing_changed and one_country_redelivery in that order in one root. The goals: full
<= 15 s, nothing_changed <= 3 s, one_country_redelivery <= 25 % of full (medians). The build's own per-stage
lines (e.g. "done estimates/... (4.2 s)") are kept when its stdout has them; nothing depends on them.

A build that fails (non-zero exit) or runs past --timeout prints its stderr and the benchmark exits 1.
Results: --out (JSON) and the same name with .md; benchmarks/results/build.json by default.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE = ROOT / "data" / "sample"
MAPPINGS = ROOT / "data" / "mappings"
DAGSTER_YAML = ROOT / "dagster.yaml"

GOAL_FULL_SECONDS = 15.0
GOAL_NOTHING_SECONDS = 3.0
GOAL_ONE_COUNTRY_SHARE = 0.25
WEIGHT_FACTOR = 1.01
SCENARIOS = ("full", "nothing_changed", "one_country_redelivery")
# the build's own timing lines: "  done estimates/survey_risk_behaviour (1.6 s)", "... in 84.2 s"
STAGE_LINE = re.compile(r"^\s*done (?P<step>\S+) \((?P<seconds>\d+(?:\.\d+)?) s\)\s*$")
TIMED_LINE = re.compile(r"\d+(?:\.\d+)? s\b")


class BenchmarkError(Exception):
    """A step of the benchmark failed; the message says which and why (printed, then exit 1)."""


# ------------------------------------------------------------------------------------------- the roots
def make_root(base: Path, name: str) -> Path:
    """A fresh root with copies of the sample and the mappings side by side (the specs' `file:` paths are
    relative to the spec) and an empty Dagster instance: what a first build on a new machine sees."""
    root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
    shutil.copytree(SAMPLE, root / "sample")
    shutil.copytree(MAPPINGS, root / "mappings")
    (root / "dagster" / "state").mkdir(parents=True)
    shutil.copy2(DAGSTER_YAML, root / "dagster" / "dagster.yaml")
    return root


def build_env(root: Path) -> dict:
    """The environment of every measured command: this checkout's code, the root's Dagster instance, and no
    COP_* variable of the caller's shell that could point the build at other inputs or outputs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COP_")}
    env["DAGSTER_HOME"] = str(root / "dagster")
    env["COP_DAGSTER_STATE"] = str(root / "dagster" / "state")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def build_command(cop: Path, root: Path) -> list[str]:
    return [str(cop), "build", "--sources", str(root / "sample"), "--mappings", str(root / "mappings"),
            "--out", str(root / "published"), "--warehouse", str(root / "warehouse.duckdb")]


def input_files(root: Path) -> list[Path]:
    return sorted(p for folder in ("sample", "mappings") for p in (root / folder).rglob("*") if p.is_file())


# ----------------------------------------------------------------------------------------- measurements
def run_timed(command: list[str], root: Path, timeout: float, what: str, log: Path) -> dict:
    """Run `command` in `root`, timing its wall clock; stdout and stderr go to `log`.out/.err. A non-zero exit
    or a timeout raises BenchmarkError with the command's stderr (and the end of its stdout)."""
    out_path, err_path = log.with_suffix(".out"), log.with_suffix(".err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(command, cwd=root, env=build_env(root), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the build's own process group (start_new_session)
            proc.wait()
            code = None
        seconds = time.perf_counter() - t0
    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    if code != 0:
        why = f"killed at --timeout {timeout:g} s" if code is None else f"exit code {code} after {seconds:.1f} s"
        tail = "\n".join(stdout.splitlines()[-15:])
        raise BenchmarkError(f"{what}: {shlex.join(command)}\n  in {root}: {why}.\n"
                             f"--- stderr ---\n{stderr.strip() or '(empty)'}\n--- last lines of stdout ---\n{tail}")
    return {"seconds": round(seconds, 3), "stdout": stdout, "stderr_chars": len(stderr)}


def own_timings(stdout: str) -> dict:
    """The build's own per-stage lines, if its output has them (informative only; the format may change)."""
    lines = [line.strip() for line in stdout.splitlines() if TIMED_LINE.search(line)]
    stages = {}
    for line in stdout.splitlines():
        match = STAGE_LINE.match(line)
        if match:
            stages[match["step"]] = float(match["seconds"])
    return {"stages": stages, "timed_lines": lines[-60:]}


def sha256_all(files: list[Path]) -> float:
    """Seconds to hash every input file once (1 MiB reads): the least a build that fingerprints its inputs does."""
    t0 = time.perf_counter()
    for path in files:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        digest.hexdigest()
    return time.perf_counter() - t0


def summary(runs: list[float]) -> dict:
    return {"median_seconds": round(float(statistics.median(runs)), 3), "min_seconds": round(min(runs), 3),
            "seconds_all": [round(r, 3) for r in runs]}


# ------------------------------------------------------------------------------------------ re-delivery
def find_spec(mappings: Path, source_id: str) -> tuple[Path, dict]:
    """The mapping spec of `source_id` in the root's mappings folder (read as YAML: the spec's own keys)."""
    import yaml

    for path in sorted(mappings.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(spec, dict) and str(spec.get("source_id")) == source_id:
            return path, spec
    raise BenchmarkError(f"--redeliver {source_id}: no mapping spec with source_id {source_id!r} in {mappings}")


def redeliver(mappings: Path, source_id: str) -> dict:
    """Re-deliver `source_id`'s file with one real change: the first respondent with a positive weight gets it
    multiplied by WEIGHT_FACTOR. The file keeps its format; reading both versions back must show that exactly
    that cell changed (else BenchmarkError: the benchmark would measure another change than it says)."""
    spec_path, spec = find_spec(mappings, source_id)
    where = f"{spec_path}"
    try:
        data_file = (spec_path.parent / spec["file"]).resolve()
        fmt = str(spec["format"]).lower()
        weight = spec["design"]["weight"]
    except (KeyError, TypeError) as exc:
        raise BenchmarkError(f"{where}: key {exc} missing: need file, format and design.weight") from exc
    if not data_file.is_file():
        raise BenchmarkError(f"{where}: file {data_file} does not exist")
    original = data_file.with_name(data_file.name + ".before-redelivery")
    shutil.copy2(data_file, original)
    if fmt == "csv":
        options = spec.get("csv") or {}
        encoding, delimiter = options.get("encoding", "utf-8"), options.get("delimiter", ",")
        change = _redeliver_csv(data_file, weight, encoding, delimiter)
        changed = _csv_differences(original, data_file, encoding, delimiter)
    elif fmt == "parquet":
        change = _redeliver_parquet(data_file, weight)
        changed = _table_differences(*(_read_parquet_frame(p) for p in (original, data_file)))
    elif fmt in ("sav", "dta"):
        change = _redeliver_readstat(data_file, weight, fmt)
        changed = _readstat_differences(original, data_file, fmt)
    else:
        raise BenchmarkError(f"{where}: format {fmt!r}: the benchmark re-delivers csv, parquet, sav or dta files; "
                             f"pick another source with --redeliver")
    expected = [(change["row"], weight)]
    original.unlink()
    if changed != expected:
        raise BenchmarkError(f"{data_file}: re-delivery check failed: expected only row {change['row']} column "
                             f"{weight!r} to change, found {changed[:10]}")
    return {"source_id": source_id, "spec": spec_path.name, "file": data_file.name, "format": fmt,
            "column": weight, **change, "verified": "read back: exactly this cell differs"}


def _new_weight(old: float) -> float:
    new = old * WEIGHT_FACTOR
    if not new > 0 or new == old:
        raise BenchmarkError(f"weight {old!r}: multiplying by {WEIGHT_FACTOR} does not change it")
    return new


def _split_lines(text: str) -> list[str]:
    """Physical lines with their own line ends (CRLF, LF or CR, as delivered)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$", text)


def _redeliver_csv(path: Path, weight: str, encoding: str, delimiter: str) -> dict:
    """Edit one field of one unquoted record line; every other byte (encoding, BOM, delimiter, line ends,
    quoting of other lines) stays as delivered."""
    text = path.read_bytes().decode(encoding)
    lines = _split_lines(text)
    header = next(csv.reader([lines[0].rstrip("\r\n")], delimiter=delimiter))
    if weight not in header:
        raise BenchmarkError(f"{path}: no column {weight!r} in the header ({len(header)} columns)")
    col = header.index(weight)
    for number, line in enumerate(lines[1:], start=1):
        body = line.rstrip("\r\n")
        if '"' in body:
            continue  # quoted fields: not edited in place (the next simple line will do)
        fields = body.split(delimiter)
        if len(fields) != len(header):
            continue
        raw = fields[col].strip()
        decimal = "," if ("," in raw and "." not in raw and delimiter != ",") else "."
        try:
            old = float(raw.replace(",", ".")) if decimal == "," else float(raw)
        except ValueError:
            continue
        if not old > 0:
            continue
        places = len(raw.replace(",", ".").split(".")[1]) if decimal in raw else 0
        new = _new_weight(old)
        text_new = f"{new:.{max(places, 2)}f}"
        if float(text_new) == old:
            text_new = repr(new)
        fields[col] = text_new.replace(".", ",") if decimal == "," else text_new
        lines[number] = delimiter.join(fields) + line[len(body):]
        path.write_bytes("".join(lines).encode(encoding))
        return {"row": number, "old": raw, "new": fields[col]}
    raise BenchmarkError(f"{path}: no unquoted record with a positive {weight!r} to change")


def _csv_differences(before: Path, after: Path, encoding: str, delimiter: str) -> list[tuple[int, str]]:
    def rows(path):
        with open(path, encoding=encoding, newline="") as f:
            return list(csv.reader(f, delimiter=delimiter))

    old, new = rows(before), rows(after)
    if len(old) != len(new) or old[0] != new[0]:
        return [(-1, f"rows {len(old)} -> {len(new)} or header changed")]
    return [(i, old[0][j]) for i in range(1, len(old)) for j in range(max(len(old[i]), len(new[i])))
            if j >= len(old[i]) or j >= len(new[i]) or old[i][j] != new[i][j]]


def _redeliver_parquet(path: Path, weight: str) -> dict:
    """Rewrite with pyarrow: same schema (and its metadata), same row order, same compression codec."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    codec = meta.row_group(0).column(0).compression.lower() if meta.num_row_groups else "zstd"
    table = pq.read_table(path)
    if weight not in table.column_names:
        raise BenchmarkError(f"{path}: no column {weight!r} ({table.num_columns} columns)")
    values = table.column(weight).to_pylist()
    row = next((i for i, v in enumerate(values) if v is not None and v > 0), None)
    if row is None:
        raise BenchmarkError(f"{path}: column {weight!r} has no positive weight to change")
    old = values[row]
    new = _new_weight(float(old))
    values[row] = round(new) if pa.types.is_integer(table.schema.field(weight).type) else new
    if values[row] == old:
        raise BenchmarkError(f"{path}: integer weight {old} does not change when multiplied by {WEIGHT_FACTOR}")
    index = table.column_names.index(weight)
    table = table.set_column(index, table.schema.field(weight), pa.array(values, type=table.schema.field(weight).type))
    pq.write_table(table, path, compression=codec if codec != "uncompressed" else "none")
    return {"row": row + 1, "old": old, "new": values[row]}


def _read_parquet_frame(path: Path):
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


def _table_differences(old, new) -> list[tuple[int, str]]:
    """(1-based row, column) of every cell that differs (missing equals missing); any other change is reported
    as row -1."""
    if list(old.columns) != list(new.columns) or len(old) != len(new) or not (old.dtypes == new.dtypes).all():
        return [(-1, "columns, dtypes or row count changed")]
    found = []
    for column in old.columns:
        a, b = old[column], new[column]
        differ = ~((a == b) | (a.isna() & b.isna()))
        found += [(int(i) + 1, column) for i in differ[differ].index]
    return sorted(found)


def _redeliver_readstat(path: Path, weight: str, fmt: str) -> dict:
    """Rewrite an SPSS or Stata file with pyreadstat, carrying over what the build reads besides the values:
    value labels, user-missing values (read as values with user_missing=True), variable labels and formats."""
    import pyreadstat

    if fmt == "sav":
        frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    else:
        frame, meta = pyreadstat.read_dta(str(path), user_missing=True)
    if weight not in frame.columns:
        raise BenchmarkError(f"{path}: no column {weight!r} ({len(frame.columns)} columns)")
    positive = frame.index[frame[weight] > 0]
    if not len(positive):
        raise BenchmarkError(f"{path}: column {weight!r} has no positive weight to change")
    row = int(positive[0])
    old = float(frame.at[row, weight])
    frame.at[row, weight] = _new_weight(old)
    # pandas holds Stata's byte/int/long columns as int64, which pyreadstat would write as double: keep their type
    for column, kind in (getattr(meta, "readstat_variable_types", None) or {}).items():
        if kind in ("int8", "int16", "int32") and str(frame[column].dtype).startswith("int"):
            frame[column] = frame[column].astype(kind)
    common = {"file_label": meta.file_label or "", "column_labels": meta.column_labels,
              "variable_value_labels": meta.variable_value_labels,
              "variable_format": meta.original_variable_types}
    if fmt == "sav":
        compressed = path.read_bytes()[72:76] == (1).to_bytes(4, "little")  # header: 1 = bytecode rows
        pyreadstat.write_sav(frame, str(path), row_compress=compressed, note=meta.notes or None,
                             missing_ranges=meta.missing_ranges or None,
                             variable_display_width=meta.variable_display_width,
                             variable_measure=meta.variable_measure, **common)
    else:
        release = re.search(rb"<release>(\d+)</release>", path.read_bytes()[:100])
        version = {117: 13, 118: 14, 119: 15}.get(int(release[1]) if release else 0, 15)
        pyreadstat.write_dta(frame, str(path), version=version,
                             missing_user_values=meta.missing_user_values or None, **common)
    return {"row": row + 1, "old": old, "new": float(frame.at[row, weight])}


def _readstat_differences(before: Path, after: Path, fmt: str) -> list[tuple[int, str]]:
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    (old, old_meta), (new, new_meta) = (reader(str(p), user_missing=True) for p in (before, after))
    for key in ("variable_value_labels", "column_labels", "missing_ranges", "missing_user_values",
                "original_variable_types", "readstat_variable_types"):
        if getattr(old_meta, key, None) != getattr(new_meta, key, None):
            return [(-1, f"metadata {key} changed")]
    return _table_differences(old, new)


# ------------------------------------------------------------------------------------------- the report
def machine() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal:"))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem * 1024 / 1e9, 1),
            "python": platform.python_version(), "dagster": installed("dagster"), "duckdb": installed("duckdb"),
            "pandas": installed("pandas"), "pyreadstat": installed("pyreadstat"), "platform": platform.platform()}


def git_state() -> dict:
    """The commit measured and whether the work tree differed from it (read-only git calls)."""
    def git(*args):
        done = subprocess.run(["git", "--no-optional-locks", "-C", str(ROOT), *args], capture_output=True,
                              text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if changes is None else bool(changes),
            "changed_files": None if changes is None else len(changes.splitlines())}


def goals(results: dict) -> dict:
    full = results["full"]["median_seconds"]
    checks = {
        "full": (f"<= {GOAL_FULL_SECONDS:g} s", GOAL_FULL_SECONDS),
        "nothing_changed": (f"<= {GOAL_NOTHING_SECONDS:g} s", GOAL_NOTHING_SECONDS),
        "one_country_redelivery": (f"<= {GOAL_ONE_COUNTRY_SHARE:.0%} of full ({GOAL_ONE_COUNTRY_SHARE * full:.1f} s)",
                                   GOAL_ONE_COUNTRY_SHARE * full),
    }
    return {name: {"goal": text, "goal_seconds": round(limit, 3),
                   "met": results[name]["median_seconds"] <= limit} for name, (text, limit) in checks.items()}


def table(report: dict) -> str:
    floor = report["floor"]
    rows = [("scenario", "median s", "runs s", "x floor", "goal", "met"),
            ("floor", f"{floor['seconds']:.2f}", f"import {floor['import']['median_seconds']:.2f} + sha256 "
             f"{floor['sha256']['median_seconds']:.3f}", "1.0", "", "")]
    for name in SCENARIOS:
        s = report["scenarios"][name]
        rows.append((name, f"{s['median_seconds']:.2f}", " ".join(f"{x:.1f}" for x in s["seconds_all"]),
                     f"{s['over_floor']:.1f}", s["goal"], "yes" if s["met"] else "NO"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(report: dict) -> str:
    m, g, r = report["machine"], report["git"], report["redelivery"]
    lines = ["# Build benchmark", "",
             f"{report['date']}; commit {g['commit'] or 'unknown (not a git checkout)'}"
             f"{' (work tree changed)' if g['dirty'] else ''}; "
             f"{m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}, Dagster {m['dagster']}, "
             f"DuckDB {m['duckdb']}.", "",
             f"`cop build` on the bundled sample ({report['setup']['inputs']['files']} input files, "
             f"{report['setup']['inputs']['bytes'] / 1e6:.1f} MB), wall-clock seconds, median of "
             f"{report['setup']['repeats']} run(s). Re-delivery: {r['source_id']} ({r['file']}), row {r['row']} "
             f"{r['column']} {r['old']} -> {r['new']}.", "", "```", table(report), "```", ""]
    for name in SCENARIOS:
        stages = report["scenarios"][name]["runs"][0]["own_timings"]["stages"]
        if stages:
            slowest = sorted(stages.items(), key=lambda kv: -kv[1])[:8]
            lines.append(f"- {name}, the build's own slowest stages (first run): "
                         + ", ".join(f"{k} {v:.1f} s" for k, v in slowest))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- the run
def run(args) -> dict:
    cop = Path(args.cop) if args.cop else Path(sys.executable).parent / "cop"
    if not cop.exists():
        raise BenchmarkError(f"{cop}: no `cop` command (install the project into the venv, or pass --cop)")
    find_spec(MAPPINGS, args.redeliver)  # an unknown --redeliver fails now, not after the first builds
    base = Path(args.work) if args.work else Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = {
        "benchmark": "benchmarks/build.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": git_state(),
        "machine": machine(),
        "setup": {
            "command": "cop build --sources ROOT/sample --mappings ROOT/mappings --out ROOT/published "
                       "--warehouse ROOT/warehouse.duckdb (DAGSTER_HOME=ROOT/dagster, "
                       "COP_DAGSTER_STATE=ROOT/dagster/state, PYTHONPATH=this checkout)",
            "floor": "python -c 'import pipelines.definitions' (subprocess) + sha256 of every input file once "
                     "(in-process); floor seconds = the sum of the two medians",
            "sequence": "per repeat, a fresh ROOT (copies of data/sample and data/mappings, empty Dagster "
                        "instance): full, then nothing_changed, then the re-delivery and one_country_redelivery",
            "repeats": args.repeat,
            "units": "wall-clock seconds of the subprocess (time.perf_counter); median of the repeats, all kept",
            "goals": {"full": f"<= {GOAL_FULL_SECONDS:g} s", "nothing_changed": f"<= {GOAL_NOTHING_SECONDS:g} s",
                      "one_country_redelivery": f"<= {GOAL_ONE_COUNTRY_SHARE:.0%} of full (medians)"},
        },
    }
    imports, hashes = [], []
    runs: dict[str, list[dict]] = {name: [] for name in SCENARIOS}
    for repeat in range(1, args.repeat + 1):
        root = make_root(base, "cop-bench-build")
        print(f"repeat {repeat}/{args.repeat} in {root}", file=sys.stderr, flush=True)
        try:
            files = input_files(root)
            report["setup"]["inputs"] = {"files": len(files), "bytes": sum(p.stat().st_size for p in files),
                                         "survey_specs": len(list((root / "mappings").glob("child_survey_*.yaml")))}
            floor = run_timed([sys.executable, "-c", "import pipelines.definitions"], root, args.timeout,
                              "floor (import pipelines.definitions)", root / "floor_import")
            imports.append(floor["seconds"])
            hashes.append(sha256_all(files))
            print(f"  floor: import {imports[-1]:.2f} s, sha256 {hashes[-1]:.3f} s", file=sys.stderr, flush=True)
            for name in SCENARIOS:
                if name == "one_country_redelivery":
                    change = redeliver(root / "mappings", args.redeliver)
                    report["redelivery"] = change
                    print(f"  re-delivered {change['file']}: row {change['row']} {change['column']} "
                          f"{change['old']} -> {change['new']}", file=sys.stderr, flush=True)
                result = run_timed(build_command(cop, root), root, args.timeout, f"{name} build (repeat {repeat})",
                                   root / name)
                rejected = [line.strip() for line in result["stdout"].splitlines() if "REJECTED" in line]
                runs[name].append({"seconds": result["seconds"], "stderr_chars": result["stderr_chars"],
                                   "own_timings": own_timings(result["stdout"]),
                                   **({"rejected_lines": rejected} if rejected else {})})
                print(f"  {name}: {result['seconds']:.2f} s", file=sys.stderr, flush=True)
                if rejected:
                    print(f"  WARNING: the build rejected a source: {rejected}", file=sys.stderr, flush=True)
        except BenchmarkError:
            print(f"  kept {root} (logs: <scenario>.out/.err)", file=sys.stderr)
            raise
        if args.keep:
            print(f"  kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)

    floor_seconds = statistics.median(imports) + statistics.median(hashes)
    report["floor"] = {"seconds": round(floor_seconds, 3), "import": summary(imports), "sha256": summary(hashes)}
    report["scenarios"] = {}
    for name in SCENARIOS:
        seconds = [r["seconds"] for r in runs[name]]
        report["scenarios"][name] = {**summary(seconds), "over_floor": round(statistics.median(seconds)
                                                                             / floor_seconds, 2),
                                     "runs": runs[name]}
    for name, verdict in goals(report["scenarios"]).items():
        report["scenarios"][name].update(verdict)
    report["all_goals_met"] = all(report["scenarios"][n]["met"] for n in SCENARIOS)
    report["total_benchmark_seconds"] = round(time.perf_counter() - started, 1)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each scenario (median reported)")
    parser.add_argument("--out", default=str(HERE / "results" / "build.json"), help="results JSON (+ .md)")
    parser.add_argument("--redeliver", default="ken_2023", help="source_id of the survey re-delivered")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before one command is stopped")
    parser.add_argument("--work", help="folder for the temporary roots (default: the system temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary roots (logs, warehouse)")
    parser.add_argument("--cop", help="the cop executable (default: the one beside this Python)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    try:
        report = run(args)
    except BenchmarkError as exc:
        print(f"benchmarks/build.py: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(table(report))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
