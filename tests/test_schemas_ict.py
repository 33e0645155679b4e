"""Rules for harmonised ICT values (schemas/ict.py), as the audit reports them: file, row, column, rule, value.

Bad cases go through the real path (cop_tidy file -> raw -> staging -> audit_ict), so each violation is checked to
point at the editor line and column of the cell a provider has to fix.
"""

from __future__ import annotations


import pandas as pd
import pytest

from indicators.sources.ict.harmonise import audit_ict
from schemas.ict import FIRST_YEAR, ICT_VARIABLES, LAST_YEAR, validate_ict_observations

HEADER = "ref_area,ref_area_name,year,internet_users_pct,mobile_cellular_per_100,population_total\n"
GOOD_ROWS = ("FRA,France,2020,80.5,110.2,67000000\n"
             "FRA,France,2021,82.25,111.9,67100000\n"
             "KEN,Kenya,2020,22.75,114.0,53000000\n")


@pytest.fixture
def audit(tmp_path, harmonised_warehouse):
    """Function (data rows of one cop_tidy file) -> (path of the file, audit violations)."""
    def run(rows: str, name: str = "ict.csv") -> tuple[str, list[dict]]:
        folder = tmp_path / f"src_{len(list(tmp_path.glob('src_*')))}"
        folder.mkdir()
        path = folder / name
        path.write_text(HEADER + rows, encoding="utf-8")
        con, _ = harmonised_warehouse(folder)
        return str(path.resolve()), audit_ict(con)
    return run


def test_good_file_has_no_violation(audit):
    _, violations = audit(GOOD_ROWS)
    assert violations == []


def test_good_frame_passes_validation():
    frame = pd.DataFrame([{"ref_area": "XKX", "year": 2020, "variable": "internet_users_pct", "value": 100.0,
                           "source_file": "a.csv", "source_row": 2, "source_column": "internet_users_pct",
                           "code_column": "ref_area", "year_column": "year", "ref_area_code": "XKX"}])
    assert validate_ict_observations(frame) == []


@pytest.mark.parametrize("value", ["101", "-0.5"])
def test_percentage_out_of_range(audit, value):
    path, violations = audit(f"FRA,France,2020,{value},110.2,67000000\n" + "KEN,Kenya,2020,22.75,114.0,53000000\n")
    assert violations == [{"file": path, "row": 2, "column": "internet_users_pct",
                           "rule": "internet_users_pct is a percentage and must be within [0, 100]",
                           "value": value, "position": "line"}]  # as typed in the file, at its line


def test_percentage_bounds_are_inclusive(audit):
    _, violations = audit("FRA,France,2020,0,110.2,67000000\nFRA,France,2021,100,111.9,67100000\n")
    assert violations == []


def test_mobile_cellular_over_its_ceiling(audit):
    path, violations = audit("FRA,France,2020,80.5,110.2,67000000\n" + "KEN,Kenya,2020,22.75,600,53000000\n")
    assert violations == [{"file": path, "row": 3, "column": "mobile_cellular_per_100",
                           "rule": "mobile_cellular_per_100 is per 100 inhabitants and must be >= 0 and below 500",
                           "value": "600", "position": "line"}]


def test_population_zero(audit):
    path, violations = audit(GOOD_ROWS + "DEU,Germany,2020,90.1,120.5,0\n")
    assert violations == [{"file": path, "row": 5, "column": "population_total",
                           "rule": "population_total is a population count and must be > 0 and below 2e+09",
                           "value": "0", "position": "line"}]


def test_unknown_country_code(audit):
    path, violations = audit(GOOD_ROWS + "ZZZ,Nowhere,2020,50.0,,\n")
    assert len(violations) == 1
    (v,) = violations
    assert (v["file"], v["row"], v["column"], v["value"]) == (path, 5, "ref_area", "ZZZ")
    assert "ISO 3166-1 alpha-3" in v["rule"]


