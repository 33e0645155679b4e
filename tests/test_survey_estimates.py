"""Survey estimates from the bundled sample recover the generator's true population values, and the quality
rules (suppression, flags, complementary suppression) do what DESIGN.md 4.4 says on constructed cells."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.estimation.survey_indicators import apply_quality_rules, estimate_indicator, survey_design
from indicators.estimation.taylor import estimate
from indicators.harmonise_survey import harmonise_source
from indicators.ingest.microdata import read_microdata
from indicators.mapping_specs import MAPPINGS_DIR, find_specs, load_spec
from indicators.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
TRUTH = REPO / "data" / "sample" / "microdata" / "truth.csv"


@pytest.fixture(scope="module")
def sample_warehouse():
    """All 24 bundled (synthetic) deliveries, read and harmonised."""
    con = duckdb.connect()
    for source_id, path in find_specs(MAPPINGS_DIR).items():
        spec = load_spec(path)
        read_microdata(con, spec, spec.path(path))
        assert harmonise_source(con, spec).accepted, source_id
    yield con
    con.close()


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


def _cells(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"INDICATOR": ["IR.1"] * n, "REF_AREA": ["KEN"] * n, "TIME_PERIOD": [2023] * n, "SOURCE_ID": ["s"] * n,
            "SEX": ["_T"] * n, "AGE": ["_T"] * n, "URBANISATION": ["_T"] * n, "OBS_VALUE": [40.0] * n,
            "STD_ERR": [2.0] * n, "CI_LOWER": [36.0] * n, "CI_UPPER": [44.0] * n, "CV": [0.05] * n,
            "DEFF": [1.2] * n, "_boundary": [False] * n, "_low_df": [False] * n}
    base.update(columns)
    return pd.DataFrame(base)


DEFAULTS = {"min_n": 25, "flag_n": 50, "max_cv": 33.3, "flag_cv": 16.6}


@pytest.mark.parametrize("n, cv, status, conf", [
    (24, 0.05, "Q", "N"),    # fewer than 25 cases: suppressed
    (25, 0.05, "E", "F"),    # 25-49: flagged
    (49, 0.05, "E", "F"),
    (50, 0.05, "A", "F"),
    (500, 0.334, "Q", "N"),  # CV above 33.3 %: suppressed
    (500, 0.333, "E", "F"),  # 16.6-33.3 %: use with caution
    (500, 0.167, "E", "F"),
    (500, 0.166, "A", "F"),
])
def test_primary_suppression_and_flags(n, cv, status, conf):
    out = apply_quality_rules(_cells(N_UNWEIGHTED=[float(n)], CV=[cv]), DEFAULTS)
    assert (out["OBS_STATUS"].iloc[0], out["CONF_STATUS"].iloc[0]) == (status, conf)
    if status == "Q":
        assert out[["OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV"]].isna().all(axis=None)
    else:
        assert out["OBS_VALUE"].iloc[0] == 40.0


def test_an_indicator_can_override_the_thresholds():
    out = apply_quality_rules(_cells(N_UNWEIGHTED=[8.0], CV=[0.05]), {**DEFAULTS, "min_n": 5, "flag_n": 10})
    assert out["OBS_STATUS"].iloc[0] == "E"


def test_complementary_suppression_protects_a_suppressed_sex_cell():
    # total published, girls suppressed (n = 20): boys must go too, or girls = total - boys could be recovered
    cells = _cells(SEX=["_T", "F", "M"], N_UNWEIGHTED=[420.0, 20.0, 400.0], CV=[0.05, 0.05, 0.05])
    out = apply_quality_rules(cells, DEFAULTS)
    assert list(out["OBS_STATUS"]) == ["A", "Q", "Q"]
    assert list(out["CONF_STATUS"]) == ["F", "N", "D"]
    assert out.loc[out["SEX"] == "M", "OBS_VALUE"].isna().all()


def test_complementary_suppression_takes_the_smallest_other_category():
    # three age bands, one suppressed: the smaller of the two others is suppressed as well, the larger stays
    cells = _cells(AGE=["_T", "Y9T11", "Y12T14", "Y15T17"], N_UNWEIGHTED=[600.0, 10.0, 90.0, 500.0],
                   CV=[0.05] * 4)
    out = apply_quality_rules(cells, DEFAULTS).set_index("AGE")
    assert out.loc["Y9T11", "CONF_STATUS"] == "N" and out.loc["Y12T14", "CONF_STATUS"] == "D"
    assert out.loc["Y15T17", "OBS_STATUS"] == "A" and out.loc["_T", "OBS_STATUS"] == "A"


def test_no_complementary_suppression_when_two_categories_are_already_suppressed():
    cells = _cells(URBANISATION=["_T", "U", "R"], N_UNWEIGHTED=[40.0, 20.0, 20.0], CV=[0.05] * 3)
    out = apply_quality_rules(cells, DEFAULTS)
    assert list(out["CONF_STATUS"]) == ["F", "N", "N"]


def test_registry_indicator_in_the_published_layout(sample_warehouse):
    indicator = {i.code: i for i in load_registry()}["IR.1"]
    out = estimate_indicator(sample_warehouse, indicator)
    kenya = out[(out["REF_AREA"] == "KEN") & (out["TIME_PERIOD"] == 2023)].set_index(["SEX", "AGE", "URBANISATION"])
    assert set(kenya.index) >= {("_T", "_T", "_T"), ("F", "_T", "_T"), ("M", "_T", "_T"), ("_T", "Y9T11", "_T"),
                                ("_T", "_T", "U"), ("_T", "_T", "R")}
    total = kenya.loc[("_T", "_T", "_T")]
    assert 0 < total["OBS_VALUE"] < 100 and total["CI_LOWER"] < total["OBS_VALUE"] < total["CI_UPPER"]
    assert total["UNIT_MEASURE"] == "percent" and total["SOURCE_ID"] == "ken_2023"
    # the published value is the engine's proportion x 100, rounded to the registry's decimals
    raw = estimate(sample_warehouse, "staging.child_survey", survey_design(), "proportion", indicator.numerator,
                   universe=indicator.universe, by=["source_id"])
    p = raw.set_index("source_id").loc["ken_2023", "estimate"]
    assert total["OBS_VALUE"] == round(100 * p, indicator.decimals)


def test_two_deliveries_for_one_country_and_wave_publish_one_delivery_whole():
    """Each indicator, area and period comes from one delivery (the larger), never a cell-by-cell mix."""
    from indicators.observations import release_observations_sql

    con = duckdb.connect()
    con.execute("CREATE SCHEMA estimates")
    con.execute("CREATE TABLE estimates.country_year (INDICATOR VARCHAR, REF_AREA VARCHAR, TIME_PERIOD BIGINT, "
                "OBS_VALUE DOUBLE, UNIT_MEASURE VARCHAR, SOURCE_ID VARCHAR)")
    rows = [  # big delivery: total n 900 but a small girls cell; small delivery: total n 300, girls n 200
        ("big", "_T", 900.0, 40.0), ("big", "F", 20.0, None), ("big", "M", 880.0, 41.0),
        ("small", "_T", 300.0, 38.0), ("small", "F", 200.0, 37.0), ("small", "M", 100.0, 39.0)]
    frame = pd.DataFrame([{"INDICATOR": "IR.1", "REF_AREA": "KEN", "TIME_PERIOD": 2023, "SEX": sex, "AGE": "_T",
                           "URBANISATION": "_T", "OBS_VALUE": value, "UNIT_MEASURE": "percent", "STD_ERR": 1.0,
                           "CI_LOWER": None, "CI_UPPER": None, "CV": 0.1, "N_UNWEIGHTED": n,
                           "OBS_STATUS": "A" if value is not None else "Q", "CONF_STATUS": "F", "SOURCE_ID": source}
                          for source, sex, n, value in rows])
    con.register("_f", frame)
    con.execute("CREATE TABLE estimates.survey_x AS SELECT * FROM _f")
    published = con.execute(release_observations_sql(con, "r1")).df()
    assert set(published["SOURCE_ID"]) == {"big"}
    assert published.set_index("SEX").loc["F", "OBS_STATUS"] == "Q"  # not the small delivery's girls
