"""Crossed disaggregations (sex x age band): the engine's crossed cells against R's `survey`, the registry's
`crossings` field, and the crossed cells in the published layout with complementary suppression across both
margins, checked by hand.

Reference: tests/reference/make_crossing_reference.R (R 4.2.2, survey 4.1.1) on the generated microdata of
tests/reference/crossing_design.csv; the CSV results are committed, so no R is needed here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.estimation.taylor import Design, Estimand, estimate_many
from indicators.registry import Indicator, RegistryError, load_registry
from indicators.sources.survey_microdata.estimates import apply_quality_rules, estimate_indicators
from schemas.registry import DEFAULT_RELIABILITY

REFERENCE = Path(__file__).parent / "reference"
MARGINS = [[], ["sex"], ["age_band"], ["sex", "age_band"]]
KINDS = {"svyby_svymean": Estimand("mean", "y"), "svyby_svytotal": Estimand("total", "y"),
         "svyby_svyratio": Estimand("ratio", "y", "x"), "svyby_svyciprop_logit": Estimand("proportion", "y")}


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "crossing_reference.csv", dtype={"sex": str, "age_band": str})


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE microdata AS SELECT * FROM read_csv('{REFERENCE / 'crossing_design.csv'}')")
    yield con
    con.close()


@pytest.fixture(scope="module")
def engine(con) -> dict[str, pd.DataFrame]:
    design = Design(weight="weight", stratum="stratum", psu="psu")
    results = estimate_many(con, "microdata", design, list(KINDS.values()), margins=MARGINS)
    return {name: result.set_index(["sex", "age_band"]) for name, result in zip(KINDS, results)}


def test_the_reference_has_every_crossed_cell_and_its_margins(reference):
    crossed = reference[(reference["sex"] != "_T") & (reference["age_band"] != "_T")]
    assert len(crossed[crossed["estimator"] == "svyby_svymean"]) == 6  # F/M x 9-11, 12-14, 15-17
    assert len(reference[reference["estimator"] == "svyby_svymean"]) == 12  # + 2 sexes, 3 bands, the total


@pytest.mark.parametrize("estimator", list(KINDS))
def test_crossed_cells_and_their_margins_equal_r(engine, reference, estimator):
    expected = reference[reference["estimator"] == estimator]
    # R's svyciprop returns the proportion of its logistic fit, converged to ~1e-9 only: the proportion and its
    # SE are svymean's of the same 0/1 item (exact), the logit interval is svyciprop's
    exact = reference[reference["estimator"] == ("svyby_svymean" if "ciprop" in estimator else estimator)]
    exact = exact.set_index(["sex", "age_band"])
    got = engine[estimator]
    assert len(got) == len(expected)
    for row in expected.itertuples(index=False):
        cell = got.loc[(row.sex, row.age_band)]
        assert cell["estimate"] == pytest.approx(row.estimate, rel=1e-7), (row.sex, row.age_band)
        assert cell["estimate"] == pytest.approx(exact.loc[(row.sex, row.age_band), "estimate"], rel=1e-9)
        assert cell["se"] == pytest.approx(exact.loc[(row.sex, row.age_band), "se"], rel=1e-9)
        assert cell["se"] == pytest.approx(row.se, rel=1e-9), (row.sex, row.age_band)
        assert cell["df"] == row.df, (row.sex, row.age_band)
        assert cell["ci_lower"] == pytest.approx(row.ci_low, rel=1e-6), (row.sex, row.age_band)
        assert cell["ci_upper"] == pytest.approx(row.ci_high, rel=1e-6), (row.sex, row.age_band)
        assert cell["n_unweighted"] == row.n


def test_a_crossed_cell_is_not_a_product_of_its_margins(engine):
    """The crossed estimate is its own domain's, not the margins combined (girls aged 12-14 differ from
    girls x 12-14 year-olds / all)."""
    means = engine["svyby_svymean"]["estimate"]
    combined = means[("F", "_T")] * means[("_T", "12-14")] / means[("_T", "_T")]
    assert abs(means[("F", "12-14")] - combined) > 1e-3


# ------------------------------------------------------------------------------------------------- registry
def _write_registry(tmp_path: Path, crossings) -> Path:
    """The real registry with SA.1's crossings replaced (a copy in tmp_path)."""
    import yaml

    source = Path(__file__).resolve().parents[1] / "indicators" / "registry"
    for path in source.glob("*.yaml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for entry in document["indicators"]:
            if entry["code"] == "SA.1":
                if crossings is None:
                    entry.pop("crossings", None)
                else:
                    entry["crossings"] = crossings
        (tmp_path / path.name).write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                                          encoding="utf-8")
    return tmp_path


