"""The public DuckDB of a release (cop_indicators.duckdb): what analysts open. Built from the release's own files
(observations.parquet, the catalogue) and the reference classifications; it never reads the warehouse.

Tables: observations, catalogue, areas, aggregate_groups, group_members, sources, and the code lists OBS_STATUS,
CONF_STATUS, UNIT_MEASURE, SEX, AGE, URBANISATION. Views (PUBLIC_VIEWS) answer the usual questions with labels:
observations_labelled, latest, compare, regional, country_profile, gaps. Every table, view and column carries a
comment (COMMENT ON), so `SELECT * FROM duckdb_columns()` documents the file; docs/analysts.md is the guide.

Identifiers are case-insensitive in DuckDB: observations.REF_AREA and areas.ref_area are the same name, so every
column in the views' SQL is qualified by its table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from indicators.tables import quote_identifier, sql_string
from indicators.areas import AREA_COLUMNS
from indicators.catalogue import CATALOGUE_COLUMN_DESCRIPTIONS
if TYPE_CHECKING:
    from indicators.sources import ReleaseTable
from schemas.observations import (CONF_STATUS, OBS_STATUS, OBSERVATION_COLUMN_DESCRIPTIONS, OBSERVATION_COLUMNS,
                                  SEX, UNIT_MEASURE, URBANISATION, age_label)

SOURCE_COLUMNS = {
    "source_id": "the SOURCE_ID of the observations resting on this input ('+' joins several)",
    "kind": "ict (country-year ICT and population series), incidents (incident reports), microdata (a survey "
            "delivery) or questionnaire (responses to the COP national questionnaire)",
    "citation": "the short source line printed under a chart or table of this input's series",
    "description": "what the file holds, where it comes from and its quirks",
    "licence": "the licence of the input",
    "vintage": "the edition or release date of the input",
    "synthetic": "a generated sample, not real data: every observation resting on it has SYNTHETIC true",
    "sha256": "SHA-256 of the input file as read",
}


def _citation(record: dict) -> str:
    if record.get("citation"):
        return str(record["citation"])
    if record["kind"] == "microdata":
        return (f"SYNTHETIC child survey sample {record['source_id']} (generated; not real data)"
                if record.get("synthetic") else f"Child survey delivery {record['source_id']}")
    return str(record.get("description") or record["source_id"])


def sources_frame(inputs: list[dict]) -> pd.DataFrame:
    """One row per input file of the build, with the citation charts and the report print."""
    rows = []
    for record in inputs:
        kind = record.get("kind") or ("microdata" if record.get("layout") == "microdata"
                                      else "incidents" if "reporting_org" in record else "ict")
        record = {**record, "kind": kind}
        rows.append({"source_id": record["source_id"], "kind": kind, "citation": _citation(record),
                     "description": record.get("description") or None, "licence": record.get("licence") or None,
                     "vintage": record.get("vintage") or None, "synthetic": bool(record.get("synthetic")),
                     "sha256": record.get("sha256")})
    return pd.DataFrame(rows, columns=list(SOURCE_COLUMNS))


AGGREGATE_GROUP_COLUMNS = {
    "group_code": "REF_AREA code of the group's values (WLD, ITU_AFR, M49_002, LDC, DEVELOPED, WB_HIC, ...)",
    "group_name": "English name of the group",
    "classification": "the classification the group belongs to (world, itu_region, m49_region, m49_subregion, "
                      "m49_intermediate, un_ldc, un_lldc, un_sids, m49_developed_developing, wb_income)",
    "vintage": "edition of the classification the membership follows",
    "source": "who publishes the classification",
}
GROUP_MEMBER_COLUMNS = {
    "group_code": "REF_AREA code of the group (aggregate_groups.group_code)",
    "iso3": "ISO 3166-1 alpha-3 code of a member country (areas.ref_area)",
}

# The code lists, as tables: code -> label (and, for the status lists, what this release uses the code for)
CODE_LIST_DESCRIPTIONS = {
    "OBS_STATUS": "Code list of OBS_STATUS (observation status, a subset of SDMX CL_OBS_STATUS 2.2): the SDMX "
                  "label and what this release uses each code for",
    "CONF_STATUS": "Code list of CONF_STATUS (confidentiality status, a subset of SDMX CL_CONF_STATUS 1.2): the "
                   "SDMX label and what this release uses each code for",
    "UNIT_MEASURE": "Code list of UNIT_MEASURE (unit of OBS_VALUE, STD_ERR and the interval bounds)",
    "SEX": "Code list of SEX",
    "AGE": "Code list of AGE: _T and every age band of this release's observations",
    "URBANISATION": "Code list of URBANISATION (the area type children live in)",
}
CODE_LIST_COLUMNS = {
    "code": "the code, as in the observations column of the same name",
    "label": "English label of the code",
    "used_for": "when this release uses the code",
}
GAP_LABELS = {"GPI": "gender parity index (F/M)", "URG": "urban-rural difference (percentage points)"}

# Descriptions of the views' columns that are not observation columns; a view-specific entry wins
VIEW_COLUMN_DESCRIPTIONS = {
    "indicator_name": "indicator name (catalogue.name)",
    "group_name": "indicator group (catalogue.group_name)",
    "area_name": "English name of the country or group (areas.name)",
    "area_type": "'country' or 'group' (areas.type)",
    "classification": "the classification the group belongs to (areas.classification: world, itu_region, "
                      "m49_region, ..., wb_income)",
    "unit_label": "label of UNIT_MEASURE (code list UNIT_MEASURE)",
    "sex_label": "label of SEX (code list SEX)",
    "age_label": "label of AGE (code list AGE)",
    "urbanisation_label": "label of URBANISATION (code list URBANISATION)",
    "obs_status_label": "SDMX label of OBS_STATUS (code list OBS_STATUS)",
    "conf_status_label": "SDMX label of CONF_STATUS (code list CONF_STATUS)",
    "itu_region": "REF_AREA code of the country's ITU region (areas.itu_region), e.g. ITU_AFR",
    "itu_region_name": "name of the country's ITU region",
    "income_group": "REF_AREA code of the country's World Bank income group (areas.income_group), e.g. WB_LMC",
    "rank": "1 = the highest OBS_VALUE among the countries with a value for the same INDICATOR, TIME_PERIOD, SEX, "
            "AGE and URBANISATION; ties share a rank (SQL rank()); null for a blank cell. Higher is not always "
            "better: read the indicator's definition",
    "n_ranked": "how many countries have a value for the same INDICATOR, TIME_PERIOD, SEX, AGE and URBANISATION",
    "region_value": "OBS_VALUE of the country's ITU region for the same indicator and TIME_PERIOD (totals); null "
                    "when blank or absent (region_status says why)",
    "region_status": "OBS_STATUS of that ITU region value; null when the region has no row",
    "world_value": "OBS_VALUE of the world (WLD) for the same indicator and TIME_PERIOD (totals); null when "
                   "blank or absent",
    "world_status": "OBS_STATUS of that world value; null when the world has no row",
    "base_indicator": "the survey indicator the gap is derived from (e.g. PA.3 for PA.3_GPI)",
    "gap": "GPI (gender parity index, girls / boys, 1 = parity) or URG (urban minus rural, percentage points, "
           "0 = parity)",
    "gap_label": "'gender parity index (F/M)' or 'urban-rural difference (percentage points)'",
}
VIEW_SPECIFIC_DESCRIPTIONS = {
    ("compare", "REF_AREA"): "ISO 3166-1 alpha-3 code of the country (or XKX, CHI); groups are in the regional view",
    ("regional", "REF_AREA"): "code of the group (WLD, ITU_AFR, M49_002, LDC, WB_HIC, ...): aggregate_groups",
    ("country_profile", "REF_AREA"): "ISO 3166-1 alpha-3 code of the country (or XKX, CHI)",
    ("latest", "TIME_PERIOD"): "the latest year (survey wave) with a published value for this indicator, area "
                               "and disaggregation",
    ("country_profile", "TIME_PERIOD"): "the latest year (survey wave) with a published total value for this "
                                        "country and indicator",
}

_OBSERVATIONS = ", ".join(f"o.{c}" for c in OBSERVATION_COLUMNS)
_GAP_CASE = " ".join(f"WHEN '{code}' THEN '{label}'" for code, label in GAP_LABELS.items())
_GAP_PATTERN = "_(" + "|".join(GAP_LABELS) + ")$"
_CELL = "o.INDICATOR, o.TIME_PERIOD, o.SEX, o.AGE, o.URBANISATION"

# name -> (description, SQL); created in this order (a view may read an earlier one)
PUBLIC_VIEWS = {
    "observations_labelled": (
        "Every observation with the names and labels of its codes: indicator, group, area, unit, SEX, AGE, "
        "URBANISATION, OBS_STATUS and CONF_STATUS",
        f"""SELECT {_OBSERVATIONS}, c.name AS indicator_name, c.group_name, a.name AS area_name, a.type AS area_type,
               u.label AS unit_label, s.label AS sex_label, g.label AS age_label,
               r.label AS urbanisation_label, os.label AS obs_status_label, cs.label AS conf_status_label
        FROM observations o
        LEFT JOIN catalogue c ON c.code = o.INDICATOR
        LEFT JOIN areas a ON a.ref_area = o.REF_AREA
        LEFT JOIN UNIT_MEASURE u ON u.code = o.UNIT_MEASURE
        LEFT JOIN SEX s ON s.code = o.SEX
        LEFT JOIN AGE g ON g.code = o.AGE
        LEFT JOIN URBANISATION r ON r.code = o.URBANISATION
        LEFT JOIN OBS_STATUS os ON os.code = o.OBS_STATUS
        LEFT JOIN CONF_STATUS cs ON cs.code = o.CONF_STATUS
        ORDER BY o.INDICATOR, o.REF_AREA, o.TIME_PERIOD, o.SEX, o.AGE, o.URBANISATION"""),
    "latest": (
        "One row per INDICATOR, REF_AREA, SEX, AGE and URBANISATION: the observation of the latest TIME_PERIOD "
        "with a published value (OBS_VALUE not null); series with no value at all are absent. The year differs "
        "between areas: compare TIME_PERIOD before comparing values",
        f"""SELECT {_OBSERVATIONS}
        FROM observations o
        WHERE o.OBS_VALUE IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY o.INDICATOR, o.REF_AREA, o.SEX, o.AGE, o.URBANISATION
                                   ORDER BY o.TIME_PERIOD DESC) = 1
        ORDER BY o.INDICATOR, o.REF_AREA, o.SEX, o.AGE, o.URBANISATION"""),
    "compare": (
        "Countries side by side (no group values), every period and disaggregation, with names, ITU region, "
        "income group and each value's rank among the countries with a value for the same indicator, period "
        "and disaggregation (1 = highest)",
        f"""SELECT o.INDICATOR, c.name AS indicator_name, c.group_name, o.UNIT_MEASURE, o.TIME_PERIOD, o.SEX, o.AGE,
               o.URBANISATION, o.REF_AREA, a.name AS area_name, a.itu_region, a.itu_region_name, a.income_group,
               o.OBS_VALUE, o.STD_ERR, o.CI_LOWER, o.CI_UPPER, o.CV, o.N_UNWEIGHTED, o.OBS_STATUS, o.CONF_STATUS,
               o.COMMENT_OBS, o.SYNTHETIC, o.SOURCE_ID,
               CASE WHEN o.OBS_VALUE IS NOT NULL
                    THEN rank() OVER (PARTITION BY {_CELL} ORDER BY o.OBS_VALUE DESC NULLS LAST) END AS rank,
               count(o.OBS_VALUE) OVER (PARTITION BY {_CELL}) AS n_ranked
        FROM observations o
        JOIN areas a ON a.ref_area = o.REF_AREA AND a.type = 'country'
        LEFT JOIN catalogue c ON c.code = o.INDICATOR
        ORDER BY o.INDICATOR, o.TIME_PERIOD, o.SEX, o.AGE, o.URBANISATION, rank NULLS LAST, o.REF_AREA"""),
    "regional": (
        "Group values only (world, ITU and M49 regions, LDC/LLDC/SIDS, developed/developing, income groups), "
        "with the group's name and classification; COVERAGE is the share of the group's population with data",
        f"""SELECT {_OBSERVATIONS}, a.name AS area_name, a.classification
        FROM observations o
        JOIN areas a ON a.ref_area = o.REF_AREA AND a.type = 'group'
        ORDER BY o.INDICATOR, o.REF_AREA, o.TIME_PERIOD, o.SEX, o.AGE, o.URBANISATION"""),
    "country_profile": (
        "One row per country and indicator: the latest total (SEX, AGE, URBANISATION all _T) with a value, "
        "beside the value of the country's ITU region and of the world for the same indicator and period",
        """WITH totals AS (
            SELECT * FROM observations o WHERE o.SEX = '_T' AND o.AGE = '_T' AND o.URBANISATION = '_T'),
        latest_total AS (
            SELECT t.* FROM totals t
            JOIN areas a ON a.ref_area = t.REF_AREA AND a.type = 'country'
            WHERE t.OBS_VALUE IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY t.INDICATOR, t.REF_AREA ORDER BY t.TIME_PERIOD DESC) = 1)
        SELECT l.REF_AREA, a.name AS area_name, l.INDICATOR, c.name AS indicator_name, c.group_name,
               l.UNIT_MEASURE, l.TIME_PERIOD, l.OBS_VALUE, l.CI_LOWER, l.CI_UPPER, l.OBS_STATUS, l.CONF_STATUS,
               l.COMMENT_OBS, l.SYNTHETIC, a.itu_region, a.itu_region_name,
               r.OBS_VALUE AS region_value, r.OBS_STATUS AS region_status,
               w.OBS_VALUE AS world_value, w.OBS_STATUS AS world_status
        FROM latest_total l
        JOIN areas a ON a.ref_area = l.REF_AREA
        LEFT JOIN catalogue c ON c.code = l.INDICATOR
        LEFT JOIN totals r ON r.INDICATOR = l.INDICATOR AND r.TIME_PERIOD = l.TIME_PERIOD
                          AND r.REF_AREA = a.itu_region
        LEFT JOIN totals w ON w.INDICATOR = l.INDICATOR AND w.TIME_PERIOD = l.TIME_PERIOD AND w.REF_AREA = 'WLD'
        ORDER BY l.REF_AREA, l.INDICATOR"""),
    "gaps": (
        "The derived gap series: gender parity index <code>_GPI (girls / boys; 1 = parity) and urban-rural "
        "difference <code>_URG (urban - rural, percentage points; 0 = parity), for countries and groups, with "
        "the base indicator they come from",
        f"""SELECT o.INDICATOR, regexp_replace(o.INDICATOR, '{_GAP_PATTERN}', '') AS base_indicator,
               regexp_extract(o.INDICATOR, '{_GAP_PATTERN}', 1) AS gap,
               CASE regexp_extract(o.INDICATOR, '{_GAP_PATTERN}', 1) {_GAP_CASE} END AS gap_label,
               o.REF_AREA, a.name AS area_name, a.type AS area_type, o.TIME_PERIOD, o.OBS_VALUE, o.STD_ERR,
               o.CI_LOWER, o.CI_UPPER, o.OBS_STATUS, o.CONF_STATUS, o.COMMENT_OBS, o.SYNTHETIC
        FROM observations o
        LEFT JOIN areas a ON a.ref_area = o.REF_AREA
        WHERE regexp_matches(o.INDICATOR, '{_GAP_PATTERN}')
        ORDER BY o.INDICATOR, o.REF_AREA, o.TIME_PERIOD"""),
}
TABLE_DESCRIPTIONS = {
    "observations": "COP indicators, long SDMX-shaped layout: one row per indicator, area (country or group), "
                    "year and disaggregation, blank cells included with the reason (OBS_STATUS, CONF_STATUS, "
                    "COMMENT_OBS). Release {release_id}",
    "catalogue": "Indicator definitions, generated from the registry, one row per indicator and derived gap "
                 "series, with where this release's values come from (data_origin)",
    "areas": "Every REF_AREA: countries with their ITU, M49 and income groups and UN LDC/LLDC/SIDS status, and "
             "the groups of the group values",
    "aggregate_groups": "Groups of the group values (REF_AREA codes such as WLD, ITU_AFR, LDC, WB_HIC) with "
                        "classification, vintage and source",
    "group_members": "Which countries make up each group (group_code, iso3)",
    "sources": "The input files of this release, with citation, licence, vintage and whether they are synthetic",
    **CODE_LIST_DESCRIPTIONS,
}


def code_list_frames(ages: list[str]) -> dict[str, pd.DataFrame]:
    """The code lists as tables. AGE holds _T and the given codes (those of the observations), each labelled
    from its pattern (an unknown pattern raises ValueError naming the code)."""
    def status(codes: dict[str, tuple[str, str]]) -> pd.DataFrame:
        return pd.DataFrame([(c, label, use) for c, (label, use) in codes.items()],
                            columns=["code", "label", "used_for"])

    def labels(codes: dict[str, str]) -> pd.DataFrame:
        return pd.DataFrame(list(codes.items()), columns=["code", "label"])

    age_codes = ["_T"] + sorted(set(ages) - {"_T"}, key=_age_order)
    return {"OBS_STATUS": status(OBS_STATUS), "CONF_STATUS": status(CONF_STATUS),
            "UNIT_MEASURE": labels(UNIT_MEASURE), "SEX": labels(SEX),
            "AGE": labels({code: age_label(code) for code in age_codes}), "URBANISATION": labels(URBANISATION)}


def _age_order(code: str) -> tuple[int, str]:
    """Age bands from the youngest: by the first number in the code."""
    digits = "".join(ch if ch.isdigit() else " " for ch in code).split()
    return (int(digits[0]) if digits else -1, code)


def column_descriptions(relation: str) -> dict[str, str]:
    """Column -> description for a table or view of the public database (columns it does not describe are
    reported by write_public_database as an error)."""
    tables = {"observations": OBSERVATION_COLUMN_DESCRIPTIONS, "catalogue": CATALOGUE_COLUMN_DESCRIPTIONS,
              "areas": AREA_COLUMNS, "aggregate_groups": AGGREGATE_GROUP_COLUMNS,
              "group_members": GROUP_MEMBER_COLUMNS, "sources": SOURCE_COLUMNS,
              **{name: CODE_LIST_COLUMNS for name in CODE_LIST_DESCRIPTIONS}}
    if relation in tables:
        return dict(tables[relation])
    if relation not in PUBLIC_VIEWS:
        raise KeyError(f"{relation}: no table or view of the public database")
    general = {**OBSERVATION_COLUMN_DESCRIPTIONS, **VIEW_COLUMN_DESCRIPTIONS}
    return {**general, **{column: text for (view, column), text in VIEW_SPECIFIC_DESCRIPTIONS.items()
                          if view == relation}}


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """A text column holding only nulls would become DuckDB's NULL type: make it VARCHAR."""
    empty = [c for c in frame.columns if frame[c].dtype == object and frame[c].isna().all()]
    return frame.astype({c: "string" for c in empty})


