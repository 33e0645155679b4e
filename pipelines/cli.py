"""`cop`: the command line of cop-indicators.

    cop build [--sources DIR] [--out DIR] [--warehouse FILE] [--release-id ID]

builds a release by materializing every asset with the project's Dagster instance (dagster.yaml beside this
package), showing progress as it goes. Exit codes: 0 built and published, 1 the build failed (nothing was
published), 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
USER_ERRORS = ("InputError", "ConfigError", "CopError")


def _use_project_instance() -> None:
    """Point Dagster at the project's dagster.yaml unless the user chose another instance."""
    os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT))
    os.environ.setdefault("COP_DAGSTER_STATE", str(REPO_ROOT / ".dagster"))
    Path(os.environ["COP_DAGSTER_STATE"]).mkdir(parents=True, exist_ok=True)


class _ProgressHandler(logging.Handler):
    """Prints one line per step start/finish and the steps' own INFO messages; leaves noise out."""

    def __init__(self, stream) -> None:
        super().__init__()
        self.stream = stream
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = (meta.get("step_key") or "").replace("__", "/")
        kind = event.event_type_value if event else None
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            self._write(f"- {step} ...")
        elif kind == "STEP_SUCCESS":
            took = time.monotonic() - self.started.get(step, time.monotonic())
            self._write(f"  done {step} ({took:.1f} s)")
        elif kind == "ASSET_CHECK_EVALUATION":
            self._write(f"  {meta.get('orig_message', '')}")
        elif kind == "STEP_FAILURE":
            self._write(f"  FAILED {step}")
        elif event is None and record.levelno >= logging.INFO:
            message = meta.get("orig_message", record.getMessage())
            if not message.startswith("Dependencies for step"):  # the summary says what was not run
                self._write(f"    {message}")

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def _progress_logger(stream):
    import dagster as dg

    @dg.logger(description="Compact progress for the cop command line")
    def cop_progress(_init_context):
        logger = logging.Logger("cop.progress", level=logging.DEBUG)
        logger.addHandler(_ProgressHandler(stream))
        return logger

    return cop_progress


def _user_error(error_info) -> str | None:
    """The message of the first CopError in a Dagster error chain, if any (shown without traceback)."""
    while error_info is not None:
        if error_info.cls_name in USER_ERRORS:
            return error_info.message.split(": ", 1)[-1].strip()
        error_info = error_info.cause
    return None


def build(args: argparse.Namespace) -> int:
    _use_project_instance()
    from dagster import DagsterInstance

    from indicators.errors import CopError
    from indicators.release import check_release_id, latest_release
    from pipelines.definitions import WAREHOUSE_WRITER_TAGS, build_definitions
    from pipelines.resources import DEFAULT_PUBLISHED, DEFAULT_SOURCES

    sources = Path(args.sources or os.environ.get("COP_SOURCES") or DEFAULT_SOURCES).resolve()
    out = Path(args.out or os.environ.get("COP_PUBLISHED") or DEFAULT_PUBLISHED).resolve()
    if args.release_id:
        try:
            check_release_id(args.release_id)
        except CopError as exc:
            print(f"cop build: --release-id: {exc}", file=sys.stderr)
            return 2
    if not sources.is_dir():
        print(f"cop build: --sources {sources}: not a folder", file=sys.stderr)
        return 2
    previous = latest_release(out)
    print(f"cop build: sources {sources}\n           publishing to {out}", flush=True)
    defs = build_definitions(sources_dir=sources, published_dir=out, warehouse=args.warehouse,
                             release_id=args.release_id)
    job = defs.resolve_job_def("build_release").with_logger_defs({"cop_progress": _progress_logger(sys.stdout)})
    started = time.monotonic()
    result = job.execute_in_process(instance=DagsterInstance.get(), raise_on_error=False,
                                    run_config={"loggers": {"cop_progress": {}}}, tags=WAREHOUSE_WRITER_TAGS)
    took = time.monotonic() - started
    if result.success:
        release = latest_release(out)
        print(f"cop build: published release {release.name} in {took:.1f} s\n           {release}")
        return 0
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


def _print_check_failure(check) -> None:
    metadata = check.metadata
    count = metadata["violations"].value if "violations" in metadata else "?"
    print(f"  check {check.check_name} on {check.asset_key.to_user_string()}: {count} violation(s)", file=sys.stderr)
    cases = metadata["failure_cases"].value if "failure_cases" in metadata else []
    for case in cases[:20]:
        print(f"    {case['file']}, row {case['row']}, column {case['column']!r}: {case['rule']} "
              f"(value {case['value']!r})", file=sys.stderr)
    if isinstance(count, int) and count > 20:
        print(f"    ... and {count - 20} more (see the check's metadata in the Dagster UI)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cop", description="Child Online Protection indicators pipeline")
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="ingest, validate, estimate and publish a release")
    build_parser.add_argument("--sources", help="folder of input files (default: data/sample, synthetic)")
    build_parser.add_argument("--out", help="folder of releases (default: data/published)")
    build_parser.add_argument("--warehouse", help="DuckDB warehouse file (default: data/warehouse/cop.duckdb)")
    build_parser.add_argument("--release-id", help="release id (default: UTC timestamp, e.g. 2026-11-28T101500Z)")
    build_parser.set_defaults(handler=build)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
