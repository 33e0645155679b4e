"""Agreement with R's survey package (survey 4.1.1, ../shared/data/survey_reference): every applicable
reference result, estimate, SE and CI bounds, to a relative error of 1e-9."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import api_designs, load_api_samples

from indicators.estimation.taylor import estimate

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "survey_reference"
TOLERANCE = 1e-9
pytestmark = pytest.mark.shared_data

DESIGNS = api_designs()
VARIABLES = {"api00": ("mean", "api00"), "api99": ("mean", "api99"), "enroll": ("mean", "enroll"),
             "sch_wide_yes": ("mean", "CAST(\"sch.wide\" = 'Yes' AS INTEGER)")}
APPLICABLE = ("svymean", "svytotal", "svymean_factor", "svyby_svymean", "svyby_svytotal", "svyratio",
              "svyciprop_logit", "svyciprop_xlogit", "svyby_svyciprop_logit")


@pytest.fixture(scope="module")
def con():
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} absent (R reference results live outside the repository)")
    connection = duckdb.connect()
    load_api_samples(connection)
    yield connection
    connection.close()


def reference_rows() -> list[dict]:
    if not REFERENCE.exists():
        return []
    rows = pd.read_csv(REFERENCE / "survey_reference_estimates.csv", keep_default_na=False, na_values=[""])
    return rows[rows["estimator"].isin(APPLICABLE)].to_dict("records")


def _case_id(row: dict) -> str:
    return f"{row['design']}-{row['estimator']}-{row['variable']}-{row['level'] or '_T'}"


def close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= TOLERANCE * abs(theirs)


def compute(con, row: dict) -> pd.Series:
    table, design = DESIGNS[row["design"]]
    estimator, variable = row["estimator"], row["variable"]
    margins = [["stype"]] if estimator.startswith("svyby") else [[]]
    if estimator == "svyratio":
        result = estimate(con, table, design, "ratio", "api00", x="api99")
    elif estimator == "svymean_factor":
        level = row["level"].removeprefix("sch.wide")
        result = estimate(con, table, design, "mean", f"CAST(\"sch.wide\" = '{level}' AS INTEGER)")
    elif "svyciprop" in estimator:
        result = estimate(con, table, design, "proportion", "\"sch.wide\" = 'Yes'", margins=margins)
    else:
        kind = "total" if estimator.endswith("svytotal") else "mean"
        result = estimate(con, table, design, kind, VARIABLES[variable][1], margins=margins)
    if estimator.startswith("svyby"):
        return result[result["stype"] == row["level"]].iloc[0]
    return result.iloc[0]


@pytest.mark.parametrize("row", reference_rows(), ids=_case_id)
def test_agrees_with_r_survey(con, row):
    ours = compute(con, row)
    assert close(ours["estimate"], row["estimate"]), (ours["estimate"], row["estimate"])
    assert close(ours["se"], row["se"]), (ours["se"], row["se"])
    if not pd.isna(row["ci_low"]):
        assert close(ours["ci_lower"], row["ci_low"]), (ours["ci_lower"], row["ci_low"])
        assert close(ours["ci_upper"], row["ci_high"]), (ours["ci_upper"], row["ci_high"])


def test_every_applicable_reference_case_is_compared():
    rows = reference_rows()
    if not rows:
        pytest.skip("reference absent")
    # 3 designs x (4 means + 4 totals + 2 factor levels + 6 by-means + 3 by-totals + ratio + 2 cipropx + 3 by)
    assert len(rows) == 3 * 25
