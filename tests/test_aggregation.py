"""Group values against a hand computation on small constructed cases (four countries, one group): weights of
the cell's own population, coverage, the minimum number of countries, dominance, partial totals, suppressed cells
left out, and the gaps of group values with the covariance of their two cells."""

from __future__ import annotations

import dataclasses
import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.aggregation import (AGGREGATES_TABLE, CONTRIBUTIONS_TABLE, EXCLUSIONS_TABLE, audit_aggregates,
                                    check_min_coverage, compute_aggregates)
from indicators.errors import ConfigError
from indicators.gaps import GAPS_TABLE, compute_group_gaps
from indicators.registry import load_registry
from schemas.ict import ICT_VARIABLES

REGISTRY = {i.code: i for i in load_registry()}
Z = 1.959963984540054

# population (total, 0-14) per country, the same in every year; CCC is the biggest and reports least
POPULATION = {"AAA": (100, 30), "BBB": (300, 60), "CCC": (600, 10), "DDD": (200, 40)}
INTERNET = {("AAA", 2019): 40.0, ("BBB", 2019): 70.0, ("CCC", 2019): 10.0, ("DDD", 2019): 50.0,
            ("AAA", 2020): 50.0, ("BBB", 2020): 80.0, ("DDD", 2020): 60.0,  # CCC missing: coverage 600 / 1200
            ("AAA", 2021): 55.0, ("BBB", 2021): 85.0}  # two countries: coverage 400 / 1200


def warehouse(members: dict[str, tuple[int, int]] = POPULATION) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for schema in ("reference", "staging", "estimates", "quality"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE reference.aggregate_groups AS SELECT 'G1' AS group_code, 'Group one' AS group_name, "
                "'test' AS classification, 'test' AS vintage, 'hand-made' AS source")
    codes = ", ".join(f"'{c}'" for c in members)
    con.execute(f"CREATE TABLE reference.group_members AS SELECT 'G1' AS group_code, unnest([{codes}]) AS iso3")
    rows = []
    for area, (total, children) in members.items():
        for year in (2019, 2020, 2021):
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


def obs(indicator, area, year, value, *, sex="_T", urbanisation="_T", age="_T", se=None, n=None, status="A",
        conf="F", unit="percent", share=None, covariance=None) -> dict:
    return {"INDICATOR": indicator, "REF_AREA": area, "TIME_PERIOD": year, "SEX": sex, "AGE": age,
            "URBANISATION": urbanisation, "OBS_VALUE": value, "UNIT_MEASURE": unit, "STD_ERR": se, "CI_LOWER": None,
            "CI_UPPER": None, "N_UNWEIGHTED": n, "OBS_STATUS": status, "CONF_STATUS": conf, "COMMENT_OBS": None,
            "COVERAGE": None, "SOURCE_ID": f"src_{area}", "POPULATION_SHARE": share, "CELL_COVARIANCE": covariance}


