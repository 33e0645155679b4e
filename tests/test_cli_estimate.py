"""`cop estimate`: ad-hoc tabulation from the command line, with the pipeline's engine, checked against R."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from pipelines import cli

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "survey_reference"
pytestmark = pytest.mark.shared_data


@pytest.fixture(autouse=True)
def reference_present():
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} absent")


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["estimate", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_proportion_by_domain_from_csv_agrees_with_r(capsys):
    code, out, _ = run(capsys, REFERENCE / "apiclus1.csv", "--weight", "pw", "--psu", "dnum", "--fpc", "fpc",
                       "--proportion", "\"sch.wide\" = 'Yes'", "--by", "stype", "--format", "json")
    assert code == 0
    rows = {r["stype"]: r for r in json.loads(out)}
    # R: svyby(~I(sch.wide=="Yes"), ~stype, clus1, svyciprop, method="logit", vartype="ci")
    assert rows["H"]["estimate"] == pytest.approx(0.785714285714286, rel=1e-12)
    assert rows["H"]["se"] == pytest.approx(0.0914619099856467, rel=1e-9)
    assert rows["H"]["ci_lower"] == pytest.approx(0.503687967853698, rel=1e-9)
    assert rows["H"]["df"] == 7 and rows["E"]["n_unweighted"] == 144
    # quality as a release would treat each cell: 14 high schools are too few to publish
    assert rows["H"]["n_unweighted"] == 14 and rows["H"]["status"] == "Q" and "n<25" in rows["H"]["flags"]
    assert rows["E"]["status"] == "A" and rows["E"]["flags"] == ""
    # CV in percent, as in the release
    assert rows["H"]["cv"] == pytest.approx(100 * 0.0914619099856467 / 0.785714285714286, rel=1e-9)


def test_mean_from_an_spss_file_with_strata_and_fpc_agrees_with_r(capsys, tmp_path):
    frame = pd.read_csv(REFERENCE / "apistrat.csv")[["stype", "pw", "fpc", "api00"]]
    pyreadstat.write_sav(frame, tmp_path / "apistrat.sav")
    code, out, _ = run(capsys, tmp_path / "apistrat.sav", "--weight", "pw", "--strata", "stype", "--fpc", "fpc",
                       "--mean", "api00")
    assert code == 0
    result = pd.read_csv(pd.io.common.StringIO(out))
    assert list(result.columns) == ["estimate", "se", "ci_lower", "ci_upper", "df", "cv", "deff", "n_unweighted",
                                    "n_weighted", "status", "flags"]
    assert result["estimate"].iloc[0] == pytest.approx(662.287363159321, rel=1e-9)
    assert result["se"].iloc[0] == pytest.approx(9.40894080278458, rel=1e-9)


def test_usage_errors_exit_2(capsys, tmp_path):
    assert run(capsys, tmp_path / "none.csv", "--weight", "w", "--mean", "x")[0] == 2
    assert run(capsys, REFERENCE / "apistrat.csv", "--weight", "pw", "--mean", "api00", "--total", "api00")[0] == 2
    code, _, err = run(capsys, REFERENCE / "apistrat.csv", "--weight", "pw", "--mean", "no_such_column")
    assert code == 2 and "no_such_column" in err


def test_missing_weights_are_refused_naming_the_rows_and_file_lines(capsys, tmp_path):
    frame = pd.read_csv(REFERENCE / "apistrat.csv")[["stype", "pw", "api00"]]
    frame.loc[[1, 4], "pw"] = None  # data rows 2 and 5: lines 3 and 6 of the file
    frame.to_csv(tmp_path / "holes.csv", index=False)
    code, _, err = run(capsys, tmp_path / "holes.csv", "--weight", "pw", "--strata", "stype", "--mean", "api00")
    assert code == 1
    assert "weight 'pw' is missing or negative for 2 unit(s): row(s) 2, 5" in err
    assert "file line(s) 3, 6, the header being line 1" in err


def test_a_domain_in_one_psu_prints_df_0_and_no_interval(capsys, tmp_path):
    frame = pd.read_csv(REFERENCE / "apiclus1.csv")[["dnum", "pw", "api00", "stype"]]
    frame["alone"] = (frame["dnum"] == frame["dnum"].iloc[0]).map({True: "one", False: "rest"})
    frame.to_csv(tmp_path / "clusters.csv", index=False)
    code, out, _ = run(capsys, tmp_path / "clusters.csv", "--weight", "pw", "--psu", "dnum", "--mean", "api00",
                       "--by", "alone", "--format", "json")
    assert code == 0
    rows = {r["alone"]: r for r in json.loads(out)}
    assert rows["one"]["df"] == 0 and rows["one"]["ci_lower"] is None and rows["one"]["ci_upper"] is None
    assert rows["one"]["flags"] == "n<25; df<2; no interval (df<1)" and rows["one"]["status"] == "Q"
    assert rows["rest"]["df"] == frame["dnum"].nunique() - 1 - 1 and rows["rest"]["ci_lower"] is not None
