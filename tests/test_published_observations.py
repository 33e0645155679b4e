"""Every row of a published release keeps the publication rules, checked from the Parquet file itself:
- one rounding rule (decimal, ties away from zero) by the indicator's decimals, recomputed here with Python's
  decimal module from the warehouse's unrounded numbers: value and CI bounds to d decimals, SE to d + 1, CV
  (percent) to 1; N_UNWEIGHTED an integer column;
- CV in percent: CV = 100 x STD_ERR / |OBS_VALUE| for every row that has one (country cells, group values,
  gaps);
- status and confidentiality codes from CL_OBS_STATUS / CL_CONF_STATUS with their own meanings (no E for
  "use with caution"), each blank or flagged cell saying why;
- group values rest only on published country cells, of at least 3 countries, none of a survey estimate
  holding more than half the weight, and equal the weighted mean (or sum) of those cells; a partial total is
  marked E.
The sample build covers survey cells, gaps and group values; tests/test_real_data_build.py runs the same checks on
the real-data release."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from indicators.aggregation import CONTRIBUTIONS_TABLE, DEFAULT_MIN_COVERAGE
from indicators.observations import unrounded_observations_sql
from indicators.registry import load_registry
from indicators.release import published_decimals
from schemas.observations import CONF_STATUS, OBS_STATUS, ObservationModel

KEYS = ["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX", "AGE", "URBANISATION"]


def round_half_away(value: float, decimals: int) -> float:
    """By hand: the number as a decimal (12 places, as the warehouse's DECIMAL(38, 12)), ties away from zero."""
    if value is None or not np.isfinite(value):
        return np.nan
    exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-12), rounding=ROUND_HALF_UP)
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def read_release(release: Path, warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame, duckdb.DuckDBPyConnection]:
    published = pd.read_parquet(release / "observations.parquet")
    con = duckdb.connect(str(warehouse), read_only=True)
    unrounded = con.execute(unrounded_observations_sql(con)).df()
    return published, unrounded, con


def check_release(release: Path, warehouse: Path) -> dict[str, int]:
    """Run every check; returns counts of rows checked per rule (each check asserts on failure)."""
    published, unrounded, con = read_release(release, warehouse)
    registry = load_registry()
    decimals = published_decimals(registry)
    checked = {}
    try:
        ObservationModel.validate(published.astype({"N_UNWEIGHTED": "Int64"}), lazy=True)
        checked["rounding"] = check_rounding(published, unrounded, decimals)
        checked["integer_n"] = check_integer_n(release)
        checked["cv"] = check_cv(published, decimals)
        checked["codes"] = check_codes(published, con)
        checked["groups"] = check_group_values(published, unrounded, con, registry)
    finally:
        con.close()
    return checked


