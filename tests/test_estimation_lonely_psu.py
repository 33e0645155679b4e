"""Lonely PSUs, domains with a single PSU in a stratum, fpc and missing items: every policy against R's survey
(tests/reference/make_reference.R, run with R 4.2.2 and survey 4.1.1; results in lonely_psu_reference.csv),
to a relative error of 1e-9."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.estimation.taylor import Design, LonelyPsuError, estimate

HERE = Path(__file__).resolve().parent / "reference"
TOLERANCE = 1e-9
SMALL_CASES = ("lonely", "domain_lonely", "lonely_fpc", "lonely_fpc_certain", "domain_lonely_fpc", "missing_y")


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE small AS SELECT * FROM read_csv('{HERE / 'small_designs.csv'}')")
    yield connection
    connection.close()


def cases() -> list[dict]:
    rows = pd.read_csv(HERE / "lonely_psu_reference.csv", keep_default_na=False, na_values=[""])
    rows = rows[rows["case"].isin(SMALL_CASES) & ~rows["adjust_domain_lonely"]
                & ~rows["estimator"].str.startswith("degf")]
    return rows.to_dict("records")


def _id(row: dict) -> str:
    domain = row["domain"] if isinstance(row["domain"], str) else "_T"
    return f"{row['case']}-{row['lonely_psu']}-{row['estimator']}-{domain}"


def relatively_close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= TOLERANCE * max(abs(theirs), 1e-300)


@pytest.mark.parametrize("row", cases(), ids=_id)
def test_lonely_psu_policy_agrees_with_r(con, row):
    relation = f"(SELECT * FROM small WHERE design = '{row['case']}')"
    design = Design(weight="weight", stratum="stratum", psu="psu", fpc="fpc", lonely_psu=row["lonely_psu"])
    estimator = row["estimator"]
    by_domain = estimator.startswith("svyby")
    kind = {"svymean": "mean", "svytotal": "total", "svyratio": "ratio",
            "svyciprop_logit": "proportion"}[estimator.removeprefix("svyby_")]
    y = "y = 1" if kind == "proportion" else "y"
    def run():
        return estimate(con, relation, design, kind, y, x="x" if kind == "ratio" else None,
                        margins=[["domain"]] if by_domain else [[]])

    if isinstance(row["error"], str) and row["error"]:
        with pytest.raises(LonelyPsuError, match="single PSU"):
            run()
        return
    result = run()
    ours = result[result["domain"] == row["domain"]].iloc[0] if by_domain else result.iloc[0]
    assert relatively_close(ours["estimate"], row["estimate"]), (ours["estimate"], row["estimate"])
    assert relatively_close(ours["se"], row["se"]), (ours["se"], row["se"])
    if kind == "proportion" and not np.isnan(row["ci_low"]):
        assert relatively_close(ours["ci_lower"], row["ci_low"]), (ours["ci_lower"], row["ci_low"])
        assert relatively_close(ours["ci_upper"], row["ci_high"]), (ours["ci_upper"], row["ci_high"])


def test_policies_really_differ_on_the_lonely_design(con):
    """The reference is not trivially equal across policies: adjust > remove = certainty for the total."""
    relation = "(SELECT * FROM small WHERE design = 'lonely')"
    se = {policy: estimate(con, relation, Design("weight", "stratum", "psu", lonely_psu=policy), "total",
                           "y")["se"].iloc[0] for policy in ("adjust", "remove", "certainty", "average")}
    assert se["remove"] == se["certainty"] < se["average"] and se["remove"] < se["adjust"]
