"""Group values against a hand computation on a small constructed case (three countries, one group)."""

from __future__ import annotations

import math

import duckdb
import pandas as pd
import pytest

from indicators.aggregation import AGGREGATES_TABLE, EXCLUSIONS_TABLE, check_min_coverage, compute_aggregates
from indicators.errors import ConfigError
from indicators.registry import load_registry
from schemas.ict import ICT_VARIABLES

REGISTRY = {i.code: i for i in load_registry()}

# population (total, 0-14) per country and year; CCC is the biggest and reports least
POPULATION = {("AAA", 2019): (100, 30), ("BBB", 2019): (300, 60), ("CCC", 2019): (600, 10),
              ("AAA", 2020): (100, 30), ("BBB", 2020): (300, 60), ("CCC", 2020): (600, 10)}
INTERNET = {("AAA", 2019): 40.0, ("BBB", 2019): 70.0, ("CCC", 2019): 10.0,
            ("AAA", 2020): 50.0, ("BBB", 2020): 80.0}  # CCC 2020 missing: coverage 400 / 1000


def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for schema in ("reference", "staging", "estimates", "quality"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE reference.aggregate_groups AS SELECT 'G1' AS group_code, 'Group one' AS group_name, "
                "'test' AS classification, 'test' AS vintage, 'hand-made' AS source")
    con.execute("CREATE TABLE reference.group_members AS SELECT 'G1' AS group_code, unnest(['AAA','BBB','CCC']) AS iso3")
    rows = []
    for (area, year), (total, children) in POPULATION.items():
        row = {"ref_area": area, "year": year}
        for name in ICT_VARIABLES:
            row[name], row[f"{name}__source"] = None, None
        row.update(population_total=float(total), population_total__source="pop",
                   population_0_14=float(children), population_0_14__source="pop")
        if (area, year) in INTERNET:
            row.update(internet_users_pct=INTERNET[area, year], internet_users_pct__source="ict")
        rows.append(row)
    wide = pd.DataFrame(rows)
    con.register("wide", wide)
    con.execute("CREATE TABLE staging.ict_country_year_wide AS SELECT * FROM wide")
    con.execute("""CREATE TABLE staging.population_weights AS SELECT ref_area, year, population_total,
                   population_0_14, population_total__source, population_0_14__source FROM wide""")
    return con


def country_observations(rows: list[tuple]) -> str:
    """A VALUES query in the release layout from (indicator, area, year, sex, value, se, n, status, conf, unit
    [, urbanisation])."""
    def sql(x):
        return "NULL" if x is None else repr(x)

    values = ", ".join(
        f"('{r[0]}', '{r[1]}', {r[2]}, '{r[3]}', '_T', '{r[10] if len(r) > 10 else '_T'}', {sql(r[4])}, "
        f"'{r[9]}', {sql(r[5])}, NULL, NULL, NULL, {sql(r[6])}, '{r[7]}', '{r[8]}', NULL, 'src_{r[1]}')"
        for r in rows)
    return (f"SELECT * FROM (VALUES {values}) t(INDICATOR, REF_AREA, TIME_PERIOD, SEX, AGE, URBANISATION, "
            "OBS_VALUE, UNIT_MEASURE, STD_ERR, CI_LOWER, CI_UPPER, CV, N_UNWEIGHTED, OBS_STATUS, CONF_STATUS, "
            "COVERAGE, SOURCE_ID)")


SURVEY_ROWS = [
    # RB.1 (children, weighted by population 0-14): CCC's cell suppressed, so it is left out
    ("RB.1", "AAA", 2020, "_T", 20.0, 2.0, 100, "A", "F", "percent"),
    ("RB.1", "BBB", 2020, "_T", 40.0, 4.0, 200, "E", "F", "percent"),
    ("RB.1", "CCC", 2020, "_T", None, None, 10, "Q", "N", "percent"),
    ("RB.1", "AAA", 2020, "F", 25.0, 3.0, 50, "A", "F", "percent"),
    # IR.12 counts add up; IR.16 rates weighted by Internet users
    ("IR.12", "AAA", 2020, "_T", 1000, None, None, "A", "F", "count"),
    ("IR.12", "BBB", 2020, "_T", 2000, None, None, "A", "F", "count"),
    ("IR.16", "AAA", 2020, "_T", 10.0, None, None, "A", "F", "per_100k"),
    ("IR.16", "BBB", 2020, "_T", 20.0, None, None, "A", "F", "per_100k"),
    ("IR.16", "CCC", 2019, "_T", 30.0, None, None, "A", "F", "per_100k"),
]


