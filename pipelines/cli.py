"""`cop`: the command line of cop-indicators.

    cop build [--sources DIR] [--manifest FILE] [--out DIR] [--warehouse FILE] [--release-id ID]
    cop indicators list [--group G] [--registry DIR]
    cop indicators show CODE [--registry DIR]
    cop indicators docs [--check] [--registry DIR]
    cop validate FILE --mapping SPEC [--json] [--report out.html]
    cop estimate FILE --weight W [--strata S] [--psu P] [--fpc F]
                 (--proportion EXPR | --mean VAR | --total VAR | --ratio NUM/DEN) [--by A,B]
                 [--lonely-psu adjust] [--format csv|json]
    cop questionnaire form --round ROUND --out FORM.xlsx

`build` builds a release by materializing every asset with the project's Dagster instance (dagster.yaml beside this
package), showing progress as it goes. Exit codes: 0 built and published, 1 the build failed (nothing was
published), 2 usage error. `indicators` prints the catalogue generated from the registry, and `docs` writes
(or with --check compares) docs/indicators.md. `validate` is the data provider's pre-flight check of one
microdata file against its mapping spec: exit 0 if the file would be accepted, 1 if not, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from indicators.errors import CopError as CopUserError

REPO_ROOT = Path(__file__).resolve().parents[1]
USER_ERRORS = ("InputError", "ConfigError", "CopError", "RegistryError")


def _use_project_instance() -> None:
    """Point Dagster at the project's dagster.yaml unless the user chose another instance."""
    os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT))
    os.environ.setdefault("COP_DAGSTER_STATE", str(REPO_ROOT / ".dagster"))
    Path(os.environ["COP_DAGSTER_STATE"]).mkdir(parents=True, exist_ok=True)


class _ProgressHandler(logging.Handler):
    """Prints one line per step start/finish and the steps' own INFO messages; leaves noise out."""

    def __init__(self, stream, verbose: bool = False) -> None:
        super().__init__()
        self.stream = stream
        self.verbose = verbose
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = (meta.get("step_key") or "").replace("__", "/")
        kind = event.event_type_value if event else None
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            if self.verbose:
                self._write(f"- {step} ...")
        elif kind == "STEP_SUCCESS":
            took = time.monotonic() - self.started.get(step, time.monotonic())
            self._write(f"  done {step} ({took:.1f} s)")
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if self.verbose or not data.passed:
                self._write(f"  {meta.get('orig_message', '')}")
        elif kind == "STEP_FAILURE":
            self._write(f"  FAILED {step}")
        elif event is None and (record.levelno >= logging.WARNING or self.verbose and record.levelno >= logging.INFO):
            message = meta.get("orig_message", record.getMessage())
            if not message.startswith("Dependencies for step"):  # the summary says what was not run
                self._write(f"    {message}")

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def _progress_logger(stream, verbose: bool = False):
    import dagster as dg

    @dg.logger(description="Compact progress for the cop command line")
    def cop_progress(_init_context):
        logger = logging.Logger("cop.progress", level=logging.DEBUG)
        logger.addHandler(_ProgressHandler(stream, verbose))
        return logger

    return cop_progress


def _user_error(error_info) -> str | None:
    """The message of the first CopError in a Dagster error chain, if any (shown without traceback)."""
    while error_info is not None:
        if error_info.cls_name in USER_ERRORS:
            return error_info.message.split(": ", 1)[-1].strip()
        error_info = error_info.cause
    return None


def _paths(args: argparse.Namespace, sources: Path, manifest: Path | None) -> tuple[Path, Path, Path]:
    """The mappings folder, warehouse file and source store of this build."""
    from indicators.paths import DEFAULT_STORE, MAPPINGS_DIR, default_warehouse

    mappings = Path(args.mappings or os.environ.get("COP_MAPPINGS") or MAPPINGS_DIR).resolve()
    warehouse = Path(args.warehouse or os.environ.get("COP_WAREHOUSE")
                     or default_warehouse(sources, manifest, mappings)).resolve()
    store = Path(os.environ.get("COP_STORE") or DEFAULT_STORE).resolve()
    return mappings, warehouse, store