def check_rounding(published: pd.DataFrame, unrounded: pd.DataFrame, decimals: dict[str, int]) -> int:
    both = published.merge(unrounded, on=KEYS, suffixes=("", "_raw"), validate="one_to_one")
    assert len(both) == len(published) == len(unrounded)
    d = both["INDICATOR"].map(decimals)
    expected = {
        "OBS_VALUE": [round_half_away(v, k) for v, k in zip(both["OBS_VALUE_raw"], d)],
        "CI_LOWER": [round_half_away(v, k) for v, k in zip(both["CI_LOWER_raw"], d)],
        "CI_UPPER": [round_half_away(v, k) for v, k in zip(both["CI_UPPER_raw"], d)],
        "STD_ERR": [round_half_away(v, k + 1) for v, k in zip(both["STD_ERR_raw"], d)],
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(both["OBS_VALUE_raw"] != 0, 100 * both["STD_ERR_raw"] / both["OBS_VALUE_raw"].abs(), np.nan)
    cv = np.where(both["UNIT_MEASURE"] == "percentage_points", np.nan, cv)  # no CV for a difference
    expected["CV"] = [round_half_away(v, 1) for v in cv]
    for column, values in expected.items():
        ours = both[column].to_numpy(dtype=float)
        values = np.asarray(values, dtype=float)
        same = (ours == values) | (np.isnan(ours) & np.isnan(values))
        assert same.all(), both.loc[~same, KEYS + [column, f"{column}_raw" if column != "CV" else "STD_ERR_raw"]].head()
    return len(both)


def check_integer_n(release: Path) -> int:
    schema = pq.read_schema(release / "observations.parquet")
    assert str(schema.field("N_UNWEIGHTED").type) == "int64"
    return 1


def check_cv(published: pd.DataFrame, decimals: dict[str, int]) -> int:
    """CV in percent: within the rounding of SE (d + 1 decimals), value (d) and CV (1) of 100 x SE / |value|
    (not checkable where the value rounds to 0: the CV is computed from the unrounded value)."""
    rows = published[published["CV"].notna() & (published["OBS_VALUE"] != 0)]
    d = rows["INDICATOR"].map(decimals).to_numpy()
    value, se = rows["OBS_VALUE"].abs().to_numpy(), rows["STD_ERR"].to_numpy()
    half_v, half_se = 0.5 * 10.0 ** -d, 0.5 * 10.0 ** -(d + 1)
    slack = 0.05 + 100 * ((se + half_se) / np.maximum(value - half_v, 1e-300) - se / value) + 1e-9
    off = np.abs(rows["CV"].to_numpy() - 100 * se / value) > slack
    assert not off.any(), rows[off].head()
    # and no CV without the numbers it is made of
    assert published.loc[published["CV"].notna(), ["STD_ERR", "OBS_VALUE"]].notna().all(axis=None)
    return len(rows)


def check_codes(published: pd.DataFrame, con: duckdb.DuckDBPyConnection) -> int:
    groups = {g for (g,) in con.execute("SELECT group_code FROM reference.aggregate_groups").fetchall()}
    is_group = published["REF_AREA"].isin(groups)
    assert set(published["OBS_STATUS"]) <= set(OBS_STATUS) and set(published["CONF_STATUS"]) <= set(CONF_STATUS)
    # E is a partial group total, never "use with caution"; L a group value below the minimum coverage
    estimated = published["OBS_STATUS"] == "E"
    assert (is_group[estimated] & (published.loc[estimated, "COVERAGE"] < 1)).all()
    low_coverage = published["OBS_STATUS"] == "L"
    assert is_group[low_coverage].all() and (published.loc[low_coverage, "COVERAGE"] < DEFAULT_MIN_COVERAGE).all()
    # every flagged or blank cell says why
    explained = published["OBS_STATUS"].isin(["U", "E", "Q", "L", "O"])
    assert published.loc[explained, "COMMENT_OBS"].notna().all()
    # a plain A cell has no comment, but a questionnaire group value always states its respondents
    plain = published.loc[published["OBS_STATUS"] == "A", "COMMENT_OBS"].fillna("")
    respondents = plain.str.fullmatch(r"\d+ of \d+ invited countries responded \(\d+\.\d %\)(; \d+ answered)?")
    assert (plain.isin(["", "parity within the 95% CI"]) | (respondents & is_group[plain.index])).all()
    # suppression reasons match their confidentiality code
    conf = published.set_index("CONF_STATUS")["COMMENT_OBS"]
    for code, text in (("A", "countries<"), ("O", "one country holds"), ("D", "")):
        if code in conf.index:
            assert pd.Series(conf.loc[[code]]).str.contains(text, regex=False).all(), code
    return len(published)


def check_group_values(published: pd.DataFrame, unrounded: pd.DataFrame, con: duckdb.DuckDBPyConnection,
                       registry) -> int:
    """Group values of country cells (survey, incidents): at least 3 published member cells, none of a sample
    survey above half the weight, and the value recomputed from those cells."""
    methods = {i.code: i for i in registry if i.aggregation_method in ("weighted_mean", "sum")}
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'estimates' "
                         "AND table_name = 'group_contributions'").fetchone()[0]
    if not exists:
        return 0
    contributions = con.execute(f"SELECT * FROM {CONTRIBUTIONS_TABLE}").df()
    shown = unrounded[unrounded["INDICATOR"].isin(methods) & unrounded["OBS_VALUE"].notna()
                      & unrounded["REF_AREA"].isin(contributions["REF_AREA"].unique())]
    # the member cells behind each group value are published cells, with the same value
    member_keys = ["INDICATOR", "MEMBER", "TIME_PERIOD", "SEX", "AGE", "URBANISATION"]
    members = contributions.merge(published, left_on=member_keys, right_on=KEYS, suffixes=("", "_group"))
    assert len(members) == len(contributions)
    assert members["OBS_VALUE"].notna().all() and (members["CONF_STATUS"] == "F").all()
    raw = contributions.merge(unrounded, left_on=member_keys, right_on=KEYS, suffixes=("", "_group"))
    assert (raw["value"] == raw["OBS_VALUE"]).all()  # the member's own (unrounded) published value
    checked = 0
    by_cell = contributions.groupby(KEYS)
    for _, row in shown.iterrows():
        key = tuple(row[k] for k in KEYS)
        cell = by_cell.get_group(key)
        indicator = methods[row["INDICATOR"]]
        assert len(cell) >= indicator.min_countries, key
        if indicator.max_country_share is not None:
            assert cell["share_of_weight"].max() <= indicator.max_country_share + 1e-12, key
        if indicator.aggregation_method == "weighted_mean":
            expected = (cell["value"] * cell["value_weight"]).sum() / cell["value_weight"].sum()
        elif indicator.aggregation_method == "sum":
            expected = cell["value"].sum()
            assert (row["OBS_STATUS"] == "E") == (row["COVERAGE"] < 1 - 1e-9), key
        else:
            expected = cell["value"].mean()
        assert row["OBS_VALUE"] == pytest.approx(expected, rel=1e-12), key
        checked += 1
    return checked


def test_every_row_of_the_sample_release_keeps_the_publication_rules(full_sample_build):
    release, warehouse = full_sample_build
    checked = check_release(release, warehouse)
    print(checked)
    assert checked["rounding"] > 60_000 and checked["cv"] > 5_000
    assert checked["groups"] > 0  # some survey and incident group values are published from the sample
    # the questionnaire's group values state their respondents (29 entries x 2 rounds x the groups with answers)
    published = pd.read_parquet(release / "observations.parquet")
    stated = published["COMMENT_OBS"].fillna("").str.contains(r"^\d+ of \d+ invited countries responded")
    assert stated.sum() > 500 and set(published.loc[stated, "INDICATOR"].str[:2]) == {"NC", "SA"}


def test_sample_release_has_survey_cells_gaps_and_every_status_it_documents(full_sample_build):
    release, _ = full_sample_build
    published = pd.read_parquet(release / "observations.parquet")
    assert {"A", "U", "Q", "L", "E"} <= set(published["OBS_STATUS"])
    assert {"F", "N", "D", "A"} <= set(published["CONF_STATUS"])  # O (dominance): test_aggregation
    gaps = published[published["INDICATOR"].str.endswith("_GPI") & published["REF_AREA"].str.len().eq(3)
                     & published["OBS_VALUE"].notna()]
    assert len(gaps) > 500 and gaps["STD_ERR"].notna().all() and gaps["CV"].notna().all()
