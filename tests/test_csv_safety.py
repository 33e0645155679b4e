"""CSV outputs are safe to open in a spreadsheet: text that begins like a formula ('=', '+', '-', '@', tab, carriage
return) is written with a single quote in front; numbers, negative ones included, stay numbers."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from indicators.csv_safety import neutralise_formulas
from indicators.sdmx import CSV_FILE, codelist, read_observations_sdmx, write_sdmx_files
from pipelines import cli
from schemas.observations import OBSERVATION_COLUMNS

FORMULA = "=cmd|' /C calc'!A0"  # the classic payload: Excel would offer to start calc.exe


# ------------------------------------------------------------------------------------------ the one function
def test_text_that_begins_like_a_formula_gets_a_quote_and_numbers_do_not():
    frame = pd.DataFrame({
        "name": [FORMULA, "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "Kenya", "a=b", None],
        "value": [-3.5, 1.0, -2.0, 0.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        "count": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
    })
    out = neutralise_formulas(frame)
    assert out["name"].tolist()[:8] == ["'" + FORMULA, "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "Kenya", "a=b"]
    assert out["name"].isna().tolist() == [False] * 8 + [True]  # missing stays missing
    assert out["value"].tolist() == frame["value"].tolist() and out["value"].dtype == "float64"
    assert out["count"].tolist() == frame["count"].tolist() and out["count"].dtype == "int64"
    assert frame["name"].iloc[0] == FORMULA  # the caller's frame is not changed


def test_named_text_columns_leave_numbers_written_as_text_alone():
    # SDMX-CSV holds every value as text: only the columns named as text are neutralised
    frame = pd.DataFrame({"OBS_VALUE": ["-3.5", "+2"], "COMMENT_OBS": ["-3.5", FORMULA]}, dtype=object)
    out = neutralise_formulas(frame, ["COMMENT_OBS"])
    assert out["OBS_VALUE"].tolist() == ["-3.5", "+2"]
    assert out["COMMENT_OBS"].tolist() == ["'-3.5", "'" + FORMULA]


# ------------------------------------------------------------------------------------------------- SDMX-CSV
def _codelists() -> dict:
    def frame(codes):
        return pd.DataFrame({"code": codes, "name": [f"label of {c}" for c in codes]})
    return {"INDICATOR": codelist("CL_INDICATOR", frame(["BC_1"])),
            "REF_AREA": codelist("CL_AREA", frame(["KEN"])),
            "SEX": codelist("CL_SEX", frame(["_T"])),
            "AGE": codelist("CL_AGE", frame(["_T"])),
            "URBANISATION": codelist("CL_URBANISATION", frame(["_T"])),
            "UNIT_MEASURE": codelist("CL_UNIT_MEASURE", frame(["percent"])),
            "OBS_STATUS": codelist("CL_OBS_STATUS", frame(["A"])),
            "CONF_STATUS": codelist("CL_CONF_STATUS", frame(["F"]))}


def _observations(path) -> None:
    """Two observations of Kenya: -3.5 with a formula as its comment and as the name of the file it rests on
    (SOURCE_ID is a delivered file's name), and 12 with plain text."""
    rows = [("BC.1", "KEN", 2019, "_T", "_T", "_T", -3.5, "percent", None, -4.25, None, None, None, "A", "F",
             FORMULA, None, "@" + FORMULA[1:], False),
            ("BC.1", "KEN", 2020, "_T", "_T", "_T", 12.0, "percent", None, None, None, None, None, "A", "F",
             "n<25", None, "wdi_it_net_user", False)]
    frame = pd.DataFrame(rows, columns=OBSERVATION_COLUMNS[:-1]).assign(RELEASE_ID="r-1")
    frame.astype({"N_UNWEIGHTED": "Int64", "COMMENT_OBS": "string", "COVERAGE": "float64"}).to_parquet(
        path, index=False)


def test_sdmx_csv_neutralises_formula_text_and_keeps_negative_numbers(tmp_path):
    _observations(tmp_path / "observations.parquet")
    paths = write_sdmx_files(tmp_path, tmp_path / "observations.parquet", _codelists(), "r-1")

    text = (tmp_path / CSV_FILE).read_text(encoding="utf-8")
    first = text.splitlines()[1]
    assert ",-3.5,percent,,-4.25," in first  # the numbers as numbers, no quote in front
    assert ",'=cmd|' /C calc'!A0," in first and ",'@cmd|' /C calc'!A0," in first
    back = pd.read_csv(io.StringIO(text))
    assert back["COMMENT_OBS"].tolist() == ["'" + FORMULA, "n<25"]
    assert back["SOURCE_ID"].tolist() == ["'@cmd|' /C calc'!A0", "wdi_it_net_user"]
    assert back["OBS_VALUE"].tolist() == [-3.5, 12.0] and back["OBS_VALUE"].dtype == "float64"
    assert back["CI_LOWER"].tolist()[0] == -4.25
    assert back["REF_AREA"].tolist() == ["KEN", "KEN"]  # codes that begin with a letter are as they were
    # and pysdmx, typed by the structure, reads the same
    sdmx = read_observations_sdmx(*paths).data
    assert sdmx["OBS_VALUE"].tolist() == [-3.5, 12.0]
    assert sdmx["COMMENT_OBS"].tolist() == ["'" + FORMULA, "n<25"]


# ------------------------------------------------------------------------------------- cop estimate --format csv
def test_estimate_csv_neutralises_a_formula_group_label_and_keeps_a_negative_estimate(tmp_path, capsys):
    # three respondents in each of two countries, weight 1: the mean of x is -3.5 in the first, 2 in the second
    microdata = tmp_path / "survey.csv"
    pd.DataFrame({"country_name": [FORMULA] * 3 + ["Kenya"] * 3, "w": [1.0] * 6,
                  "x": [-3.0, -4.0, -3.5, 1.0, 2.0, 3.0]}).to_csv(microdata, index=False)

    code = cli.main(["estimate", str(microdata), "--weight", "w", "--mean", "x", "--by", "country_name"])

    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[1].startswith("'=cmd|' /C calc'!A0,-3.5,")
    back = pd.read_csv(io.StringIO(out))
    assert back["country_name"].tolist() == ["'" + FORMULA, "Kenya"]
    assert back["estimate"].tolist() == pytest.approx([-3.5, 2.0]) and back["estimate"].dtype == "float64"
    assert back["ci_lower"].iloc[0] < -3.5 and back["status"].tolist() == ["Q", "Q"]  # n<25: text, no formula