def _plan(args: argparse.Namespace, sources: Path, manifest: Path | None, out: Path, mappings: Path,
          warehouse: Path, store: Path):
    """The build plan (no Dagster import: "nothing to do" answers fast)."""
    from indicators.build_plan import estimation_settings, plan_build
    from indicators.sources import BuildInputs

    inputs = BuildInputs(sources, manifest, mappings, store)
    return plan_build(inputs, warehouse, out, Path(args.registry) if args.registry else None,
                      estimation_settings(args.min_coverage))


def build(args: argparse.Namespace) -> int:
    from indicators.errors import CopError
    from indicators.paths import DEFAULT_PUBLISHED, DEFAULT_SOURCES
    from indicators.release_ids import check_release_id

    started = time.monotonic()
    sources = Path(args.sources or os.environ.get("COP_SOURCES") or DEFAULT_SOURCES).resolve()
    out = Path(args.out or os.environ.get("COP_PUBLISHED") or DEFAULT_PUBLISHED).resolve()
    if args.release_id:
        try:
            check_release_id(args.release_id)
        except CopError as exc:
            print(f"cop build: --release-id: {exc}", file=sys.stderr)
            return 2
        if (out / args.release_id).exists():
            print(f"cop build: --release-id {args.release_id}: {out / args.release_id} already exists; releases "
                  "are never overwritten", file=sys.stderr)
            return 2
    if not sources.is_dir():
        print(f"cop build: --sources {sources}: not a folder", file=sys.stderr)
        return 2
    if args.min_coverage is not None and not 0 <= args.min_coverage <= 1:
        print(f"cop build: --min-coverage {args.min_coverage}: give a share between 0 and 1 (e.g. 0.5)",
              file=sys.stderr)
        return 2
    manifest = args.manifest or os.environ.get("COP_MANIFEST")
    if manifest:
        manifest = Path(manifest).resolve()
        if not manifest.is_file():
            print(f"cop build: --manifest {manifest}: no such file", file=sys.stderr)
            return 2
    mappings, warehouse, store = _paths(args, sources, manifest)
    from indicators.build_lock import BuildLocked, build_lock

    try:
        with build_lock(warehouse, out):
            return _locked_build(args, started, sources, manifest, out, mappings, warehouse, store)
    except BuildLocked as exc:
        print(f"cop build: refused: {exc}", file=sys.stderr)
        return 1
    except CopError as exc:  # the warehouse's or the releases' folder cannot be written
        print(f"cop build: FAILED, nothing was published: {exc}", file=sys.stderr)
        return 1


def _locked_build(args: argparse.Namespace, started: float, sources: Path, manifest: Path | None, out: Path,
                  mappings: Path, warehouse: Path, store: Path) -> int:
    """A build holding the warehouse and releases-folder locks: plan, then nothing to do or one Dagster run."""
    from indicators.release_ids import latest_release

    previous = latest_release(out)
    plan = _plan(args, sources, manifest, out, mappings, warehouse, store)
    print(f"cop build: sources {sources}\n" + (f"           manifest {manifest}\n" if manifest else "")
          + f"           warehouse {warehouse}\n           publishing to {out}", flush=True)
    if plan.nothing_to_do and not args.force:
        print(f"cop build: nothing to do: release {previous.name} was built from exactly these inputs, code, "
              f"registry and settings ({time.monotonic() - started:.1f} s)\n           {previous}")
        return _strict_exit(args.strict, _rejected_in_manifest(previous))
    for line in plan.summary():
        print(f"  {line}", flush=True)

    _use_project_instance()
    from dagster import DagsterInstance

    from pipelines.build_run import ensure_partitions, select_run
    from pipelines.definitions import WAREHOUSE_WRITER_TAGS, BUILD_JOB, build_definitions, source_defs

    defs = build_definitions(sources_dir=sources, published_dir=out, warehouse=warehouse,
                             registry_dir=args.registry, release_id=args.release_id, mappings_dir=mappings,
                             manifest=manifest, min_coverage=args.min_coverage)
    instance = DagsterInstance.get()
    orders = ensure_partitions(instance, plan)
    from indicators.registry import load_registry

    by_source = {name: assets for name, (assets, _) in
                 source_defs(load_registry(Path(args.registry) if args.registry else None)).items()}
    selection = select_run(defs, by_source, plan, orders, force=args.force)
    stream = sys.stdout
    job = defs.resolve_job_def(BUILD_JOB).with_logger_defs(
        {"cop_progress": _progress_logger(stream, verbose=args.verbose)})
    result = job.execute_in_process(instance=instance, raise_on_error=False, asset_selection=selection.assets,
                                    run_config={"loggers": {"cop_progress": {}}},
                                    tags={**WAREHOUSE_WRITER_TAGS, **selection.tags})
    took = time.monotonic() - started
    if result.success:
        rejected = _print_deliveries(warehouse, selection.partitions)
        release = latest_release(out)
        print(f"cop build: published release {release.name} in {took:.1f} s\n           {release}")
        return _strict_exit(args.strict, rejected)
    print("\ncop build: FAILED, nothing was published.", file=sys.stderr)
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            message = _user_error(error)
            step = (event.step_key or "").replace("__", "/")
            if message:
                print(f"  {step}: {message}", file=sys.stderr)
            elif error.cls_name == "DagsterAssetCheckFailedError":
                for check in result.get_asset_check_evaluations():
                    if not check.passed:
                        _print_check_failure(check)
            else:
                print(f"  {step}: {error.to_string()}", file=sys.stderr)
    kept = f"the previous release {previous.name} is untouched" if previous else "no earlier release exists"
    print(f"  {kept} ({out}).", file=sys.stderr)
    return 1


