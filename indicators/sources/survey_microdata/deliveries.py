"""The life of a survey delivery in the warehouse: read it (or keep it when its files did not change), harmonise
it, withdraw it (unreadable, or its spec is gone), and the audit of what is staged. The Dagster assets of
pipelines/defs/survey_microdata.py only call these and report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from indicators import tables
from indicators.errors import CopError
from indicators.files import load_yaml
from indicators.sources.survey_microdata.harmonise import (SourceResult, audit_staged, harmonise_sources,
                                                           withdraw_source)
from indicators.sources.survey_microdata.reader import read_microdata
from indicators.sources.survey_microdata.specs import delivery_file, load_spec
from indicators.sources import harmonised_sources
from indicators.tables import table_exists


@dataclass
class ReadOutcome:
    source_id: str
    read: bool  # False: the delivery could not be read and was withdrawn (reason in `error`)
    provenance: dict | None = None
    error: str | None = None


def read_delivery(con: duckdb.DuckDBPyConnection, spec_file: Path, store: Path | None = None) -> ReadOutcome:
    """Read one delivery into raw.<target>__<source_id>. A delivery whose spec is invalid or whose file cannot be
    read is rejected on its own (the other deliveries go on): its earlier rows leave staging and its raw table is
    dropped, so that a rejected re-delivery never leaves the previous delivery's rows published under its name."""
    target, source_id = _spec_head(spec_file)
    try:
        spec = load_spec(spec_file)
    except CopError as exc:  # one line per problem, each naming the spec file and the key
        reason = "; ".join(line.strip() for line in str(exc).splitlines())
        return _reject_unread(con, target, source_id, reason)
    try:
        provenance = read_microdata(con, spec, delivery_file(spec_file, store, spec.source_id))
    except CopError as exc:
        return _reject_unread(con, target, source_id, f"delivery cannot be read: {exc}", str(exc))
    return ReadOutcome(spec.source_id, True, provenance)


def _reject_unread(con, target: str, source_id: str, reason: str, error: str | None = None) -> ReadOutcome:
    con.execute(f"DROP TABLE IF EXISTS {tables.raw_delivery_table(target, source_id)}")
    withdraw_source(con, target, source_id, reason)
    return ReadOutcome(source_id, False, error=error or reason)


def _spec_head(spec_file: Path) -> tuple[str, str]:
    """The target and source_id a spec claims (find_specs found it by them), read without checking the rest."""
    head = load_yaml(Path(spec_file).read_text(encoding="utf-8")) or {}
    return str(head.get("target", "child_survey")), str(head["source_id"])


def harmonise_delivery(con: duckdb.DuckDBPyConnection, spec_file: Path) -> SourceResult | None:
    """Harmonise and audit a delivery that was read (None when its raw table is absent: its spec is invalid or its
    file could not be read, and read_delivery rejected it)."""
    return harmonise_deliveries(con, [spec_file])[_spec_head(spec_file)[1]]


def harmonise_deliveries(con: duckdb.DuckDBPyConnection, spec_files: list[Path]) -> dict[str, SourceResult | None]:
    """harmonise_delivery of several deliveries, their rows validated together (harmonise_sources): source_id ->
    result, None for a delivery that was not read."""
    heads = {_spec_head(f)[1]: f for f in spec_files}
    readable = {source_id: load_spec(f) for source_id, f in heads.items()
                if table_exists(con, tables.raw_delivery_table(_spec_head(f)[0], source_id))}
    results = harmonise_sources(con, list(readable.values()))
    return {source_id: results.get(source_id) for source_id in heads}


def staged_sources(con: duckdb.DuckDBPyConnection, target: str = "child_survey") -> list[str]:
    table = harmonised_sources()[target].table
    if not table_exists(con, table):
        return []
    return [s for (s,) in con.execute(f"SELECT DISTINCT source_id FROM {table} ORDER BY 1").fetchall()]


def withdraw_missing(con: duckdb.DuckDBPyConnection, specs: dict[str, Path], target: str = "child_survey"
                     ) -> list[str]:
    """Sources staged earlier, or rejected earlier, whose mapping spec is no longer in the mappings folder are taken
    out of staging and recorded as withdrawn (a rejected delivery whose spec the operator removed is no longer a
    rejection)."""
    known = set(staged_sources(con, target))
    if table_exists(con, tables.QUALITY_SOURCE_STATUS):
        known |= {s for (s,) in con.execute(f"""SELECT source_id FROM {tables.QUALITY_SOURCE_STATUS}
                                                WHERE target = ? AND status <> 'withdrawn'""", [target]).fetchall()}
    gone = sorted(s for s in known if s not in specs)
    for source_id in gone:
        withdraw_source(con, target, source_id, "no mapping spec for this source in this build", "withdrawn")
    return gone


def staged_audit(con: duckdb.DuckDBPyConnection, target: str = "child_survey",
                 sources: list[str] | None = None) -> dict:
    """What the check on staged survey rows reports: staged rows that fail the pandera model (must be none: the
    harmonisation only stages valid rows) among `sources` (default: every staged delivery; a build audits those it
    staged, the others passed when they were staged), and each delivery's verdict with its rejected rows per rule."""
    audited = [s for s in staged_sources(con, target) if sources is None or s in sources]
    failing = audit_staged(con, target, audited)["source_id"].value_counts().to_dict()
    has_status = table_exists(con, tables.QUALITY_SOURCE_STATUS)
    statuses = con.execute(f"""SELECT source_id, status, rows, accepted_rows, rejected_rows, coalesce(reasons, '')
                               FROM {tables.QUALITY_SOURCE_STATUS} WHERE target = ? ORDER BY source_id""",
                           [target]).fetchall() if has_status else []
    rules = con.execute(f"""SELECT source_id, rule, count(DISTINCT source_row) FROM {tables.QUALITY_REJECTED_ROWS}
                            GROUP BY 1, 2 ORDER BY 1, 3 DESC""").fetchall() if has_status else []
    per_rule: dict[str, dict[str, int]] = {}
    for source_id, rule, n in rules:
        per_rule.setdefault(source_id, {})[rule] = int(n)
    return {
        "audited": audited,
        "staged_rows_failing_the_model": {s: int(failing[s]) for s in audited if failing.get(s)},
        "accepted": [s for s, status, *_ in statuses if status == "accepted"],
        "rejected": {s: reasons for s, status, _, _, _, reasons in statuses if status != "accepted"},
        "rejected_rows_per_rule": per_rule,
    }
