"""The release's quality report (quality_report.parquet): what the build left out or held back, by source.

One long table, one row per finding, so that an analyst filters it rather than reads a document:

  item            source_id / rule                          count
  verdict         every source of the build, its status     rows delivered (survey deliveries; files: null)
  rows_rejected   a survey delivery, the rule broken         rows left out for that rule
  check           (none), the check's name                   null (passed says the outcome)
  cells_suppressed  a source, the CONF_STATUS reason          published cells with OBS_STATUS Q resting on it

A group value rests on every delivery of its SOURCE_ID ("a+b+c"): its suppressed cells count once for each, so the
column does not add up to the number of suppressed cells of the release (the manifest has that figure).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from indicators import tables
from indicators.tables import table_exists

COLUMNS = ["source", "source_id", "item", "status", "rule", "count", "passed", "detail"]
STRICT_STATUSES = ("rejected",)  # what `cop build --strict` fails on: a withdrawal is the operator's decision

# SDMX CL_CONF_STATUS reasons of a suppressed cell (schemas.observations)
CONF_REASONS = {"A": "primary suppression: too few respondents or too unreliable",
                "D": "secondary (complementary) suppression",
                "N": "not for publication: its group's coverage is too low"}


def quality_report(con: duckdb.DuckDBPyConnection, observations: pd.DataFrame, inputs: list[dict],
                   checks: list[dict]) -> pd.DataFrame:
    """The quality report of a release from the warehouse's quality tables, the release's observations, its input
    files (indicators.observations.release_inputs) and the latest outcome of every asset check
    (dicts: source, asset, check, passed)."""
    verdicts = _verdicts(con, inputs)
    kinds = dict(zip(verdicts["source_id"], verdicts["source"]))
    parts = [verdicts, _rejected_rows(con), _checks(checks), _suppressed_cells(observations, kinds)]
    # stacked as records: the parts leave different columns empty, which pandas' concat would have to guess at
    records = [record for part in parts for record in part.to_dict("records")]
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    return frame.astype({"count": "Int64", "passed": "boolean"})


def survey_statuses(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every survey delivery the warehouse knows with its verdict (accepted, rejected, withdrawn) and reasons."""
    if not table_exists(con, tables.QUALITY_SOURCE_STATUS):
        return pd.DataFrame(columns=["source", "source_id", "status", "count", "detail"])
    return con.execute(f"""SELECT 'survey_microdata' AS source, source_id, status, rows AS count,
                                  nullif(reasons, '') AS detail
                           FROM {tables.QUALITY_SOURCE_STATUS} ORDER BY source_id""").df()


def strict_failures(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(source_id, reasons) of every delivery rejected in the warehouse: what `--strict` turns into exit 1."""
    statuses = survey_statuses(con)
    rejected = statuses[statuses["status"].isin(STRICT_STATUSES)]
    return list(zip(rejected["source_id"], rejected["detail"].fillna("")))


def _verdicts(con, inputs: list[dict]) -> pd.DataFrame:
    survey = survey_statuses(con)
    files = pd.DataFrame([{"source": i["source"], "source_id": i["source_id"], "status": "accepted",
                           "count": None, "detail": None}
                          for i in inputs if i["source"] != "survey_microdata"],
                         columns=["source", "source_id", "status", "count", "detail"])
    verdicts = pd.concat([f for f in (files, survey) if not f.empty], ignore_index=True)
    return verdicts.assign(item="verdict")


def _rejected_rows(con) -> pd.DataFrame:
    if not table_exists(con, tables.QUALITY_REJECTED_ROWS):
        return pd.DataFrame()
    return con.execute(f"""SELECT 'survey_microdata' AS source, source_id, 'rows_rejected' AS item, rule,
                                  count(DISTINCT source_row) AS count
                           FROM {tables.QUALITY_REJECTED_ROWS} GROUP BY ALL ORDER BY source_id, count DESC, rule
                        """).df()


def _checks(checks: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"source": c["source"], "item": "check", "rule": c["check"], "passed": c["passed"],
                          "status": "passed" if c["passed"] else "failed" if c["passed"] is False else "not run",
                          "detail": f"check of {c['asset']}"}  # no run id: equal builds give equal files
                         for c in checks])


def _suppressed_cells(observations: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    suppressed = observations.loc[observations["OBS_STATUS"] == "Q", ["SOURCE_ID", "CONF_STATUS"]]
    if suppressed.empty:
        return pd.DataFrame()
    per_source = suppressed.assign(source_id=suppressed["SOURCE_ID"].str.split("+")).explode("source_id")
    counts = per_source.groupby(["source_id", "CONF_STATUS"]).size().reset_index(name="count")
    return pd.DataFrame({"source": counts["source_id"].map(kinds), "source_id": counts["source_id"], "item": "cells_suppressed",
                         "rule": counts["CONF_STATUS"], "count": counts["count"],
                         "detail": counts["CONF_STATUS"].map(CONF_REASONS)})
