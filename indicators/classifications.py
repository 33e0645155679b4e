"""Country classifications into the warehouse, and the groups every aggregation reads.

Five maintained files in data/reference (countries, M49 regions, ITU regions, development status, World Bank
income groups; each with a YAML source note beside it) are validated with schemas.classifications and written to
reference.<name>. From them come reference.aggregate_groups (one row per group, with the classification, its
vintage and source, taken from the source notes so the warehouse says what the files say) and
reference.group_members (unique group_code, iso3 pairs). All files are validated before anything is written, so a
broken file never leaves the warehouse with half a classification.

countries.csv is generated from pycountry (ISO 3166-1) and the economy-code exceptions; run
`python -m indicators.classifications` to regenerate it after a pycountry upgrade (a test fails while it is stale).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pycountry

from indicators.files import load_yaml
from indicators.errors import InputError
from indicators.tables import REFERENCE_AGGREGATE_GROUPS, REFERENCE_CLASSIFICATIONS, REFERENCE_GROUP_MEMBERS
from indicators.warehouse import replace_table
from schemas.classifications import (ITU_REGIONS, M49_INTERMEDIATE, M49_REGIONS, M49_SUBREGIONS, MODELS,
                                     WB_INCOME_GROUPS, classification_violations)
from schemas.ict import REFERENCE_DIR

# The World Bank publishes the Channel Islands as one economy (CHI) while ISO 3166-1 has Guernsey and Jersey:
# WLD leaves CHI out so their people are not counted twice (see countries.yaml).
NOT_IN_WORLD = {"CHI"}
GROUP_COLUMNS = ["group_code", "group_name", "classification", "vintage", "source"]


def countries_table(reference_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """countries.csv as it should be: every ISO 3166-1 entry of pycountry (common name where pycountry has one)
    plus the economy codes of country_code_exceptions.csv that ISO lacks, with un_member from
    un_member_states.csv. Sorted by iso3, all columns text."""
    un = set(_csv(reference_dir / "un_member_states.csv")["iso3"])
    rows = [{"iso3": c.alpha_3, "iso2": c.alpha_2, "m49": c.numeric,
             "name": getattr(c, "common_name", None) or c.name} for c in pycountry.countries]
    exceptions = _csv(reference_dir / "country_code_exceptions.csv")
    iso = {r["iso3"] for r in rows}
    for row in exceptions[exceptions["code"] == exceptions["iso3"]].itertuples(index=False):
        if row.iso3 not in iso:
            rows.append({"iso3": row.iso3, "iso2": "", "m49": "", "name": row.name})
    table = pd.DataFrame(rows).sort_values("iso3", ignore_index=True)
    table["un_member"] = table["iso3"].isin(un).map({True: "true", False: "false"})
    return table


def write_countries_csv(reference_dir: Path = REFERENCE_DIR) -> Path:
    path = reference_dir / "countries.csv"
    countries_table(reference_dir).to_csv(path, index=False, lineterminator="\n")
    return path


def read_classifications(reference_dir: Path = REFERENCE_DIR) -> dict[str, pd.DataFrame]:
    """The five classification files, validated together: InputError lists every broken rule of every file."""
    tables, violations = {}, []
    for name in MODELS:
        path = reference_dir / f"{name}.csv"
        if not path.exists():
            raise InputError.single(path, "classification file is missing")
        tables[name] = _csv(path)
        violations += classification_violations(name, tables[name], _shown_path(path))
    if violations:
        raise InputError(violations)
    return tables


def group_tables(tables: dict[str, pd.DataFrame], notes: dict[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(aggregate_groups, group_members) from validated classification tables and the `groups` entries of the
    source notes (classification -> vintage, source)."""
    groups: list[tuple[str, str, str]] = []  # code, name, classification
    members: list[tuple[str, str]] = []

    def add(code: str, name: str, classification: str, iso3: pd.Series) -> None:
        groups.append((code, name, classification))
        members.extend((code, c) for c in iso3)

    countries = tables["countries"]
    add("WLD", "World", "world", countries.loc[~countries["iso3"].isin(NOT_IN_WORLD), "iso3"])
    itu = tables["itu_regions"]
    for code, name in ITU_REGIONS.items():
        add(code, name, "itu_region", itu.loc[itu["itu_region_code"] == code, "iso3"])
    m49 = tables["m49_regions"]
    levels = [("region_code", "m49_region", {c: n for c, n in M49_REGIONS.items()}),
              ("subregion_code", "m49_subregion", {c: n for c, (n, _) in M49_SUBREGIONS.items()}),
              ("intermediate_code", "m49_intermediate", {c: n for c, (n, _) in M49_INTERMEDIATE.items()})]
    for column, classification, names in levels:
        for code in sorted(set(m49[column]) - {""}):
            add(f"M49_{code}", names[code], classification, m49.loc[m49[column] == code, "iso3"])
    status = tables["development_status"]
    for flag, code, name in [("ldc", "LDC", "Least developed countries"),
                             ("lldc", "LLDC", "Landlocked developing countries"),
                             ("sids", "SIDS", "Small island developing States")]:
        add(code, name, f"un_{flag}", status.loc[status[flag] == "true", "iso3"])
    for value, code, name in [("developed", "DEVELOPED", "Developed"), ("developing", "DEVELOPING", "Developing")]:
        add(code, name, "m49_developed_developing", status.loc[status["developed"] == value, "iso3"])
    income = tables["wb_income_groups"]
    for code, name in WB_INCOME_GROUPS.items():
        add(f"WB_{code}", name, "wb_income", income.loc[income["income_group_code"] == code, "iso3"])

    described = {}
    for note in notes.values():
        described.update(note.get("groups", {}))
    missing = sorted({c for _, _, c in groups} - set(described))
    if missing:
        raise InputError.single(REFERENCE_DIR, f"no vintage and source for classification(s) {', '.join(missing)}"
                                               " in the `groups` entry of a source note")
    aggregate_groups = pd.DataFrame(
        [(code, name, c, str(described[c]["vintage"]), str(described[c]["source"])) for code, name, c in groups],
        columns=GROUP_COLUMNS)
    group_members = (pd.DataFrame(members, columns=["group_code", "iso3"]).drop_duplicates()
                     .sort_values(["group_code", "iso3"], ignore_index=True))
    return aggregate_groups, group_members