def aggregates(min_coverage: float) -> pd.DataFrame:
    con = warehouse()
    indicators = [REGISTRY[c] for c in ("BC.1", "BC.10", "BC.11", "RB.1", "IR.12", "IR.16")]
    compute_aggregates(con, indicators, country_observations(SURVEY_ROWS), min_coverage=min_coverage)
    frame = con.execute(f"SELECT * FROM {AGGREGATES_TABLE}").df()
    frame.attrs["exclusions"] = con.execute(f"SELECT * FROM {EXCLUSIONS_TABLE}").df()
    return frame


def cell(frame: pd.DataFrame, code: str, year: int, sex: str = "_T") -> pd.Series:
    found = frame[(frame.INDICATOR == code) & (frame.TIME_PERIOD == year) & (frame.SEX == sex)]
    assert len(found) == 1, found
    return found.iloc[0]


def test_internet_users_population_weighted_with_coverage():
    frame = aggregates(0.5)
    full = cell(frame, "BC.1", 2019)
    # (40 x 100 + 70 x 300 + 10 x 600) / 1000 = 31.0, all members report
    assert full.OBS_VALUE == pytest.approx(31.0) and full.COVERAGE == pytest.approx(1.0)
    assert full.OBS_STATUS == "A" and full.REF_AREA == "G1" and full.SOURCE_ID == "ict"
    # 2020: CCC (600 of 1,000 people) has no value: coverage 0.4 < 0.5, withheld
    partial = cell(frame, "BC.1", 2020)
    assert partial.COVERAGE == pytest.approx(0.4)
    assert math.isnan(partial.OBS_VALUE) and partial.OBS_STATUS == "M"


def test_threshold_is_configurable_and_growth_is_of_the_group_level():
    frame = aggregates(0.3)
    partial = cell(frame, "BC.1", 2020)
    # (50 x 100 + 80 x 300) / 400 = 72.5 over the members that report
    assert partial.OBS_VALUE == pytest.approx(72.5) and partial.OBS_STATUS == "A"
    change = cell(frame, "BC.10", 2020)
    # growth of the group's level (72.5 - 31.0), with the weaker coverage of the two years
    assert change.OBS_VALUE == pytest.approx(41.5) and change.COVERAGE == pytest.approx(0.4)


def test_survey_weighted_mean_with_standard_error_and_flags():
    frame = aggregates(0.5)
    total = cell(frame, "RB.1", 2020)
    # weights are children 0-14: AAA 30, BBB 60; CCC (10) is suppressed, so coverage 90 / 100
    assert total.OBS_VALUE == pytest.approx(round((20 * 30 + 40 * 60) / 90, 1))
    assert total.COVERAGE == pytest.approx(0.9)
    se = math.sqrt(30 ** 2 * 2.0 ** 2 + 60 ** 2 * 4.0 ** 2) / 90  # independent samples
    assert total.STD_ERR == pytest.approx(se, abs=1e-3)
    assert total.CI_LOWER == pytest.approx(round((3000 / 90) - 1.959964 * se, 1))
    assert total.CI_UPPER == pytest.approx(round((3000 / 90) + 1.959964 * se, 1))
    assert total.N_UNWEIGHTED == 300
    assert total.OBS_STATUS == "E"  # BBB's value is flagged E, so the group value is too
    girls = cell(frame, "RB.1", 2020, "F")
    # only AAA has the girls' cell: 30 of 100 children -> coverage 0.3, withheld
    assert girls.COVERAGE == pytest.approx(0.3) and girls.OBS_STATUS == "M" and math.isnan(girls.OBS_VALUE)


def test_counts_sum_and_rates_weight_by_their_denominator():
    frame = aggregates(0.3)
    count = cell(frame, "IR.12", 2020)
    assert count.OBS_VALUE == 3000 and count.COVERAGE == pytest.approx(0.4)
    rate = cell(frame, "IR.16", 2020)
    # Internet users 2020: AAA 50, BBB 240 (CCC unknown): (10 x 50 + 20 x 240) / 290
    assert rate.OBS_VALUE == pytest.approx(round(5300 / 290, 1))