def test_an_entry_declares_its_crossings(tmp_path):
    registry = {i.code: i for i in load_registry(_write_registry(tmp_path, [["sex", "age_band"]]))}
    assert registry["SA.1"].crossings == (("sex", "age_band"),)


@pytest.mark.parametrize("crossings, message", [
    ([["sex"]], "sex: a crossing needs two or more different disaggregations"),
    ([["sex", "sex"]], "sex x sex: a crossing needs two or more different disaggregations"),
    ([["sex", "age_band"], ["age_band", "sex"]], "age_band x sex: declared twice"),
    ([["sex", "ses_quintile"]], "ses_quintile is not a published dimension (sex, age_band, urbanisation)"),
    ("sex x age_band", "field 'crossings': must be a list of lists of disaggregations, e.g. [[sex, age_band]]"),
])
def test_a_wrong_crossing_names_the_file_the_entry_and_the_rule(tmp_path, crossings, message):
    with pytest.raises(RegistryError) as error:
        load_registry(_write_registry(tmp_path, crossings))
    assert "subjective_aspects.yaml: SA.1: field 'crossings'" in str(error.value)
    assert message in str(error.value)


def test_a_crossing_needs_its_dimensions_among_the_disaggregations(tmp_path):
    import yaml

    directory = _write_registry(tmp_path, [["sex", "urbanisation"]])
    path = directory / "subjective_aspects.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    for entry in document["indicators"]:
        if entry["code"] == "SA.1":
            entry["disaggregations"] = ["sex", "age_band"]
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RegistryError, match="urbanisation must be among the entry's disaggregations too"):
        load_registry(directory)