def _print_deliveries(warehouse: Path, partitions: list[str]) -> list[str]:
    """Print the verdict of every survey delivery of the warehouse (read in this run or kept; accepted, rejected or
    withdrawn, each left-out one with its reason); return the rejected ones."""
    import duckdb

    from indicators.sources.survey_microdata.harmonise import delivery_statuses

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        statuses = delivery_statuses(con)
    finally:
        con.close()
    if not statuses:
        return []
    counts = {status: sum(d["status"] == status for d in statuses) for status in ("accepted", "rejected", "withdrawn")}
    print(f"survey deliveries: {counts['accepted']} accepted, {counts['rejected']} rejected, {counts['withdrawn']} "
          f"withdrawn; {len(partitions)} read in this run", flush=True)
    for d in statuses:
        if d["status"] != "accepted":
            print(f"  {d['source_id']}: {d['status'].upper()}, left out of this release: {d['reasons']}", flush=True)
    return [d["source_id"] for d in statuses if d["status"] == "rejected"]


def _rejected_in_manifest(release: Path | None) -> list[str]:
    """The sources a published release left out as rejected (its manifest's quality digest)."""
    if release is None or not (release / "manifest.json").is_file():
        return []
    import json

    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    return list(manifest.get("quality", {}).get("sources_rejected", []))


def _strict_exit(strict: bool, rejected: list[str]) -> int:
    """Exit code of a build that published (or had nothing to do): 0, or with --strict 1 when a source was rejected."""
    if strict and rejected:
        print(f"cop build --strict: {len(rejected)} source(s) rejected ({', '.join(rejected)}): exit 1. The release "
              "was published without them; see quality_report.parquet in it.", file=sys.stderr)
        return 1
    return 0


def _print_check_failure(check) -> None:
    metadata = check.metadata
    if "violations" not in metadata:
        # checks that count each rule separately (estimates, group values): name the rules broken
        broken = {k: v.value for k, v in metadata.items() if isinstance(v.value, int) and v.value}
        print(f"  check {check.check_name} on {check.asset_key.to_user_string()}: "
              + ", ".join(f"{k} {v}" for k, v in broken.items()), file=sys.stderr)
        return
    count = metadata["violations"].value
    print(f"  check {check.check_name} on {check.asset_key.to_user_string()}: {count} violation(s)", file=sys.stderr)
    cases = metadata["failure_cases"].value if "failure_cases" in metadata else []
    from indicators.errors import Violation  # worded as InputError words them: "line N" where a case says so

    for case in cases[:20]:
        print(f"    {Violation.from_dict(case)}", file=sys.stderr)
    if isinstance(count, int) and count > 20:
        print(f"    ... and {count - 20} more (see the check's metadata in the Dagster UI)", file=sys.stderr)


def _registry(args: argparse.Namespace):
    from indicators.registry import load_registry

    return load_registry(Path(args.registry) if args.registry else None)