def write_public_database(path: Path, observations_parquet: Path, catalogue: pd.DataFrame, areas: pd.DataFrame,
                          groups: dict[str, pd.DataFrame], sources: pd.DataFrame, release_id: str,
                          source_tables: tuple[tuple[ReleaseTable, pd.DataFrame], ...] = ()) -> None:
    """Write cop_indicators.duckdb: the tables, the code lists, the views of PUBLIC_VIEWS, the tables sources add
    to a release (`source_tables`, e.g. roadmap_gaps) and a comment on every table, view and column. A column with
    no description is an error (so a new column cannot go undocumented)."""
    public = duckdb.connect(str(path))
    try:
        public.execute(f"CREATE TABLE observations AS SELECT * FROM read_parquet('{observations_parquet}')")
        ages = [row[0] for row in public.execute("SELECT DISTINCT AGE FROM observations").fetchall()]
        try:
            code_lists = code_list_frames(ages)
        except ValueError as error:
            raise ValueError(f"{observations_parquet}, column AGE: {error}") from None
        frames = {**groups, "catalogue": catalogue, "areas": areas, "sources": sources, **code_lists,
                  **{table.name: frame for table, frame in source_tables}}
        for name, frame in frames.items():
            public.register("_frame", _typed(frame))
            public.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
            public.unregister("_frame")
        for name, (_, sql) in PUBLIC_VIEWS.items():
            public.execute(f"CREATE VIEW {name} AS {sql}")
        described = {**TABLE_DESCRIPTIONS, **{table.name: table.description for table, _ in source_tables}}
        descriptions = {**{name: described[name].format(release_id=release_id)
                           for name in ["observations", *frames]},
                        **{name: text for name, (text, _) in PUBLIC_VIEWS.items()}}
        _comment(public, descriptions, {table.name: table.columns for table, _ in source_tables})
    finally:
        public.close()


def _comment(public: duckdb.DuckDBPyConnection, descriptions: dict[str, str],
             source_columns: dict[str, dict[str, str]]) -> None:
    undescribed = []
    for name, text in descriptions.items():
        kind = "VIEW" if name in PUBLIC_VIEWS else "TABLE"
        public.execute(f"COMMENT ON {kind} {name} IS {sql_string(text)}")
        columns = source_columns[name] if name in source_columns else column_descriptions(name)
        present = [row[0] for row in public.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [name]).fetchall()]
        for column in present:
            if column not in columns:
                undescribed.append(f"{name}.{column}")
                continue
            public.execute(f'COMMENT ON COLUMN {name}.{quote_identifier(column)} IS {sql_string(columns[column])}')
    if undescribed:
        raise ValueError("public database: no description for column(s) " + ", ".join(undescribed) +
                         " (add them to the column descriptions of indicators/public_database.py or the module "
                         "that defines the table's columns)")
