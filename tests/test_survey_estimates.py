"""Survey estimates from the bundled sample recover the generator's true population values, and the quality
rules (suppression, flags, complementary suppression) do what DESIGN.md 4.4 says on constructed cells."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.sources.survey_microdata.estimates import apply_quality_rules, estimate_indicator, survey_design
from indicators.estimation.taylor import estimate
from indicators.sources.survey_microdata.specs import MAPPINGS_DIR, find_specs
from indicators.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
TRUTH = REPO / "data" / "sample" / "microdata" / "truth.csv"


@pytest.fixture(scope="module")
def sample_warehouse(harmonised_sample_deliveries):
    """All 24 bundled (synthetic) deliveries, read and harmonised (once per session, shared with
    test_synthetic_child_survey: these tests only read it)."""
    con, results = harmonised_sample_deliveries
    assert set(results) == set(find_specs(MAPPINGS_DIR))
    for source_id, result in results.items():
        assert result.accepted, source_id
    return con


def test_estimates_recover_the_true_population_values_within_their_cis(sample_warehouse):
    truth = pd.read_csv(TRUTH)
    registry = {i.code: i for i in load_registry()}
    rows = []
    for code in sorted(set(truth["indicator_code"]) & set(registry)):
        indicator = registry[code]
        if indicator.method != "proportion":
            continue
        dimensions = [d for d in indicator.disaggregations if d in ("sex", "age_band", "urbanisation")]
        result = estimate(sample_warehouse, "staging.child_survey", survey_design(), "proportion",
                          indicator.numerator, universe=indicator.universe, by=["source_id"],
                          margins=[[]] + [[d] for d in dimensions])
        for d in ("sex", "age_band", "urbanisation"):
            if d not in result:
                result[d] = "_T"
        labelled = result.assign(domain=np.select(
            [result["sex"] != "_T", result["age_band"] != "_T", result["urbanisation"] != "_T"],
            ["sex=" + result["sex"], "age_band=" + result["age_band"], "urbanisation=" + result["urbanisation"]],
            "_T"), indicator_code=code)
        rows.append(labelled)
    estimates = pd.concat(rows, ignore_index=True)
    cells = estimates.merge(truth, on=["source_id", "indicator_code", "domain"], how="inner")
    cells = cells[cells["n_unweighted"] >= 25]  # cells a release would publish
    covered = (cells["ci_lower"] <= cells["true_value"]) & (cells["true_value"] <= cells["ci_upper"])
    assert len(cells) > 3000
    print(f"coverage {covered.mean():.4f} over {len(cells)} cells")
    assert covered.mean() >= 0.90, f"coverage {covered.mean():.3f} over {len(cells)} cells"
    # and the estimates are unbiased on the whole: mean z-score near 0
    z = (cells["estimate"] - cells["true_value"]) / cells["se"]
    assert abs(z[np.isfinite(z)].mean()) < 0.25


def _cells(cv: list[float] | None = None, **columns) -> pd.DataFrame:
    """Cells of one indicator, area and period with value 40 and the SE giving each CV (a fraction)."""
    n = len(next(iter(columns.values())))
    cv = cv or [0.05] * n
    base = {"INDICATOR": ["IR.1"] * n, "REF_AREA": ["KEN"] * n, "TIME_PERIOD": [2023] * n, "SOURCE_ID": ["s"] * n,
            "SEX": ["_T"] * n, "AGE": ["_T"] * n, "URBANISATION": ["_T"] * n, "OBS_VALUE": [40.0] * n,
            "STD_ERR": [40.0 * c for c in cv], "CI_LOWER": [36.0] * n, "CI_UPPER": [44.0] * n,
            "DEFF": [1.2] * n, "DF": [30.0] * n, "_boundary": [False] * n}
    base.update(columns)
    return pd.DataFrame(base)


DEFAULTS = {"min_n": 25, "flag_n": 50, "max_cv": 33.3, "flag_cv": 16.6}


@pytest.mark.parametrize("n, cv, status, conf, comment", [
    (24, 0.05, "Q", "N", "n<25"),         # fewer than 25 cases: suppressed
    (25, 0.05, "U", "F", "n<50"),         # 25-49: low reliability
    (49, 0.05, "U", "F", "n<50"),
    (50, 0.05, "A", "F", ""),
    (500, 0.334, "Q", "N", "cv>33.3%"),   # CV above 33.3 %: suppressed
    (500, 0.333, "U", "F", "cv>16.6%"),   # 16.6-33.3 %: low reliability
    (500, 0.167, "U", "F", "cv>16.6%"),
    (500, 0.166, "A", "F", ""),
    (10, 0.5, "Q", "N", "n<25; cv>33.3%"),  # every rule met is named
])
def test_primary_suppression_and_flags(n, cv, status, conf, comment):
    out = apply_quality_rules(_cells(N_UNWEIGHTED=[n], cv=[cv]), DEFAULTS)
    assert (out["OBS_STATUS"].iloc[0], out["CONF_STATUS"].iloc[0]) == (status, conf)
    assert out["COMMENT_OBS"].iloc[0] == comment
    if status == "Q":
        assert out[["OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER"]].isna().all(axis=None)
    else:
        assert out["OBS_VALUE"].iloc[0] == 40.0


def test_low_df_and_proportions_of_0_or_100_percent_have_low_reliability():
    out = apply_quality_rules(_cells(N_UNWEIGHTED=[500, 500], DF=[1.0, 30.0], _boundary=[False, True]), DEFAULTS)
    assert list(out["OBS_STATUS"]) == ["U", "U"] and list(out["COMMENT_OBS"]) == ["df<2", "p=0|100%"]


def test_an_indicator_can_override_the_thresholds():
    out = apply_quality_rules(_cells(N_UNWEIGHTED=[8]), {**DEFAULTS, "min_n": 5, "flag_n": 10})
    assert out["OBS_STATUS"].iloc[0] == "U" and out["COMMENT_OBS"].iloc[0] == "n<10"


def test_complementary_suppression_protects_a_suppressed_sex_cell():
    # total published, girls suppressed (n = 20): boys must go too, or girls = total - boys could be recovered
    cells = _cells(SEX=["_T", "F", "M"], N_UNWEIGHTED=[420, 20, 400])
    out = apply_quality_rules(cells, DEFAULTS)
    assert list(out["OBS_STATUS"]) == ["A", "Q", "Q"]
    assert list(out["CONF_STATUS"]) == ["F", "N", "D"]
    assert list(out["COMMENT_OBS"]) == ["", "n<25", "complementary suppression"]
    assert out.loc[out["SEX"] == "M", "OBS_VALUE"].isna().all()


def test_complementary_suppression_takes_the_smallest_other_category():
    # three age bands, one suppressed: the smaller of the two others is suppressed as well, the larger stays
    cells = _cells(AGE=["_T", "Y9T11", "Y12T14", "Y15T17"], N_UNWEIGHTED=[600, 10, 90, 500])
    out = apply_quality_rules(cells, DEFAULTS).set_index("AGE")
    assert out.loc["Y9T11", "CONF_STATUS"] == "N" and out.loc["Y12T14", "CONF_STATUS"] == "D"
    assert out.loc["Y15T17", "OBS_STATUS"] == "A" and out.loc["_T", "OBS_STATUS"] == "A"


def test_no_complementary_suppression_when_two_categories_are_already_suppressed():
    cells = _cells(URBANISATION=["_T", "U", "R"], N_UNWEIGHTED=[40, 20, 20])
    out = apply_quality_rules(cells, DEFAULTS)
    assert list(out["CONF_STATUS"]) == ["F", "N", "N"]


def test_registry_indicator_in_the_published_layout(sample_warehouse):
    indicator = {i.code: i for i in load_registry()}["IR.1"]
    out = estimate_indicator(sample_warehouse, indicator)
    kenya = out[(out["INDICATOR"] == "IR.1") & (out["REF_AREA"] == "KEN") & (out["TIME_PERIOD"] == 2023)]
    kenya = kenya.set_index(["SEX", "AGE", "URBANISATION"])
    assert set(kenya.index) >= {("_T", "_T", "_T"), ("F", "_T", "_T"), ("M", "_T", "_T"), ("_T", "Y9T11", "_T"),
                                ("_T", "_T", "U"), ("_T", "_T", "R")}
    total = kenya.loc[("_T", "_T", "_T")]
    assert 0 < total["OBS_VALUE"] < 100 and total["CI_LOWER"] < total["OBS_VALUE"] < total["CI_UPPER"]
    assert total["UNIT_MEASURE"] == "percent" and total["SOURCE_ID"] == "ken_2023"
    # the value is the engine's proportion x 100, unrounded (the release rounds it, once)
    raw = estimate(sample_warehouse, "staging.child_survey", survey_design(), "proportion", indicator.numerator,
                   universe=indicator.universe, by=["source_id"])
    p = raw.set_index("source_id").loc["ken_2023", "estimate"]
    assert total["OBS_VALUE"] == pytest.approx(100 * p, rel=1e-14)
    # the cell's share of the surveyed population: the total is the indicator's universe among all children
    surveyed = sample_warehouse.execute("SELECT sum(weight) FROM staging.child_survey WHERE source_id = 'ken_2023'"
                                        ).fetchone()[0]
    assert total["POPULATION_SHARE"] == pytest.approx(total["N_WEIGHTED"] / surveyed, rel=1e-12)
    girls, boys = kenya.loc[("F", "_T", "_T")], kenya.loc[("M", "_T", "_T")]
    assert girls["POPULATION_SHARE"] + boys["POPULATION_SHARE"] == pytest.approx(total["POPULATION_SHARE"])


def test_country_gaps_rest_on_the_unrounded_cells_and_their_covariance(sample_warehouse):
    """The parity index is girls / boys of the unrounded cells; its SE is the delta method with the two cells'
    SEs and their covariance from the design (checked against R in test_estimation_lonely_psu); the urban-rural
    gap is in percentage points."""
    indicator = {i.code: i for i in load_registry()}["IR.1"]
    out = estimate_indicator(sample_warehouse, indicator).set_index(["INDICATOR", "REF_AREA", "TIME_PERIOD", "SEX",
                                                                     "URBANISATION", "AGE"])
    checked = 0
    for (code, area, year, *_), gap in out.loc[["IR.1_GPI", "IR.1_URG"]].iterrows():
        if gap["OBS_STATUS"] not in ("A", "U"):
            continue
        if code.endswith("_GPI"):
            first, second = (out.loc[("IR.1", area, year, "F", "_T", "_T")],
                             out.loc[("IR.1", area, year, "M", "_T", "_T")])
            ratio = first["OBS_VALUE"] / second["OBS_VALUE"]
            variance = ratio ** 2 * (first["STD_ERR"] ** 2 / first["OBS_VALUE"] ** 2
                                     + second["STD_ERR"] ** 2 / second["OBS_VALUE"] ** 2
                                     - 2 * gap["CELL_COVARIANCE"] / (first["OBS_VALUE"] * second["OBS_VALUE"]))
            assert gap["OBS_VALUE"] == pytest.approx(ratio, rel=1e-12)
            assert gap["UNIT_MEASURE"] == "ratio"
        else:
            first, second = (out.loc[("IR.1", area, year, "_T", "U", "_T")],
                             out.loc[("IR.1", area, year, "_T", "R", "_T")])
            variance = first["STD_ERR"] ** 2 + second["STD_ERR"] ** 2 - 2 * gap["CELL_COVARIANCE"]
            assert gap["OBS_VALUE"] == pytest.approx(first["OBS_VALUE"] - second["OBS_VALUE"], rel=1e-12)
            assert gap["UNIT_MEASURE"] == "percentage_points"
        assert gap["STD_ERR"] == pytest.approx(np.sqrt(variance), rel=1e-9)
        assert gap["N_UNWEIGHTED"] == first["N_UNWEIGHTED"] + second["N_UNWEIGHTED"]
        parity = 1.0 if code.endswith("_GPI") else 0.0
        assert ("parity within the 95% CI" in gap["COMMENT_OBS"]) == (gap["CI_LOWER"] <= parity <= gap["CI_UPPER"])
        checked += 1
    assert checked >= 40  # 24 deliveries x 2 gaps, less any with a suppressed cell


def test_two_deliveries_for_one_country_and_wave_publish_one_delivery_whole():
    """Each indicator, area and period comes from one delivery (the larger), never a cell-by-cell mix."""
    from indicators.observations import release_observations_sql

    con = duckdb.connect()
    con.execute("CREATE SCHEMA estimates")
    con.execute("CREATE TABLE estimates.country_year (INDICATOR VARCHAR, REF_AREA VARCHAR, TIME_PERIOD BIGINT, "
                "OBS_VALUE DOUBLE, UNIT_MEASURE VARCHAR, SOURCE_ID VARCHAR)")
    rows = [  # big delivery: total n 900 but a small girls cell; small delivery: total n 300, girls n 200
        ("big", "_T", 900, 40.0), ("big", "F", 20, None), ("big", "M", 880, 41.0),
        ("small", "_T", 300, 38.0), ("small", "F", 200, 37.0), ("small", "M", 100, 39.0)]
    frame = pd.DataFrame([{"INDICATOR": "IR.1", "REF_AREA": "KEN", "TIME_PERIOD": 2023, "SEX": sex, "AGE": "_T",
                           "URBANISATION": "_T", "OBS_VALUE": value, "UNIT_MEASURE": "percent", "STD_ERR": 1.0,
                           "CI_LOWER": None, "CI_UPPER": None, "N_UNWEIGHTED": n,
                           "OBS_STATUS": "A" if value is not None else "Q", "CONF_STATUS": "F",
                           "COMMENT_OBS": None, "SOURCE_ID": source, "POPULATION_SHARE": 0.5,
                           "CELL_COVARIANCE": None} for source, sex, n, value in rows])
    con.register("_f", frame)
    con.execute("CREATE TABLE estimates.survey_x AS SELECT * FROM _f")
    published = con.execute(release_observations_sql(con, "r1", {"IR.1": 1})).df()
    assert set(published["SOURCE_ID"]) == {"big"}
    assert published.set_index("SEX").loc["F", "OBS_STATUS"] == "Q"  # not the small delivery's girls


def test_a_missing_classifier_counts_in_the_total_only(sample_warehouse):
    """Respondents of one delivery whose urbanisation (and sex) is missing: no category is published for them
    (never a '?' or null code), and they stay in the design and in the total."""
    frame = sample_warehouse.execute("SELECT * FROM staging.child_survey WHERE source_id = 'ken_2023'").df()
    frame.loc[frame.index[::7], "urbanisation"] = None
    frame.loc[frame.index[::11], "sex"] = None
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.register("_frame", frame)
    con.execute("CREATE TABLE staging.child_survey AS SELECT * FROM _frame")
    indicator = {i.code: i for i in load_registry()}["IR.1"]
    out = estimate_indicator(con, indicator)
    cells = out[out["INDICATOR"] == "IR.1"]
    assert set(cells["URBANISATION"]) == {"U", "R", "_T"} and set(cells["SEX"]) == {"F", "M", "_T"}
    total = cells[(cells["SEX"] == "_T") & (cells["AGE"] == "_T") & (cells["URBANISATION"] == "_T")].iloc[0]
    by_area = cells[(cells["SEX"] == "_T") & (cells["AGE"] == "_T") & (cells["URBANISATION"] != "_T")]
    in_universe = con.execute(f"SELECT count(*) FROM staging.child_survey WHERE ({indicator.universe}) "
                              f"AND ({indicator.numerator}) IS NOT NULL").fetchone()[0]
    missing = con.execute(f"SELECT count(*) FROM staging.child_survey WHERE ({indicator.universe}) "
                          f"AND ({indicator.numerator}) IS NOT NULL AND urbanisation IS NULL").fetchone()[0]
    assert total["N_UNWEIGHTED"] == in_universe and missing > 0
    assert by_area["N_UNWEIGHTED"].sum() == in_universe - missing