def test_year_before_first_year(audit):
    path, violations = audit(GOOD_ROWS + "DEU,Germany,1950,,,70000000\n")
    assert violations == [{"file": path, "row": 5, "column": "year",
                           "rule": f"year must be within [{FIRST_YEAR}, {LAST_YEAR}]", "value": "1950",
                           "position": "line"}]
    assert FIRST_YEAR == 1960


def test_duplicated_country_year_in_one_file_reports_both_rows(audit):
    path, violations = audit("FRA,France,2020,80.5,,\n"
                             "KEN,Kenya,2020,22.75,,\n"
                             "FRA,France,2020,81.0,,\n")
    assert [(v["file"], v["row"], v["column"], v["value"]) for v in violations] == [
        (path, 2, "ref_area", "FRA"), (path, 4, "ref_area", "FRA")]
    assert violations[0]["rule"] == "duplicated country-year: FRA 2020 internet_users_pct also at line(s) 4"
    assert violations[1]["rule"] == "duplicated country-year: FRA 2020 internet_users_pct also at line(s) 2"


def test_same_country_year_in_two_files_is_not_a_violation(tmp_path, harmonised_warehouse):
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "first.csv").write_text(HEADER + "FRA,France,2020,80.5,110.2,67000000\n", encoding="utf-8")
    (folder / "second.csv").write_text(HEADER + "FRA,France,2020,79.0,109.0,66900000\n", encoding="utf-8")
    (folder / "sources.yaml").write_text("sources:\n  - file: first.csv\n    layout: cop_tidy\n"
                                         "  - file: second.csv\n    layout: cop_tidy\n", encoding="utf-8")
    con, counts = harmonised_warehouse(folder)
    assert counts["country_cells"] == 6 and counts["selected_cells"] == 3
    assert audit_ict(con) == []


def test_violations_are_sorted_by_row(audit):
    path, violations = audit("FRA,France,2020,101,,\n" + "KEN,Kenya,2020,22.75,600,0\n")
    assert [(v["row"], v["column"]) for v in violations] == [
        (2, "internet_users_pct"), (3, "mobile_cellular_per_100"), (3, "population_total")]


# ---------------------------------------------------------------------------------------- documented bounds
def test_percent_bounds_are_0_to_100_inclusive():
    internet = ICT_VARIABLES["internet_users_pct"]
    assert (internet.unit, internet.maximum) == ("percent", 100)
    assert internet.within_bounds(pd.Series([-0.001, 0.0, 100.0, 100.001])).tolist() == [False, True, True, False]


@pytest.mark.parametrize("name, ceiling", [
    ("mobile_cellular_per_100", 500),
    ("fixed_broadband_per_100", 100),
    ("mobile_broadband_per_100", 500),
])
def test_per_100_bounds_are_below_documented_ceiling(name, ceiling):
    variable = ICT_VARIABLES[name]
    assert (variable.unit, variable.maximum) == ("per_100", ceiling)
    checks = pd.Series([-0.001, 0.0, ceiling - 0.001, float(ceiling)])
    assert variable.within_bounds(checks).tolist() == [False, True, True, False]


def test_population_bounds_exclude_zero():
    population = ICT_VARIABLES["population_total"]
    assert population.unit == "persons"
    assert population.within_bounds(pd.Series([0.0, 1.0, 8.1e9])).tolist() == [False, True, False]


# ---------------------------------------------------------------------------------------------- structure
def _good_frame() -> pd.DataFrame:
    return pd.DataFrame([{"ref_area": "FRA", "year": 2020, "variable": "internet_users_pct", "value": 80.5,
                          "source_file": "a.csv", "source_row": 2, "source_column": "internet_users_pct",
                          "code_column": "ref_area", "year_column": "year", "ref_area_code": "FRA"}])


@pytest.mark.parametrize("broken", ["missing source_column", "integer value column"])
def test_structurally_invalid_frame_is_not_reported_valid(broken):
    frame = _good_frame()
    frame = frame.drop(columns=["source_column"]) if broken == "missing source_column" else frame.assign(value=80)
    assert validate_ict_observations(frame) != []