def test_coverage_of_a_rate_is_the_share_of_its_own_denominator():
    frame = aggregates(0.5)
    # 2019 Internet users: AAA 40, BBB 210, CCC 60; only CCC has an IR.16 value -> 60 / 310, withheld
    rate = cell(frame, "IR.16", 2019)
    assert rate.COVERAGE == pytest.approx(60 / 310) and rate.OBS_STATUS == "M"
    assert frame.attrs["exclusions"].empty  # every value had its weight


def test_value_without_weight_is_recorded_and_counts_still_add_up():
    con = warehouse()
    con.execute("DELETE FROM staging.population_weights WHERE ref_area = 'BBB' AND year = 2020")
    rows = SURVEY_ROWS + [("IR.15", "AAA", 2020, "_T", 5.0, None, None, "A", "F", "per_100k"),
                          ("IR.15", "BBB", 2020, "_T", 7.0, None, None, "A", "F", "per_100k")]
    compute_aggregates(con, [REGISTRY["IR.12"], REGISTRY["IR.15"]], country_observations(rows), min_coverage=0.0)
    excluded = con.execute(f"SELECT INDICATOR, REF_AREA, TIME_PERIOD FROM {EXCLUSIONS_TABLE}").fetchall()
    assert excluded == [("IR.15", "BBB", 2020)]  # a rate cannot be weighted without BBB's population
    values = dict(con.execute(f"SELECT INDICATOR, OBS_VALUE FROM {AGGREGATES_TABLE} WHERE TIME_PERIOD = 2020")
                  .fetchall())
    assert values["IR.15"] == 5.0
    # BBB's 2,000 reports still add up; coverage counts only the people known: AAA's 100 of 700
    assert values["IR.12"] == 3000
    coverage = con.execute(f"SELECT COVERAGE FROM {AGGREGATES_TABLE} WHERE INDICATOR = 'IR.12'").fetchone()[0]
    assert coverage == pytest.approx(100 / 700)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half"])
def test_min_coverage_must_be_a_share(bad):
    with pytest.raises((ConfigError, ValueError)):
        check_min_coverage(bad)


# ------------------------------------------------------------------------------------------------ gaps
def gap_rows(rows: list[tuple]) -> pd.DataFrame:
    from indicators.gaps import gaps_sql

    return duckdb.connect().execute(gaps_sql([REGISTRY["RB.1"]], country_observations(rows))).df()


def test_gender_parity_index_and_urban_rural_gap_by_hand():
    rows = [("RB.1", "AAA", 2020, s, v, 1.0, 100, st, "F", "percent")
            for s, v, st in (("_T", 30.0, "A"), ("F", 27.3, "A"), ("M", 32.5, "E"))]
    frame = gap_rows(rows)
    gpi = frame[frame.INDICATOR == "RB.1_GPI"].iloc[0]
    assert gpi.OBS_VALUE == round(27.3 / 32.5, 2) == 0.84 and gpi.UNIT_MEASURE == "ratio"
    assert gpi.OBS_STATUS == "E"  # the boys' cell is flagged
    assert (frame.INDICATOR == "RB.1_URG").sum() == 0  # no urban/rural cells, no gap


def test_urban_rural_gap_and_blank_cells():
    def row(sex, urbanisation, value, status="A", conf="F"):
        return ("RB.1", "AAA", 2020, sex, value, 1.0, 100, status, conf, "percent", urbanisation)

    frame = gap_rows([row("_T", "_T", 30.0), row("F", "_T", None, "Q", "N"), row("M", "_T", 31.0),
                      row("_T", "U", 41.25), row("_T", "R", 18.5)]).set_index("INDICATOR")
    assert frame.loc["RB.1_URG", "OBS_VALUE"] == pytest.approx(22.8)  # 41.25 - 18.5 = 22.75 -> 22.8 (1 decimal)
    assert frame.loc["RB.1_URG", "UNIT_MEASURE"] == "percentage_points"
    # the girls' cell is suppressed: the parity index is blank and says so
    assert math.isnan(frame.loc["RB.1_GPI", "OBS_VALUE"]) and frame.loc["RB.1_GPI", "OBS_STATUS"] == "M"


def test_gaps_are_derived_for_every_proportion_with_the_disaggregation():
    from indicators.gaps import derived_series

    series = derived_series(list(REGISTRY.values()))
    with_sex = [i.code for i in REGISTRY.values() if i.method == "proportion" and "sex" in i.disaggregations]
    assert sorted(s.base.code for s in series if s.kind == "gender_parity_index") == sorted(with_sex)
    assert all(s.code == f"{s.base.code}_URG" for s in series if s.kind == "urban_rural_gap")