def load_classifications(con: duckdb.DuckDBPyConnection, reference_dir: Path = REFERENCE_DIR) -> dict[str, int]:
    """Validate the classification files and write reference.countries, .m49_regions, .itu_regions,
    .development_status, .wb_income_groups, .aggregate_groups and .group_members; return their row counts.
    Nothing is written when a file breaks a rule (InputError names file, row, column and rule)."""
    tables = read_classifications(reference_dir)
    notes = {name: _note(reference_dir / f"{name}.yaml") for name in MODELS}
    groups, members = group_tables(tables, notes)
    out = {**{REFERENCE_CLASSIFICATIONS[name]: frame for name, frame in tables.items()},
           REFERENCE_AGGREGATE_GROUPS: groups, REFERENCE_GROUP_MEMBERS: members}
    con.execute("BEGIN TRANSACTION")
    try:
        counts = {name: replace_table(con, name, frame) for name, frame in out.items()}
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return counts


def _csv(path: Path) -> pd.DataFrame:
    # dtype=str and keep_default_na=False: Namibia's iso2 is "NA" and codes keep their leading zeros
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _note(path: Path) -> dict:
    if not path.exists():
        raise InputError.single(path, "the source note of a classification file is missing")
    return load_yaml(path.read_text(encoding="utf-8")) or {}


def _shown_path(path: Path) -> str:
    """The path as a maintainer knows it (data/reference/x.csv), or as given when it is elsewhere."""
    try:
        return str(path.resolve().relative_to(REFERENCE_DIR.parents[1]))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    print(f"wrote {write_countries_csv()}")