def country_observations(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> str:
    rows = rows or [obs("XX.0", "ZZZ", 2020, None)]  # an empty query keeps its columns
    frame = pd.DataFrame(rows).astype({"OBS_VALUE": float, "STD_ERR": float, "CI_LOWER": float, "CI_UPPER": float,
                                       "N_UNWEIGHTED": "Int64", "COVERAGE": float, "POPULATION_SHARE": float,
                                       "CELL_COVARIANCE": float, "COMMENT_OBS": object})
    con.register("country_rows", frame)
    return "SELECT * FROM country_rows"


def aggregate(codes, rows, min_coverage=0.5, con=None,
              indicators=None) -> tuple[pd.DataFrame, duckdb.DuckDBPyConnection]:
    con = con or warehouse()
    indicators = indicators or [REGISTRY[c] for c in codes]
    compute_aggregates(con, indicators, country_observations(con, rows), min_coverage=min_coverage)
    return con.execute(f"SELECT * FROM {AGGREGATES_TABLE}").df(), con


def cell(frame: pd.DataFrame, code: str, year: int, sex: str = "_T", urbanisation: str = "_T",
         age: str = "_T") -> pd.Series:
    found = frame[(frame.INDICATOR == code) & (frame.TIME_PERIOD == year) & (frame.SEX == sex)
                  & (frame.URBANISATION == urbanisation) & (frame.AGE == age)]
    assert len(found) == 1, found
    return found.iloc[0]


# ------------------------------------------------------------------------------------ ICT: group inputs
def test_internet_users_population_weighted_with_coverage():
    frame, _ = aggregate(["BC.1", "BC.10"], [], min_coverage=0.5)
    full = cell(frame, "BC.1", 2019)
    # (40 x 100 + 70 x 300 + 10 x 600 + 50 x 200) / 1200, all members report
    assert full.OBS_VALUE == pytest.approx(41000 / 1200) and full.COVERAGE == pytest.approx(1.0)
    assert full.OBS_STATUS == "A" and full.REF_AREA == "G1" and full.SOURCE_ID == "ict"
    # 2020: CCC (600 of 1,200 people) has no value: coverage exactly the minimum, shown
    half = cell(frame, "BC.1", 2020)
    assert half.COVERAGE == pytest.approx(0.5) and half.OBS_VALUE == pytest.approx(41000 / 600)
    # growth of the group's level, with the weaker coverage of the two years
    change = cell(frame, "BC.10", 2020)
    assert change.OBS_VALUE == pytest.approx(41000 / 600 - 41000 / 1200) and change.COVERAGE == pytest.approx(0.5)


def test_below_the_minimum_coverage_a_group_value_is_withheld_as_l():
    frame, _ = aggregate(["BC.1"], [], min_coverage=0.6)
    withheld = cell(frame, "BC.1", 2020)
    assert math.isnan(withheld.OBS_VALUE) and (withheld.OBS_STATUS, withheld.CONF_STATUS) == ("L", "F")
    assert withheld.COMMENT_OBS == "coverage 50%<60%"


def test_an_ict_group_value_needs_three_reporting_countries():
    # 2021: AAA and BBB report, 400 of 1,200 people: enough coverage at 30 %, too few countries
    frame, _ = aggregate(["BC.1"], [], min_coverage=0.3)
    few = cell(frame, "BC.1", 2021)
    assert math.isnan(few.OBS_VALUE) and (few.OBS_STATUS, few.CONF_STATUS) == ("Q", "A")
    assert few.COMMENT_OBS == "countries<3 (2 reporting)"


# ------------------------------------------------------------------------------ survey: weighted means
SURVEY = [
    # RB.1 (children, weighted by population 0-14 x the cell's share of the surveyed children)
    obs("RB.1", "AAA", 2020, 20.0, se=2.0, n=100, share=1.0),
    obs("RB.1", "BBB", 2020, 40.0, se=4.0, n=200, share=1.0, status="U"),
    obs("RB.1", "DDD", 2020, 30.0, se=3.0, n=150, share=1.0),
    obs("RB.1", "CCC", 2020, None, n=10, status="Q", conf="N", share=1.0),  # suppressed: never enters
]


def test_survey_weighted_mean_with_standard_error_and_flags():
    frame, con = aggregate(["RB.1"], SURVEY)
    total = cell(frame, "RB.1", 2020)
    # children 0-14: AAA 30, BBB 60, DDD 40; CCC (10) is suppressed, so coverage 130 / 140
    assert total.OBS_VALUE == pytest.approx((20 * 30 + 40 * 60 + 30 * 40) / 130)
    assert total.COVERAGE == pytest.approx(130 / 140)
    se = math.sqrt(30 ** 2 * 2.0 ** 2 + 60 ** 2 * 4.0 ** 2 + 40 ** 2 * 3.0 ** 2) / 130  # independent samples
    assert total.STD_ERR == pytest.approx(se, rel=1e-12)
    assert total.CI_LOWER == pytest.approx(4200 / 130 - Z * se) and total.CI_UPPER == pytest.approx(4200 / 130 + Z * se)
    assert total.N_UNWEIGHTED == 450
    assert total.OBS_STATUS == "U" and total.COMMENT_OBS == "rests on a low-reliability value"
    members = con.execute(f"SELECT MEMBER, share_of_weight FROM {CONTRIBUTIONS_TABLE} ORDER BY 1").fetchall()
    assert [m for m, _ in members] == ["AAA", "BBB", "DDD"]  # the suppressed cell is not among them
    assert [s for _, s in members] == pytest.approx([30 / 130, 60 / 130, 40 / 130])


def test_a_cell_is_weighted_by_its_own_population():
    """Two countries with 100 children each, 20 % and 90 % of them urban: the urban rate of the group is that of
    the group's 110 urban children, (20 x 10 + 90 x 50) / 110, not the plain mean of the two rates (30)."""
    con = warehouse({"EEE": (500, 100), "FFF": (500, 100)})
    rb1 = dataclasses.replace(REGISTRY["RB.1"], aggregation={**REGISTRY["RB.1"].aggregation, "min_countries": 2,
                                                             "max_country_share": 1.0})  # isolate the weighting
    rows = [obs("RB.1", "EEE", 2020, 10.0, urbanisation="U", se=1.0, n=80, share=0.2),
            obs("RB.1", "FFF", 2020, 50.0, urbanisation="U", se=1.0, n=300, share=0.9),
            obs("RB.1", "EEE", 2020, 30.0, urbanisation="R", se=1.0, n=320, share=0.8),
            obs("RB.1", "FFF", 2020, 70.0, urbanisation="R", se=1.0, n=40, share=0.1)]
    frame, _ = aggregate([], rows, con=con, indicators=[rb1])
    assert cell(frame, "RB.1", 2020, urbanisation="U").OBS_VALUE == pytest.approx((20 * 10 + 90 * 50) / 110)
    assert cell(frame, "RB.1", 2020, urbanisation="R").OBS_VALUE == pytest.approx((80 * 30 + 10 * 70) / 90)
    # coverage is counted in children 0-14 of the members: both report, 200 of 200
    assert cell(frame, "RB.1", 2020, urbanisation="U").COVERAGE == pytest.approx(1.0)


def test_a_survey_group_value_from_two_countries_is_withheld():
    rows = [obs("RB.1", "AAA", 2020, 20.0, age="Y9T11", se=2.0, n=60, share=0.3),
            obs("RB.1", "BBB", 2020, 40.0, age="Y9T11", se=4.0, n=90, share=0.3)]
    frame, con = aggregate(["RB.1"], rows)
    few = cell(frame, "RB.1", 2020, age="Y9T11")
    # coverage (30 + 60) / 140 passes; two countries do not (and BBB holds 18 of 27 of the weight)
    assert math.isnan(few.OBS_VALUE) and (few.OBS_STATUS, few.CONF_STATUS) == ("Q", "A")
    assert few.COMMENT_OBS == "countries<3 (2 reporting); one country holds 67% of the weight (max 50%)"
    assert math.isnan(few.STD_ERR) and pd.isna(few.N_UNWEIGHTED)
    assert audit_aggregates(con, [REGISTRY["RB.1"]], 0.5)["shown_from_too_few_or_one_dominant_country"] == 0


def test_a_survey_group_value_dominated_by_one_country_is_withheld():
    # boys' cells: value weights AAA 30 x 0.5 = 15, BBB 60 x 0.9 = 54, DDD 40 x 0.1 = 4: BBB holds 54 / 73
    rows = [obs("RB.1", "AAA", 2020, 22.0, sex="M", se=2.0, n=60, share=0.5),
            obs("RB.1", "BBB", 2020, 44.0, sex="M", se=4.0, n=190, share=0.9),
            obs("RB.1", "DDD", 2020, 33.0, sex="M", se=3.0, n=40, share=0.1)]
    frame, _ = aggregate(["RB.1"], rows)
    dominated = cell(frame, "RB.1", 2020, sex="M")
    assert math.isnan(dominated.OBS_VALUE) and (dominated.OBS_STATUS, dominated.CONF_STATUS) == ("Q", "O")
    assert dominated.COMMENT_OBS == "one country holds 74% of the weight (max 50%)"


# ---------------------------------------------------------------------------------- counts and rates
def test_counts_sum_and_a_partial_total_says_so():
    rows = [obs("IR.12", a, y, v, unit="count") for a, y, v in (
        ("AAA", 2019, 1000), ("BBB", 2019, 2000), ("CCC", 2019, 600), ("DDD", 2019, 400),
        ("AAA", 2020, 1000), ("BBB", 2020, 2000), ("DDD", 2020, 500))]
    frame, _ = aggregate(["IR.12"], rows)
    full = cell(frame, "IR.12", 2019)
    assert full.OBS_VALUE == 4000 and full.OBS_STATUS == "A" and full.COVERAGE == pytest.approx(1.0)
    partial = cell(frame, "IR.12", 2020)
    # CCC (600 of 1,200 people) did not report: 3,500 is the total of the others, a lower bound
    assert partial.OBS_VALUE == 3500 and partial.COVERAGE == pytest.approx(0.5)
    assert (partial.OBS_STATUS, partial.CONF_STATUS) == ("E", "F")
    assert partial.COMMENT_OBS == "partial total: members covering 50%"


def test_rates_weight_by_their_denominator_and_coverage_is_its_share():
    rows = [obs("IR.16", a, 2020, v, unit="per_100k") for a, v in (("AAA", 10.0), ("BBB", 20.0), ("DDD", 15.0))]
    rows += [obs("IR.16", "CCC", 2019, 30.0, unit="per_100k")]
    frame, _ = aggregate(["IR.16"], rows, min_coverage=0.1)
    rate = cell(frame, "IR.16", 2020)
    # Internet users 2020: AAA 50, BBB 240, DDD 120 (CCC unknown, so not in the denominator of coverage either)
    assert rate.OBS_VALUE == pytest.approx((10 * 50 + 20 * 240 + 15 * 120) / 410)
    assert rate.COVERAGE == pytest.approx(1.0)
    # 2019: only CCC (60 of 40 + 210 + 60 + 100 Internet users) reports: one country
    alone = cell(frame, "IR.16", 2019)
    assert alone.COVERAGE == pytest.approx(60 / 410) and alone.OBS_STATUS == "Q"
    assert alone.COMMENT_OBS == "countries<3 (1 reporting)"


def test_value_without_weight_is_recorded_and_counts_still_add_up():
    con = warehouse()
    con.execute("DELETE FROM staging.population_weights WHERE ref_area = 'BBB' AND year = 2020")
    rows = [obs("IR.12", a, 2020, v, unit="count") for a, v in (("AAA", 1000), ("BBB", 2000), ("DDD", 500))]
    rows += [obs("IR.15", a, 2020, v, unit="per_100k") for a, v in (("AAA", 5.0), ("BBB", 7.0), ("DDD", 6.0))]
    frame, con = aggregate(["IR.12", "IR.15"], rows, min_coverage=0.0, con=con)
    excluded = con.execute(f"SELECT INDICATOR, REF_AREA, TIME_PERIOD FROM {EXCLUSIONS_TABLE}").fetchall()
    assert excluded == [("IR.15", "BBB", 2020)]  # a rate cannot be weighted without BBB's population
    # IR.15 rests on AAA and DDD only: fewer than 3 countries
    assert cell(frame, "IR.15", 2020).OBS_STATUS == "Q"
    # BBB's 2,000 reports still add up; coverage counts only the people known: AAA and DDD, 300 of 900
    count = cell(frame, "IR.12", 2020)
    assert count.OBS_VALUE == 3500 and count.COVERAGE == pytest.approx(300 / 900)


def test_no_rule_of_the_audit_is_broken():
    frame, con = aggregate(["BC.1", "BC.10", "RB.1", "IR.12"], SURVEY + [obs("IR.12", "AAA", 2020, 5, unit="count")])
    problems = audit_aggregates(con, [REGISTRY[c] for c in ("BC.1", "BC.10", "RB.1", "IR.12")], 0.5)
    assert problems == {k: 0 for k in problems} and len(problems) == 7


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half"])
def test_min_coverage_must_be_a_share(bad):
    with pytest.raises((ConfigError, ValueError)):
        check_min_coverage(bad)


@pytest.mark.parametrize("spec, message", [
    ({"min_countries": 0}, "min_countries 0 must be a whole number >= 1"),
    ({"max_country_share": 1.5}, "max_country_share 1.5 must be a share in (0, 1]"),
    ({"max_country_share": "half"}, "max_country_share 'half' must be a share in (0, 1]"),
])
def test_the_country_rules_are_checked_in_the_registry(spec, message):
    from indicators.registry import aggregation_problems

    bad = dataclasses.replace(REGISTRY["RB.1"], aggregation={**REGISTRY["RB.1"].aggregation, **spec})
    assert message in aggregation_problems(bad)


def test_default_country_rules_by_kind_of_source():
    assert REGISTRY["RB.1"].min_countries == 3 and REGISTRY["RB.1"].max_country_share == 0.5  # a sample survey
    assert REGISTRY["BC.1"].min_countries == 3 and REGISTRY["BC.1"].max_country_share is None  # administrative


# ----------------------------------------------------------------------------------- gaps of group values
GIRLS = {"AAA": (25.0, 3.0), "BBB": (45.0, 5.0), "DDD": (35.0, 4.0)}
BOYS = {"AAA": (20.0, 3.0), "BBB": (40.0, 5.0), "DDD": (30.0, 4.0)}
COVARIANCE = {"AAA": 2.0, "BBB": 5.0, "DDD": 3.0}  # of each country's two cells, from its own design


def group_gaps(extra: list[dict] = ()) -> tuple[pd.DataFrame, duckdb.DuckDBPyConnection]:
    rows = [obs("RB.1", a, 2020, v, sex="F", se=se, n=100, share=0.5) for a, (v, se) in GIRLS.items()]
    rows += [obs("RB.1", a, 2020, v, sex="M", se=se, n=100, share=0.5) for a, (v, se) in BOYS.items()]
    rows += [obs("RB.1_GPI", a, 2020, GIRLS[a][0] / BOYS[a][0], unit="ratio", covariance=c)
             for a, c in COVARIANCE.items()]
    rows += list(extra)
    con = warehouse()
    countries = country_observations(con, rows)
    compute_aggregates(con, [REGISTRY["RB.1"]], countries, min_coverage=0.5)
    compute_group_gaps(con, [REGISTRY["RB.1"]], AGGREGATES_TABLE, CONTRIBUTIONS_TABLE,
                       f"SELECT * FROM ({countries}) WHERE INDICATOR LIKE '%_GPI'")
    return con.execute(f"SELECT * FROM {GAPS_TABLE}").df(), con


def test_group_parity_index_carries_the_covariance_of_its_two_cells():
    frame, _ = group_gaps()
    gpi = frame[frame.INDICATOR == "RB.1_GPI"].iloc[0]
    # value weights: children 30, 60, 40 x share 0.5 in both cells: a_i = b_i = (15, 30, 20) / 65
    a = np.array([15, 30, 20]) / 65
    members = ("AAA", "BBB", "DDD")
    girls, se_g = np.array([GIRLS[m] for m in members]).T
    boys, se_b = np.array([BOYS[m] for m in members]).T
    cov = np.array([COVARIANCE[m] for m in members])
    g, b = a @ girls, a @ boys
    v_g, v_b, c_gb = (a ** 2) @ se_g ** 2, (a ** 2) @ se_b ** 2, (a * a) @ cov
    ratio = g / b
    se = ratio * math.sqrt(v_g / g ** 2 + v_b / b ** 2 - 2 * c_gb / (g * b))
    assert gpi.OBS_VALUE == pytest.approx(ratio, rel=1e-12)
    assert gpi.STD_ERR == pytest.approx(se, rel=1e-12)
    assert gpi.CI_LOWER == pytest.approx(ratio - Z * se) and gpi.CI_UPPER == pytest.approx(ratio + Z * se)
    # without the covariance the SE would be larger: the cells are positively correlated
    assert se < ratio * math.sqrt(v_g / g ** 2 + v_b / b ** 2)
    assert gpi.OBS_STATUS == "A" and gpi.UNIT_MEASURE == "ratio" and gpi.N_UNWEIGHTED == 600
    # the interval [0.93, 1.38] includes parity: said in the comment
    assert ratio - Z * se < 1 < ratio + Z * se and gpi.COMMENT_OBS == "parity within the 95% CI"


def test_a_group_gap_over_a_withheld_cell_is_withheld():
    frame, _ = group_gaps()
    assert (frame.INDICATOR == "RB.1_URG").sum() == 0  # no urban/rural group cells, no gap
    # 2021: BBB holds 60 x 0.95 of the boys' weight (57 of 60.5): the boys' group cell is withheld (Q/O), and
    # the parity index with it, or girls = index x boys would reveal it
    dominated = [obs("RB.1", a, 2021, v, sex=s, se=1.0, n=100, share=sh) for a, v, s, sh in (
        ("AAA", 20.0, "F", 0.5), ("BBB", 40.0, "F", 0.5), ("DDD", 30.0, "F", 0.5),
        ("AAA", 20.0, "M", 0.5), ("BBB", 40.0, "M", 0.95), ("DDD", 30.0, "M", 0.05))]
    frame, _ = group_gaps(dominated)
    gap = frame[(frame.INDICATOR == "RB.1_GPI") & (frame.TIME_PERIOD == 2021)].iloc[0]
    assert math.isnan(gap.OBS_VALUE) and (gap.OBS_STATUS, gap.CONF_STATUS) == ("Q", "D")
    assert gap.COMMENT_OBS == "a cell is withheld (Q)"


def test_gaps_are_derived_for_every_proportion_with_the_disaggregation():
    from indicators.gaps import derived_series

    series = derived_series(list(REGISTRY.values()))
    with_sex = [i.code for i in REGISTRY.values() if i.method == "proportion" and "sex" in i.disaggregations]
    assert sorted(s.base.code for s in series if s.kind == "gender_parity_index") == sorted(with_sex)
    assert all(s.code == f"{s.base.code}_URG" for s in series if s.kind == "urban_rural_gap")