def indicators_list(args: argparse.Namespace) -> int:
    from schemas.registry import GROUP_PREFIXES

    if args.group and args.group not in GROUP_PREFIXES:
        print(f"cop indicators list: --group {args.group!r}: one of {', '.join(GROUP_PREFIXES)}", file=sys.stderr)
        return 2
    registry = _registry(args)
    for group in GROUP_PREFIXES:
        members = [i for i in registry if i.group == group]
        if args.group not in (None, group) or not members:
            continue
        print(f"{group} ({len(members)})")
        for i in members:
            print(f"  {i.code:<6} {i.name}  [{i.unit}; {i.source}, {i.method}]")
    return 0


def indicators_show(args: argparse.Namespace) -> int:
    found = [i for i in _registry(args) if i.code == args.code]
    if not found:
        print(f"cop indicators show: no indicator {args.code!r} (see `cop indicators list`)", file=sys.stderr)
        return 2
    i = found[0]
    rows = [("code", i.code), ("name", i.name), ("group", i.group), ("definition", i.definition),
            ("unit", i.unit), ("source", i.source), ("method", i.method), ("universe", i.universe or "all rows"),
            ("numerator", i.numerator), ("denominator", i.denominator), ("value", i.value),
            ("growth", i.growth or None), ("disaggregations", ", ".join(i.disaggregations) or "none"),
            ("decimals", i.decimals), ("reliability", i.reliability), ("caveats", i.caveats),
            ("references", "; ".join(i.references)), ("defined in", i.file)]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value is not None:
            print(f"{key:<{width}}  {value}")
    return 0


def indicators_docs(args: argparse.Namespace) -> int:
    from indicators.catalogue import DOCS_PATH, render_markdown

    text = render_markdown(_registry(args))
    current = DOCS_PATH.read_text(encoding="utf-8") if DOCS_PATH.exists() else ""
    if args.check:
        if current != text:
            print(f"{DOCS_PATH} is out of date: run `cop indicators docs`", file=sys.stderr)
            return 1
        print(f"{DOCS_PATH} is up to date")
        return 0
    DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOCS_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOCS_PATH}")
    return 0


def validate(args: argparse.Namespace) -> int:
    from indicators.sources.survey_microdata.preflight import preflight, report_html, report_json, report_text

    data_file, spec_file = Path(args.file), Path(args.mapping)
    for label, path in (("FILE", data_file), ("--mapping", spec_file)):
        if not path.is_file():
            print(f"cop validate: {label} {path}: no such file", file=sys.stderr)
            return 2
    try:
        result, provenance = preflight(data_file, spec_file)
    except CopUserError as exc:
        # a broken spec is a usage error; an unreadable file is a rejection
        code = 2 if "mapping spec" in str(exc) or "key " in str(exc) else 1
        print(f"cop validate: {exc}", file=sys.stderr)
        return code
    print(report_json(result, provenance) if args.json else report_text(result, provenance))
    if args.report:
        Path(args.report).write_text(report_html(result, provenance), encoding="utf-8")
        if not args.json:
            print(f"report written to {args.report}")
    return 0 if result.accepted else 1


def _delimiter_argument(value: str) -> str:
    """--delimiter: one character; `tab` or `\\t` for a tab."""
    if value in ("tab", "\\t"):
        return "\t"
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"{value!r}: a delimiter is one character, e.g. ';' (or tab)")
    return value