# ------------------------------------------------------------------------- published cells and suppression
@pytest.fixture(scope="module")
def staged(con):
    """The reference microdata as one staged delivery of the child survey (the columns the estimates read)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    con.execute("""CREATE OR REPLACE TABLE staging.child_survey AS
                   SELECT 'toy_2024' AS source_id, 'KEN' AS country, 2024 AS wave, CAST(stratum AS VARCHAR) AS stratum,
                          CAST(psu AS VARCHAR) AS psu, weight, CAST(NULL AS DOUBLE) AS fpc,
                          CAST(row_number() OVER () AS VARCHAR) AS respondent_id, sex, age_band,
                          CAST(y AS BOOLEAN) AS bothered_online
                   FROM microdata""")
    return con


def _indicator(**changes) -> Indicator:
    base = Indicator(code="SA.1", name="Children bothered online", definition="x" * 20,
                     group="subjective_aspects", unit="percent", source="child_survey", method="proportion",
                     decimals=1, references=("test",), file="test.yaml", numerator="bothered_online",
                     disaggregations=("sex", "age_band"), crossings=(("sex", "age_band"),),
                     reliability=dict(DEFAULT_RELIABILITY))
    return replace(base, **changes)


def test_crossed_cells_are_published_in_the_release_layout(staged, reference):
    published = estimate_indicators(staged, [_indicator()])["SA.1"]
    cells = published[published["INDICATOR"] == "SA.1"].set_index(["SEX", "AGE"])
    expected = reference[reference["estimator"] == "svyby_svyciprop_logit"]
    ages = {"_T": "_T", "9-11": "Y9T11", "12-14": "Y12T14", "15-17": "Y15T17"}
    assert len(cells) == 12 and cells.index.is_unique
    for row in expected.itertuples(index=False):
        cell = cells.loc[(row.sex, ages[row.age_band])]
        assert cell["OBS_VALUE"] == pytest.approx(100 * row.estimate, rel=1e-7)  # svyciprop's fit (see above)
        assert cell["STD_ERR"] == pytest.approx(100 * row.se, rel=1e-9)
        assert cell["CI_LOWER"] == pytest.approx(100 * row.ci_low, rel=1e-6)
        assert cell["CI_UPPER"] == pytest.approx(100 * row.ci_high, rel=1e-6)
        assert cell["N_UNWEIGHTED"] == row.n
    # the gender parity index rests on the one-way cells of girls and boys, not on a crossed one
    gpi = published[published["INDICATOR"] == "SA.1_GPI"]
    assert len(gpi) == 1
    assert gpi["OBS_VALUE"].iloc[0] == pytest.approx(cells.loc[("F", "_T"), "OBS_VALUE"]
                                                     / cells.loc[("M", "_T"), "OBS_VALUE"], rel=1e-12)


def test_suppression_spreads_across_both_margins_of_the_crossed_table(staged):
    """min_n 53 suppresses girls aged 9-11 (n 52). By hand, with the one-way cells all published:
    row F: 9-11 suppressed alone -> the smallest other girls' cell, 15-17 (n 53), goes too;
    column 9-11: F suppressed alone -> M 9-11 (n 66) goes; column 15-17: F suppressed alone -> M 15-17 (n 65);
    row M now has two suppressed cells, column 12-14 none: nothing more. F and M 12-14 stay published."""
    thresholds = {**DEFAULT_RELIABILITY, "min_n": 53, "flag_n": 60}
    published = estimate_indicators(staged, [_indicator(reliability=thresholds)])["SA.1"]
    cells = published[published["INDICATOR"] == "SA.1"].set_index(["SEX", "AGE"]).sort_index()
    status = cells["OBS_STATUS"]
    conf = cells["CONF_STATUS"]
    assert (status[("F", "Y9T11")], conf[("F", "Y9T11")]) == ("Q", "N")
    for cell in [("F", "Y15T17"), ("M", "Y9T11"), ("M", "Y15T17")]:
        assert (status[cell], conf[cell]) == ("Q", "D"), cell
        assert "complementary suppression" in cells.loc[cell, "COMMENT_OBS"]
        assert np.isnan(cells.loc[cell, "OBS_VALUE"])
    assert status[("F", "Y12T14")] != "Q" and status[("M", "Y12T14")] != "Q"
    one_way = [c for c in cells.index if "_T" in c]
    assert all(status[c] != "Q" for c in one_way)  # the margins (all n >= 118) are untouched


def _table(n: dict[tuple[str, str], int], suppressed_totals=()) -> pd.DataFrame:
    rows = []
    for (sex, age), cases in n.items():
        rows.append({"SEX": sex, "AGE": age, "N_UNWEIGHTED": cases})
    cells = pd.DataFrame(rows)
    frame = pd.DataFrame({"INDICATOR": "IR.1", "REF_AREA": "KEN", "TIME_PERIOD": 2023, "SOURCE_ID": "s",
                          "SEX": cells["SEX"], "AGE": cells["AGE"], "URBANISATION": "_T", "OBS_VALUE": 40.0,
                          "STD_ERR": 2.0, "CI_LOWER": 36.0, "CI_UPPER": 44.0, "DEFF": 1.2, "DF": 30.0,
                          "_boundary": False, "N_UNWEIGHTED": cells["N_UNWEIGHTED"]})
    for cell in suppressed_totals:  # a one-way cell suppressed by its CV although its n is large
        frame.loc[(frame["SEX"] == cell[0]) & (frame["AGE"] == cell[1]), "STD_ERR"] = 20.0
    return frame


def test_a_suppressed_line_total_takes_a_crossed_cell_with_it():
    """The girls' cell is suppressed (its CV), so the one-way rule suppresses the boys' cell too. By hand: the
    girls' crossed cells are all published, so the girls' value could be rebuilt from them: the smallest (9-11,
    n 60) is suppressed; the same for the boys' row (9-11, n 70). Column 9-11 then has two suppressed cells and
    column 12-14 none: nothing more."""
    n = {("_T", "_T"): 400, ("F", "_T"): 200, ("M", "_T"): 200, ("_T", "Y9T11"): 130, ("_T", "Y12T14"): 270,
         ("F", "Y9T11"): 60, ("F", "Y12T14"): 140, ("M", "Y9T11"): 70, ("M", "Y12T14"): 130}
    out = apply_quality_rules(_table(n, suppressed_totals=[("F", "_T")]), DEFAULT_RELIABILITY)
    status = out.set_index(["SEX", "AGE"])["CONF_STATUS"]
    assert status[("F", "_T")] == "N"
    # one-way rule: sex margin has F suppressed under a published total -> M goes too (its smallest other)
    assert status[("M", "_T")] == "D"
    assert status[("F", "Y9T11")] == "D" and status[("M", "Y9T11")] == "D"
    assert status[("F", "Y12T14")] == "F" and status[("M", "Y12T14")] == "F"


def test_no_crossed_suppression_when_nothing_is_suppressed():
    n = {("_T", "_T"): 400, ("F", "_T"): 200, ("M", "_T"): 200, ("_T", "Y9T11"): 130, ("_T", "Y12T14"): 270,
         ("F", "Y9T11"): 60, ("F", "Y12T14"): 140, ("M", "Y9T11"): 70, ("M", "Y12T14"): 130}
    out = apply_quality_rules(_table(n), DEFAULT_RELIABILITY)
    assert set(out["OBS_STATUS"]) == {"A"}