def _encoding_argument(value: str) -> str:
    """--encoding: DuckDB's name of an encoding it can read (latin1, ISO-8859-1 -> latin-1)."""
    from schemas.mapping_spec import csv_encoding

    try:
        return csv_encoding(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def estimate_command(args: argparse.Namespace) -> int:
    """Ad-hoc design-based tabulation of a microdata file, with the pipeline's own engine and quality rules:
    Taylor linearisation from strata/PSUs/fpc, or, with --repweights, the variance from replicate weights."""
    import duckdb
    import numpy as np

    from indicators.estimation.quality import join_comments, reliability
    from indicators.estimation.replicate import ReplicateDesign, estimate_replicate, replicate_columns
    from indicators.estimation.taylor import Design, DesignError, Estimand, estimate
    from indicators.sources.survey_microdata.reader import load_table
    from schemas.registry import DEFAULT_RELIABILITY

    chosen = [(k, getattr(args, k)) for k in ("proportion", "mean", "total", "ratio") if getattr(args, k)]
    if len(chosen) != 1:
        print("cop estimate: give exactly one of --proportion, --mean, --total, --ratio", file=sys.stderr)
        return 2
    kind, expression = chosen[0]
    x = None
    if kind == "ratio":
        if "/" not in expression:
            print("cop estimate: --ratio takes NUMERATOR/DENOMINATOR", file=sys.stderr)
            return 2
        expression, x = expression.split("/", 1)
    replicate_options = [f"--{n.replace('_', '-')}" for n in ("rep_type", "rho", "scale", "rscales", "mse")
                         if getattr(args, n) not in (None, False)]
    rscales = None
    if args.repweights:
        taylor_options = [f"--{n}" for n in ("strata", "psu", "fpc") if getattr(args, n)]
        if taylor_options:
            print(f"cop estimate: {', '.join(taylor_options)} with --repweights: replicate weights carry the whole "
                  "design (its strata, PSUs and fpc); leave out --strata, --psu and --fpc", file=sys.stderr)
            return 2
        if not args.rep_type:
            print("cop estimate: --repweights needs --rep-type, how the replicates were made: JK1, JKn, BRR, Fay, "
                  "bootstrap or other", file=sys.stderr)
            return 2
        if args.rscales:
            try:
                rscales = tuple(float(v) for v in args.rscales.split(","))
            except ValueError:
                print(f"cop estimate: --rscales {args.rscales!r}: numbers separated by commas, e.g. 0.5 or "
                      "0.9,0.9,0.95", file=sys.stderr)
                return 2
    elif replicate_options:
        print(f"cop estimate: {', '.join(replicate_options)} describe replicate weights: give them with "
              "--repweights REGEX", file=sys.stderr)
        return 2
    if not Path(args.file).is_file():
        print(f"cop estimate: FILE {args.file}: no such file", file=sys.stderr)
        return 2
    by = [c.strip() for c in args.by.split(",")] if args.by else []
    con = duckdb.connect()
    try:
        load_table(con, Path(args.file), "microdata", delimiter=args.delimiter, encoding=args.encoding)
        if args.repweights:
            columns = [name for name, *_ in con.execute("DESCRIBE microdata").fetchall()]
            try:
                # quoted: the file names the columns (e.g. "repwt.1")
                replicates = tuple('"' + c.replace('"', '""') + '"'
                                   for c in replicate_columns(columns, args.repweights))
                design = ReplicateDesign(weight=args.weight, replicates=replicates,
                                         type=args.rep_type, rho=args.rho, scale=args.scale, rscales=rscales,
                                         mse=args.mse)
            except CopUserError as exc:  # the options do not fit the file's replicate columns
                print(f"cop estimate: {args.file}: {exc}", file=sys.stderr)
                return 2
            result = estimate_replicate(con, "microdata", design, [Estimand(kind, expression, x)],
                                        margins=[by])[0][0]
        else:
            design = Design(weight=args.weight, stratum=args.strata, psu=args.psu, fpc=args.fpc,
                            lonely_psu=args.lonely_psu)
            result = estimate(con, "microdata", design, kind, expression, x=x, margins=[by])
    except DesignError as exc:
        lines = ""
        if exc.rows and Path(args.file).suffix.lower() in (".csv", ".txt"):
            lines = f" (file line(s) {', '.join(str(r + 1) for r in exc.rows)}, the header being line 1)"
        print(f"cop estimate: {args.file}: {exc}{lines}", file=sys.stderr)
        return 1
    except duckdb.Error as exc:
        print(f"cop estimate: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        con.close()
    status, _, comment = reliability(result["n_unweighted"], result["cv"], result["df"],
                                     result["flags"].str.contains("boundary"), DEFAULT_RELIABILITY)
    no_interval = np.where(result["df"] < 1, "no interval (df<1)", "")
    result["status"] = status
    result["flags"] = join_comments(comment.to_numpy(), no_interval)
    columns = by + ["estimate", "se", "ci_lower", "ci_upper", "df", "cv", "deff", "n_unweighted", "n_weighted",
                    "status", "flags"]
    table = result[columns].astype({"df": "int64", "n_unweighted": "int64"})
    if args.format == "json":
        print(table.to_json(orient="records", indent=2, double_precision=15))
    else:
        from indicators.csv_safety import neutralise_formulas  # a group label such as "=cmd|..." is not run

        print(neutralise_formulas(table).to_csv(index=False, float_format="%.10g"), end="")
    return 0


def questionnaire_form(args: argparse.Namespace) -> int:
    """The blank Excel form of the COP national questionnaire for one round, as countries fill it in."""
    from indicators.sources.national_questionnaire.definition import questionnaire
    from indicators.sources.national_questionnaire.form import form_id, write_form

    definition = questionnaire()
    if args.round not in definition.rounds:
        rounds = ", ".join(str(r) for r in definition.rounds)
        print(f"cop questionnaire form: --round {args.round}: not a round of the questionnaire (rounds: {rounds})",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        print(f"cop questionnaire form: --out {out}: the form is an Excel workbook, name it *.xlsx", file=sys.stderr)
        return 2
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_form(definition, args.round, out)
    except OSError as exc:
        print(f"cop questionnaire form: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}: form {form_id(args.round, definition.form_version)}, "
          f"{len(definition.round_questions(args.round))} questions, {len(definition.invited(args.round))} "
          "invited countries")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cop", description="Child Online Protection indicators pipeline")
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="ingest, validate, estimate and publish a release")
    build_parser.add_argument("--sources", help="folder of input files (default: data/public, the real public snapshot; data/sample is the synthetic one)")
    build_parser.add_argument("--manifest", help="sources manifest YAML; its file names resolve against --sources "
                                                 "(default: <sources>/sources.yaml, else discovery)")
    build_parser.add_argument("--out", help="folder of releases (default: data/published)")
    build_parser.add_argument("--warehouse", help="DuckDB warehouse file (default: data/warehouse/<sources folder>-<hash>.duckdb, one per set of sources)")
    build_parser.add_argument("--release-id", help="release id (default: UTC timestamp, e.g. 2026-11-28T101500Z)")
    build_parser.add_argument("--mappings", help="folder of survey mapping specs (default: data/mappings)")
    build_parser.add_argument("--registry", help="indicator registry folder (default: indicators/registry)")
    build_parser.add_argument("--force", action="store_true",
                              help="rebuild everything, even what the warehouse already holds unchanged")
    build_parser.add_argument("--strict", action="store_true",
                              help="exit 1 when a source was rejected (the release is still published without it); "
                                   "for scheduled runs that must alert")
    build_parser.add_argument("--verbose", action="store_true",
                              help="show every step as it starts, every check and every message of the steps")
    build_parser.add_argument("--min-coverage", type=float, default=None,
                              help="group values covering less than this share of the group's population are "
                                   "withheld (OBS_STATUS M; default 0.5)")
    build_parser.set_defaults(handler=build)

    indicators = commands.add_parser("indicators", help="the indicator catalogue, from the registry")
    indicator_commands = indicators.add_subparsers(dest="indicators_command", required=True)
    listing = indicator_commands.add_parser("list", help="list indicators by group")
    listing.add_argument("--group", help="only this group (e.g. risk_behaviour)")
    listing.set_defaults(handler=indicators_list)
    show = indicator_commands.add_parser("show", help="everything the registry says about one indicator")
    show.add_argument("code", help="indicator code, e.g. BC.1")
    show.set_defaults(handler=indicators_show)
    docs = indicator_commands.add_parser("docs", help="write docs/indicators.md from the registry")
    docs.add_argument("--check", action="store_true", help="only report whether docs/indicators.md is current")
    docs.set_defaults(handler=indicators_docs)
    for sub in (listing, show, docs):
        sub.add_argument("--registry", help="registry folder (default: indicators/registry)")

    check = commands.add_parser("validate", help="pre-flight check of a microdata file against its mapping spec")
    check.add_argument("file", help="the microdata file (CSV, Parquet, .sav, .dta, .rda, .rds)")
    check.add_argument("--mapping", required=True, help="its mapping spec (YAML)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--report", help="also write an HTML report to this file")
    check.set_defaults(handler=validate)

    tab = commands.add_parser(
        "estimate", help="design-based estimate from a microdata file (no registry entry)",
        description="Design-based estimate from a microdata file, as R's survey: Taylor linearisation from the "
                    "strata, PSUs and fpc (svydesign), or the variance from replicate weights with --repweights "
                    "(svrepdesign with combined weights).",
        epilog="Output: one row per domain with estimate, se, 95% CI, df (design degrees of freedom of the units "
               "with the item observed: PSUs minus strata, or with replicate weights R's degf, the rank of their "
               "replicate weights minus 1), cv (percent), deff, n_unweighted, n_weighted, status (A normal, U low "
               "reliability, Q would be suppressed in a release: fewer than 25 cases or CV above 33.3%) and flags "
               "(the rules met: n<25, cv>33.3%, n<50, cv>16.6%, p=0|100%, df<2, no interval (df<1)). "
               "A proportion of 0 or 1 gets a Clopper-Pearson bound on the Korn-Graubard effective sample size; "
               "otherwise its interval is on the logit scale (with replicate weights, from the replicates' "
               "logits, as R's svyciprop). "
               "Replicate weights, e.g. --weight w --repweights 'rep[0-9]+' --rep-type Fay --rho 0.5: each "
               "replicate column holds the full weight of the unit in that replicate (0 when left out); the "
               "variance is scale * sum of rscales * (replicate estimate - mean of the replicates)^2, or around "
               "the full-sample estimate with --mse. Default scale: (R-1)/R for JK1, 1/(R-1) for bootstrap, "
               "1/R for BRR, 1/(R (1-rho)^2) for Fay, 1 for JKn and other; rscales default 1 (JKn must give "
               "them).")
    tab.add_argument("file", help="CSV, Parquet, .sav or .dta")
    tab.add_argument("--weight", required=True, help="weight column (or SQL expression)")
    tab.add_argument("--strata", help="stratum column (default: one stratum)")
    tab.add_argument("--psu", help="PSU column (default: each unit is a PSU)")
    tab.add_argument("--fpc", help="first-stage fpc: PSUs in the stratum's population (>= 1), or the sampling "
                                   "fraction (all values <= 1), as R's svydesign")
    tab.add_argument("--proportion", help="boolean expression, e.g. \"internet = 'yes'\"")
    tab.add_argument("--mean", help="variable or expression")
    tab.add_argument("--total", help="variable or expression")
    tab.add_argument("--ratio", help="NUMERATOR/DENOMINATOR")
    tab.add_argument("--by", help="domain columns, comma-separated (one row per combination)")
    tab.add_argument("--lonely-psu", default="adjust", choices=["adjust", "remove", "average", "certainty", "fail"])
    tab.add_argument("--repweights", metavar="REGEX",
                     help="replicate weight columns: every column whose name matches the regular expression, in "
                          "file order (as R's svrepdesign(repweights=)); then no --strata, --psu or --fpc")
    tab.add_argument("--rep-type", choices=["JK1", "JKn", "BRR", "Fay", "bootstrap", "other"],
                     type=lambda v: {t.lower(): t for t in ("JK1", "JKn", "BRR", "Fay", "bootstrap", "other")}.get(
                         v.lower(), v),
                     help="how the replicates were made (R's svrepdesign type); required with --repweights")
    tab.add_argument("--rho", type=float, help="Fay's rho (--rep-type Fay), e.g. 0.5")
    tab.add_argument("--scale", type=float, help="overall variance scale (default: R's for the type)")
    tab.add_argument("--rscales", metavar="A,B,...",
                     help="replicate scales: one value for every replicate, or one per replicate (JKn: "
                          "(n_h - 1)/n_h of each replicate's stratum)")
    tab.add_argument("--mse", action="store_true",
                     help="centre the replicates on the full-sample estimate, not on their mean")
    tab.add_argument("--format", default="csv", choices=["csv", "json"])
    tab.add_argument("--delimiter", type=_delimiter_argument,
                     help="CSV field delimiter, one character such as ';' or tab (default: detected)")
    tab.add_argument("--encoding", type=_encoding_argument,
                     help="CSV text encoding: utf-8 (default), utf-16 or latin-1")
    tab.set_defaults(handler=estimate_command)

    national = commands.add_parser("questionnaire", help="the COP national questionnaire")
    national_commands = national.add_subparsers(dest="questionnaire_command", required=True)
    form = national_commands.add_parser("form", help="write the blank Excel form of a round, for countries to "
                                                     "fill in")
    form.add_argument("--round", type=int, required=True, help="the round (year), e.g. 2009")
    form.add_argument("--out", required=True, help="the form to write (.xlsx)")
    form.set_defaults(handler=questionnaire_form)

    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CopUserError as exc:
        print(f"cop {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
