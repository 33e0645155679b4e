"""Survey microdata ingest: reading delivered files, harmonising them with a mapping spec, and auditing them.

Code under test: indicators/sources/survey_microdata/reader.py (read_microdata), indicators/sources/survey_microdata/harmonise.py
(harmonise_source, writing staging.child_survey, quality.rejected_rows, quality.source_status),
schemas/mapping_spec.py (load_mapping_spec), indicators/sources/survey_microdata/specs.py, indicators/sources/survey_microdata/preflight.py and
`cop validate` in pipelines/cli.py.

Every test writes a small file and its YAML spec into tmp_path (fixture `write_source`), ingests it into an
in-memory DuckDB and looks at the warehouse tables. The base frame `survey()` is a valid child survey of two
strata with two PSUs each; tests change one thing in it. Known bugs are `xfail(strict=True)` with "BUG:" in the
reason, so that they turn into failures as soon as they are fixed.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pyreadr
import pyreadstat
import pytest
import yaml

from indicators.errors import ConfigError, InputError
from indicators.sources.survey_microdata.harmonise import SourceResult, harmonise_source, target_columns
from indicators.sources.survey_microdata.reader import read_microdata
from indicators.sources.survey_microdata.specs import find_specs, load_spec
from pipelines.cli import main
from schemas.mapping_spec import MappingSpec, load_mapping_spec

SOURCE = "kids_2021"
CHILD_COLUMNS = target_columns("child_survey")


# --- helpers ---------------------------------------------------------------------------------------------------

def survey(n: int = 8, **columns) -> pd.DataFrame:
    """A valid delivered file: ids 1..n, strata A (first half) and B, two PSUs per stratum, sex coded 1/2,
    ages 9-16; keyword arguments replace or add columns."""
    frame = pd.DataFrame({
        "id": list(range(1, n + 1)),
        "strat": ["A" if i < n / 2 else "B" for i in range(n)],
        "psu": [f"p{i % 2}" for i in range(n)],
        "w": [1.5] * n,
        "sex": [1, 2] * (n // 2) + [1] * (n % 2),
        "age": [9 + i % 8 for i in range(n)],
    })
    for name, values in columns.items():
        frame[name] = values
    return frame


def base_spec(**overrides) -> dict:
    """The spec of `survey()`; keyword arguments replace top-level keys."""
    spec = {
        "source_id": SOURCE,
        "target": "child_survey",
        "file": "data.parquet",
        "format": "parquet",
        "country": "ALB",
        "wave": 2021,
        "synthetic": True,
        "design": {"respondent_id": "id", "stratum": "strat", "psu": "psu", "weight": "w"},
        "rename": {"sex": "sex", "age": "age"},
        "recode": {"sex": {1: "M", 2: "F"}},
        "derive": {"parent_interviewed": {"value": False}},
    }
    spec.update(overrides)
    return spec


def write_data(frame: pd.DataFrame, path: Path, labels: dict | None = None, rda_name: str = "kids") -> Path:
    """Write `frame` in the format its suffix names (CSV: latin-1, ';')."""
    fmt = path.suffix.lstrip(".")
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "csv":
        frame.to_csv(path, sep=";", encoding="latin-1", index=False)
    elif fmt == "sav":
        pyreadstat.write_sav(frame, str(path), variable_value_labels=labels or {})
    elif fmt == "dta":
        pyreadstat.write_dta(frame, str(path), variable_value_labels=labels or {})
    elif fmt == "rds":
        pyreadr.write_rds(str(path), frame)
    elif fmt == "rda":
        pyreadr.write_rdata(str(path), frame, df_name=rda_name)
    else:
        raise ValueError(fmt)
    return path


def write_rda_with_two_objects(path: Path, first: tuple[str, pd.DataFrame], second: tuple[str, pd.DataFrame]) -> Path:
    """pyreadr writes one object per .rda: splice two uncompressed files into one (the body of an RData file is
    a pairlist of named objects ending in NILVALUE_SXP; the header is 'RDX2\\nX\\n' and three 4-byte ints)."""
    parts = []
    for name, frame in (first, second):
        single = path.with_name(f"_{name}.rda")
        pyreadr.write_rdata(str(single), frame, df_name=name)
        parts.append(single.read_bytes())
    header_bytes = 7 + 12
    assert parts[0][-4:] == b"\x00\x00\x00\xfe"
    path.write_bytes(parts[0][:-4] + parts[1][header_bytes:])
    assert list(pyreadr.read_r(str(path))) == [first[0], second[0]]
    return path


@pytest.fixture
def write_source(tmp_path):
    """Function (frame, spec=None, fmt="parquet", labels=None, folder=...) -> spec file: writes the data file
    `data.<fmt>` and `spec.yaml` beside it (the spec's `file` and `format` follow `fmt`)."""

    def write(frame: pd.DataFrame, spec: dict | None = None, fmt: str = "parquet", labels: dict | None = None,
              folder: str = "src") -> Path:
        where = tmp_path / folder
        where.mkdir(exist_ok=True)
        spec = dict(base_spec() if spec is None else spec)
        spec.setdefault("file", f"data.{fmt}")
        spec["file"], spec["format"] = f"data.{fmt}", fmt
        if fmt == "csv":
            spec.setdefault("csv", {"encoding": "latin-1", "delimiter": ";"})
        write_data(frame, where / spec["file"], labels)
        spec_file = where / "spec.yaml"
        spec_file.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return spec_file

    return write


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def load(spec_file: Path) -> MappingSpec:
    return load_mapping_spec(spec_file, CHILD_COLUMNS)


def ingest(con, spec_file: Path) -> SourceResult:
    """Read the spec's file into raw and harmonise it (as the pipeline does)."""
    spec = load(spec_file)
    read_microdata(con, spec, spec.path(spec_file))
    return harmonise_source(con, spec)


def staged(con, columns: str = "respondent_id", source_id: str = SOURCE) -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM staging.child_survey WHERE source_id = ? ORDER BY respondent_id",
                       [source_id]).fetchall()


def rejected(con, source_id: str = SOURCE) -> list[tuple]:
    return con.execute('SELECT source_row, "column", value, rule FROM quality.rejected_rows WHERE source_id = ? '
                       'ORDER BY source_row, "column", rule', [source_id]).fetchall()


def status(con, source_id: str = SOURCE) -> tuple:
    return con.execute("SELECT status, rows, accepted_rows, rejected_rows, reasons FROM quality.source_status "
                       "WHERE source_id = ?", [source_id]).fetchone()


def raw_rows(con, columns: str, source_id: str = SOURCE) -> list[tuple]:
    return con.execute(f'SELECT {columns} FROM raw."child_survey__{source_id}" ORDER BY _row').fetchall()


# --- 1. readers ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["parquet", "csv", "sav", "dta", "rds", "rda"])
def test_each_format_lands_in_raw_with_its_rows_and_values(write_source, con, fmt):
    frame = survey(6)
    result = ingest(con, write_source(frame, fmt=fmt))

    rows = raw_rows(con, "_row, id, strat, psu, w, sex, age")
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [(int(r[1]), r[2], r[3], float(r[4]), int(r[5]), int(r[6])) for r in rows] == \
        list(frame[["id", "strat", "psu", "w", "sex", "age"]].itertuples(index=False, name=None))
    assert result.accepted and result.rows == 6 and result.accepted_rows == 6
    assert [(s, a) for s, a in staged(con, "sex, age")] == [("M", 9), ("F", 10), ("M", 11), ("F", 12), ("M", 13),
                                                          ("F", 14)]


def test_read_microdata_returns_provenance(write_source, con):
    spec_file = write_source(survey(4))
    spec = load(spec_file)
    provenance = read_microdata(con, spec, spec.path(spec_file))
    assert provenance["source_id"] == SOURCE and provenance["format"] == "parquet"
    assert provenance["rows"] == 4 and provenance["synthetic"] is True
    assert len(provenance["sha256"]) == 64 and provenance["bytes"] == spec.path(spec_file).stat().st_size


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_value_labels_of_sav_and_dta_are_kept(write_source, con, fmt):
    labels = {"sex": {1: "boy", 2: "girl"}}
    ingest(con, write_source(survey(4), fmt=fmt, labels=labels))
    assert con.execute('SELECT source_id, "column", code, label FROM raw.microdata_value_labels ORDER BY code'
                       ).fetchall() == [(SOURCE, "sex", "1", "boy"), (SOURCE, "sex", "2", "girl")]


def test_value_labels_of_a_source_are_replaced_on_reread(write_source, con):
    ingest(con, write_source(survey(4), fmt="sav", labels={"sex": {1: "boy", 2: "girl"}}))
    ingest(con, write_source(survey(4), fmt="sav", labels={"sex": {1: "male", 2: "female"}}))
    assert con.execute("SELECT code, label FROM raw.microdata_value_labels ORDER BY code").fetchall() == \
        [("1", "male"), ("2", "female")]


def test_latin1_csv_with_semicolons_keeps_accented_text(write_source, con):
    frame = survey(4, strat=["Île-de-France", "Île-de-France", "Région Sud", "Région Sud"],
                   name=["Zoë", "José", "Ana", "Ção"])
    spec = base_spec(ignore=["name"])
    spec_file = write_source(frame, spec, fmt="csv")
    assert "é".encode("latin-1") in spec_file.with_name("data.csv").read_bytes()  # really latin-1, not UTF-8

    result = ingest(con, spec_file)

    assert [r[0] for r in raw_rows(con, "name")] == ["Zoë", "José", "Ana", "Ção"]
    assert result.accepted
    assert [r[0] for r in staged(con, "stratum")] == ["Île-de-France", "Île-de-France", "Région Sud", "Région Sud"]


def test_rds_factor_columns_arrive_as_their_labels(write_source, con):
    frame = survey(4, sex=pd.Categorical(["boy", "girl", "boy", "girl"]))
    spec = base_spec(recode={"sex": {"boy": "M", "girl": "F"}})
    ingest(con, write_source(frame, spec, fmt="rds"))
    assert [r[0] for r in raw_rows(con, "sex")] == ["boy", "girl", "boy", "girl"]
    assert [r[0] for r in staged(con, "sex")] == ["M", "F", "M", "F"]


def test_rda_with_two_objects_needs_rda_object(write_source, con):
    spec_file = write_source(survey(4), fmt="rda")
    write_rda_with_two_objects(spec_file.with_name("data.rda"), ("kids", survey(4)),
                               ("parents", pd.DataFrame({"pid": [1, 2]})))
    spec = load(spec_file)
    with pytest.raises(InputError) as error:
        read_microdata(con, spec, spec.path(spec_file))
    message = str(error.value)
    assert "data.rda" in message and "kids" in message and "parents" in message and "rda_object" in message


def test_rda_object_picks_the_named_object(write_source, con):
    spec_file = write_source(survey(4), base_spec(rda_object="kids"), fmt="rda")
    write_rda_with_two_objects(spec_file.with_name("data.rda"), ("parents", pd.DataFrame({"pid": [7, 8, 9]})),
                               ("kids", survey(4)))
    result = ingest(con, spec_file)
    assert result.accepted and result.rows == 4
    assert [r[0] for r in raw_rows(con, "_row")] == [1, 2, 3, 4]


def test_rda_object_that_is_not_in_the_file_is_an_error_listing_the_objects(write_source, con):
    spec_file = write_source(survey(4), base_spec(rda_object="children"), fmt="rda")
    write_rda_with_two_objects(spec_file.with_name("data.rda"), ("kids", survey(4)),
                               ("parents", pd.DataFrame({"pid": [1]})))
    spec = load(spec_file)
    with pytest.raises(InputError, match=r"has no object 'children' \(it has: kids, parents\)"):
        read_microdata(con, spec, spec.path(spec_file))


@pytest.mark.parametrize("fmt", ["csv", "parquet", "sav", "rds"])
def test_empty_file_is_an_input_error_naming_the_file(write_source, con, fmt):
    spec_file = write_source(survey(2), fmt=fmt)
    data_file = spec_file.with_name(f"data.{fmt}")
    data_file.write_bytes(b"")
    spec = load(spec_file)
    with pytest.raises(InputError) as error:
        read_microdata(con, spec, data_file)
    assert str(data_file) in str(error.value) and "file is empty" in str(error.value)


def test_csv_with_a_header_only_is_an_input_error(write_source, con):
    spec_file = write_source(survey(2), fmt="csv")
    data_file = spec_file.with_name("data.csv")
    data_file.write_text("id;strat;psu;w;sex;age\n", encoding="latin-1")
    spec = load(spec_file)
    with pytest.raises(InputError) as error:
        read_microdata(con, spec, data_file)
    assert str(data_file) in str(error.value) and "no data rows" in str(error.value)


def test_missing_data_file_is_an_input_error(write_source, con, tmp_path):
    spec = load(write_source(survey(2)))
    with pytest.raises(InputError, match="file does not exist"):
        read_microdata(con, spec, tmp_path / "nowhere.parquet")


# --- 2. recodes and derivations --------------------------------------------------------------------------------

RECODE_FRAME = pd.DataFrame({
    "cnt": ["KSV", "KSV", "KSV", "ALB", "ALB", "ALB"],
    "id": [1, 2, 3, 1, 2, 3],  # unique only within country
    "strat": ["K", "K", "K", "A", "A", "A"],
    "psu": ["k1", "k2", "k1", "a1", "a2", "a1"],
    "w": [2.0, 2.0, 2.0, 3.0, 3.0, 3.0],
    "sex": [1, 2, 1, 2, 1, 2],
    "age": [9, 11, 12, 14, 15, 17],
    "internet": [1, 2, 8, 9, -9, 1],  # 8, 9: missing for this variable; -9: missing everywhere
    "bullied": ["Y", "N", "Y", "N", "-9", "99"],  # text codes; -9, 99 missing everywhere
    "ses": [1, 5, 99, 3, -9, 2],  # 99, -9: missing everywhere
})
RECODE_SPEC = base_spec(
    country=None, country_column="cnt", country_codes={"KSV": "XKX"},
    design={"respondent_id": ["cnt", "id"], "stratum": "strat", "psu": "psu", "weight": "w"},
    rename={"sex": "sex", "age": "age", "internet": "uses_internet", "bullied": "cyberbullied",
            "ses": "ses_quintile"},
    recode={"sex": {1: "M", 2: "F"}, "uses_internet": {1: True, 2: False}, "cyberbullied": {"Y": True, "N": False}},
    missing={"_all": [-9, 99], "uses_internet": [8, 9]},
    derive={"age_band": {"from": "age", "bands": {"9-11": [9, 11], "12-14": [12, 14], "15-17": [15, 17]}},
            "parent_interviewed": {"value": False}},
)
RECODE_SPEC.pop("country")


@pytest.fixture
def recoded(write_source, con):
    """The hand-made frame above, harmonised: staged rows in file order."""
    result = ingest(con, write_source(RECODE_FRAME, RECODE_SPEC))
    assert result.accepted and result.accepted_rows == 6, result
    assert rejected(con) == []

    def column(name: str) -> list:
        return [r[0] for r in con.execute(f'SELECT "{name}" FROM staging.child_survey ORDER BY country DESC, '
                                          "respondent_id").fetchall()]

    return column


def test_sex_codes_are_recoded(recoded):
    assert recoded("sex") == ["M", "F", "M", "F", "M", "F"]


def test_numeric_codes_become_booleans_and_missing_codes_null(recoded):
    # 1 -> true, 2 -> false; 8 and 9 (missing for uses_internet) and -9 (missing for all) -> null
    assert recoded("uses_internet") == [True, False, None, None, None, True]


def test_text_codes_become_booleans_and_numeric_missing_codes_in_text_null(recoded):
    assert recoded("cyberbullied") == [True, False, True, False, None, None]


def test_missing_codes_of_all_variables_apply_to_unrecoded_columns(recoded):
    assert recoded("ses_quintile") == [1, 5, None, 3, None, 2]


def test_age_band_is_derived_from_age_with_the_specs_bands(recoded):
    assert recoded("age") == [9, 11, 12, 14, 15, 17]
    assert recoded("age_band") == ["9-11", "9-11", "12-14", "12-14", "15-17", "15-17"]


def test_constant_derive_fills_the_whole_source(recoded):
    assert recoded("parent_interviewed") == [False] * 6


def test_country_from_a_column_uses_country_codes(recoded):
    assert recoded("country") == ["XKX", "XKX", "XKX", "ALB", "ALB", "ALB"]
    assert recoded("wave") == [2021] * 6


def test_respondent_id_from_two_columns_is_joined_with_a_dash(recoded):
    assert recoded("respondent_id") == ["KSV-1", "KSV-2", "KSV-3", "ALB-1", "ALB-2", "ALB-3"]


def test_design_columns_are_staged(recoded):
    assert recoded("source_id") == [SOURCE] * 6
    assert recoded("stratum") == ["K", "K", "K", "A", "A", "A"]
    assert recoded("psu") == ["k1", "k2", "k1", "a1", "a2", "a1"]
    assert recoded("weight") == [2.0, 2.0, 2.0, 3.0, 3.0, 3.0]
    assert recoded("fpc") == [None] * 6


def test_variables_the_spec_does_not_produce_are_null(recoded):
    assert recoded("urbanisation") == [None] * 6
    assert recoded("told_parent") == [None] * 6


def test_country_without_a_mapping_is_upper_cased(write_source, con):
    spec = dict(RECODE_SPEC, country_codes={})
    ingest(con, write_source(RECODE_FRAME.assign(cnt=["alb"] * 3 + ["mkd"] * 3), spec))
    assert sorted({r[0] for r in staged(con, "country")}) == ["ALB", "MKD"]


def test_missing_text_code_is_null(write_source, con):
    """Missing codes may be text too (e.g. "DK")."""
    spec = base_spec(rename={"sex": "sex", "age": "age", "bullied": "cyberbullied"},
                     recode={"sex": {1: "M", 2: "F"}, "cyberbullied": {"yes": True, "no": False}},
                     missing={"cyberbullied": ["DK"]})
    ingest(con, write_source(survey(4, bullied=["yes", "DK", "no", "DK"]), spec))
    assert [r[0] for r in staged(con, "cyberbullied")] == [True, None, False, None]
    assert rejected(con) == []


# --- 3. row-level rules ----------------------------------------------------------------------------------------

def lenient(**overrides) -> dict:
    """The base spec, accepting any share of rejected rows (so the source stays and only rows go)."""
    return base_spec(max_rejected_share=1.0, **overrides)


def assert_only_row_rejected(con, result: SourceResult, row: int, n: int) -> None:
    assert result.accepted and result.rejected_rows == 1 and result.accepted_rows == n - 1
    assert [r[0] for r in staged(con)] == sorted(str(i) for i in range(1, n + 1) if i != row)
    assert status(con)[:4] == ("accepted", n, n - 1, 1)


def test_code_not_in_the_recode_rejects_the_row(write_source, con):
    result = ingest(con, write_source(survey(4, sex=[1, 2, 3, 1]), lenient()))
    # the unknown code is reported as such, once: not also as the missing value it leaves behind
    assert rejected(con) == [(3, "sex", "3", "sex must be one of: 1, 2")]
    assert_only_row_rejected(con, result, 3, 4)
    assert result.rule_counts == {"sex must be one of: 1, 2": 1}


def test_value_of_the_wrong_type_rejects_the_row(write_source, con):
    frame = survey(4, age=["10", "11", "twelve", "13"])
    result = ingest(con, write_source(frame, lenient(), fmt="csv"))
    assert (3, "age", "twelve", "age must be a whole number") in rejected(con)
    assert {r[0] for r in rejected(con)} == {3}
    assert_only_row_rejected(con, result, 3, 4)


def test_age_above_17_breaks_the_schema_check(write_source, con):
    result = ingest(con, write_source(survey(4, age=[10, 25, 12, 13]), lenient()))
    assert rejected(con) == [(2, "age", "25", "age must be between 5 and 17")]
    assert_only_row_rejected(con, result, 2, 4)


def test_missing_required_value_rejects_the_row(write_source, con):
    result = ingest(con, write_source(survey(4, sex=[1, 2, None, 2]), lenient()))
    assert rejected(con) == [(3, "sex", None, "required value is missing")]
    assert_only_row_rejected(con, result, 3, 4)


def test_missing_code_in_a_required_variable_rejects_the_row(write_source, con):
    result = ingest(con, write_source(survey(4, sex=[1, 9, 1, 2]), lenient(missing={"sex": [9]})))
    # the value as delivered, and why a delivered value counts as missing
    assert rejected(con) == [(2, "sex", "9", "required value is a missing code in the spec")]
    assert_only_row_rejected(con, result, 2, 4)


def test_age_outside_its_band_rejects_the_row(write_source, con):
    spec = lenient(rename={"sex": "sex", "age": "age", "band": "age_band"})
    result = ingest(con, write_source(survey(4, age=[10, 11, 14, 13], band=["9-11", "9-11", "9-11", "12-14"]), spec))
    assert [(r[0], r[3]) for r in rejected(con)] == [(3, "age is within age_band")]
    assert_only_row_rejected(con, result, 3, 4)


def test_age_band_rejection_names_a_real_column(write_source, con):
    spec = lenient(rename={"sex": "sex", "age": "age", "band": "age_band"})
    ingest(con, write_source(survey(4, age=[10, 11, 14, 13], band=["9-11", "9-11", "9-11", "12-14"]), spec))
    [(row, column, value, rule)] = rejected(con)
    assert column in ("age", "age_band") and value in ("14", "9-11")


def test_age_outside_every_derived_band_is_rejected(write_source, con):
    spec = lenient(derive={"age_band": {"from": "age", "bands": {"9-11": [9, 11], "12-14": [12, 14]}},
                           "parent_interviewed": {"value": False}})
    result = ingest(con, write_source(survey(4, age=[8, 10, 12, 14]), spec))
    assert result.rejected_rows == 1 and [r[0] for r in rejected(con)] == [1]


def test_unknown_text_code_is_rejected_when_missing_codes_are_numeric(write_source, con):
    spec = lenient(rename={"sex": "sex", "age": "age", "bullied": "cyberbullied"},
                   recode={"sex": {1: "M", 2: "F"}, "cyberbullied": {"Y": True, "N": False}},
                   missing={"_all": [99]})
    ingest(con, write_source(survey(4, bullied=["Y", "N", "maybe", "99"]), spec))
    assert rejected(con) == [(3, "cyberbullied", "maybe", "cyberbullied must be one of: Y, N (or a missing code: 99)")]


def test_unknown_text_code_is_rejected_when_recode_keys_are_numeric(write_source, con):
    spec = lenient(rename={"sex": "sex", "age": "age", "internet": "uses_internet"},
                   recode={"sex": {1: "M", 2: "F"}, "uses_internet": {1: True, 2: False}})
    ingest(con, write_source(survey(4, internet=["1", "2", "x", "1"]), spec))
    assert rejected(con) == [(3, "uses_internet", "x", "uses_internet must be one of: 1, 2")]


def test_numbers_other_than_0_and_1_are_not_valid_booleans(write_source, con):
    spec = lenient(rename={"sex": "sex", "age": "age", "internet": "uses_internet"})
    ingest(con, write_source(survey(4, internet=[1, 2, -9, 0]), spec))
    assert [(r[0], r[1]) for r in rejected(con)] == [(2, "uses_internet"), (3, "uses_internet")]


def test_fractional_age_is_not_a_valid_integer(write_source, con):
    ingest(con, write_source(survey(4, age=[10.0, 12.7, 11.0, 9.0]), lenient()))
    assert [(r[0], r[1]) for r in rejected(con)] == [(2, "age")]


def test_numeric_ids_from_sav_are_staged_as_written(write_source, con):
    ingest(con, write_source(survey(4), fmt="sav"))
    assert [r[0] for r in staged(con)] == ["1", "2", "3", "4"]


# --- 4. source-level rules -------------------------------------------------------------------------------------

def _weights(*values):
    return lambda f: f.assign(w=list(values) + [1.5] * (len(f) - len(values)))


SOURCE_BREAKS = {
    # a Parquet file: positions are record numbers (tests/test_microdata_error_locations.py has CSV lines)
    "weight missing": (_weights(1.5, None), {},
                       "design variable broken: column 'w' (weight) missing, not a number, zero or negative in "
                       "1 row(s) (record 2)"),
    "weight zero": (_weights(1.5, 1.5, 0.0), {},
                    "design variable broken: column 'w' (weight) missing, not a number, zero or negative in 1 row(s) "
                    "(record 3; values '0')"),
    "weight negative": (_weights(-2.0, 1.5, 1.5, -1.0), {},
                        "design variable broken: column 'w' (weight) missing, not a number, zero or negative in "
                        "2 row(s) (records 1, 4; values '-2', '-1')"),
    "stratum missing": (lambda f: f.assign(strat=[None] + list(f.strat[1:])), {},
                        "design variable broken: column 'strat' (stratum) missing in 1 row(s) (record 1)"),
    "PSU missing": (lambda f: f.assign(psu=list(f.psu[:7]) + [None]), {},
                    "design variable broken: column 'psu' missing in 1 row(s) (record 8)"),
    "duplicated respondent id": (lambda f: f.assign(id=[1, 2, 3, 4, 5, 6, 2, 8]), {},
                                 "respondent id not unique: 1 id(s) repeated in column 'id' (respondent_id) "
                                 "(e.g. '2' at records 2, 7)"),
    "fpc varying within a stratum": (lambda f: f.assign(fpc=[10, 10, 12, 10, 20, 20, 20, 20]),
                                     {"design": {"respondent_id": "id", "stratum": "strat", "psu": "psu",
                                                 "weight": "w", "fpc": "fpc"}},
                                     "column 'fpc' not constant within stratum, or below the number of PSUs sampled: "
                                     "1 stratum/strata (e.g. A; the harmonised fpc is the number of PSUs in "
                                     "the stratum's population, not a sampling fraction)"),
    "spec column absent from the file": (lambda f: f, {"rename": {"sex": "sex", "age": "age",
                                                                  "urban": "urbanisation"}},
                                         "column 'urban' named in the spec (key rename.urban) is not in the file"),
    "design column absent from the file": (lambda f: f.drop(columns="w"), {},
                                           "column 'w' named in the spec (key design.weight) is not in the file"),
    "file column neither mapped nor ignored": (lambda f: f.assign(notes="x", extra=1), {},
                                               "column(s) in the file that the spec neither maps nor ignores: "
                                               "extra, notes"),
}


@pytest.mark.parametrize("case", list(SOURCE_BREAKS))
def test_source_level_breach_rejects_the_whole_source(write_source, con, case):
    """The good file is accepted first, so the test also shows the rejection removing its staged rows."""
    breaks, spec_changes, reason = SOURCE_BREAKS[case]
    assert ingest(con, write_source(survey(8))).accepted
    assert len(staged(con)) == 8

    result = ingest(con, write_source(breaks(survey(8)), base_spec(**spec_changes)))

    assert result.status == "rejected" and reason in result.reasons
    assert staged(con) == []
    state, rows, accepted_rows, _, reasons = status(con)
    assert (state, rows, accepted_rows) == ("rejected", 8, 0) and reason in reasons


def test_too_many_rejected_rows_reject_the_source(write_source, con):
    sex = [1, 2] * 10
    sex[6] = 7  # 1 row in 20 = 5 %
    result = ingest(con, write_source(survey(20, sex=sex), base_spec(max_rejected_share=0.01)))
    reason = "1 of 20 rows (5.0%) break a row rule, more than the spec's max_rejected_share of 1.0%"
    assert result.status == "rejected" and result.reasons == [reason]
    assert staged(con) == []
    assert status(con) == ("rejected", 20, 0, 1, reason)
    assert (7, "sex", "7", "sex must be one of: 1, 2") in rejected(con)


def test_rejected_share_at_the_limit_is_accepted(write_source, con):
    sex = [1, 2] * 10
    sex[6] = 7
    result = ingest(con, write_source(survey(20, sex=sex), base_spec(max_rejected_share=0.05)))
    assert result.accepted and result.accepted_rows == 19 and len(staged(con)) == 19


def test_ignored_file_columns_are_allowed(write_source, con):
    result = ingest(con, write_source(survey(4, notes="x"), base_spec(ignore=["notes"])))
    assert result.accepted


def test_consistent_fpc_is_accepted_and_staged(write_source, con):
    spec = base_spec(design={"respondent_id": "id", "stratum": "strat", "psu": "psu", "weight": "w", "fpc": "fpc"})
    ingest(con, write_source(survey(4, fpc=[10, 10, 30, 30]), spec))
    assert [r[0] for r in staged(con, "fpc")] == [10.0, 10.0, 30.0, 30.0]


def test_reharmonising_an_accepted_source_replaces_its_rows(write_source, con):
    ingest(con, write_source(survey(8)))
    result = ingest(con, write_source(survey(6, age=[15] * 6)))
    assert result.accepted
    assert staged(con, "respondent_id, age") == [(str(i), 15) for i in range(1, 7)]
    assert con.execute("SELECT count(*) FROM quality.source_status").fetchone()[0] == 1


def test_reharmonising_replaces_the_rejected_rows_of_the_source(write_source, con):
    ingest(con, write_source(survey(4, sex=[1, 2, 3, 1]), lenient()))
    assert {r[0] for r in rejected(con)} == {3}
    ingest(con, write_source(survey(4)))
    assert rejected(con) == [] and len(staged(con)) == 4


def test_other_sources_are_untouched_by_a_rejection(write_source, con):
    ingest(con, write_source(survey(4), base_spec(source_id="other"), folder="other"))
    ingest(con, write_source(survey(4, w=0.0)))
    assert status(con)[0] == "rejected" and staged(con) == []
    assert len(staged(con, source_id="other")) == 4 and status(con, "other")[0] == "accepted"


# --- 5. spec errors --------------------------------------------------------------------------------------------

def _without_weight(spec):
    spec["design"] = {k: v for k, v in spec["design"].items() if k != "weight"}


SPEC_ERRORS = {
    "missing design.weight": (_without_weight, ["design.weight", "Field required"]),
    "unknown top-level key": (lambda s: s.update(colour="blue"), ["key colour", "Extra inputs"]),
    "both country and country_column": (lambda s: s.update(country_column="cnt"),
                                        ["'country'", "'country_column'", "exactly one"]),
    "rename to a variable not in the schema": (lambda s: s["rename"].update(q7="favourite_colour"),
                                               ["key rename.q7", "'favourite_colour'"]),
    "rename to a design variable": (lambda s: s["rename"].update(wt="weight"), ["key rename.wt"]),
    "recode of an unmapped variable": (lambda s: s["recode"].update(urbanisation={1: "U"}),
                                       ["key recode.urbanisation", "not a renamed or derived variable"]),
    "missing codes of an unmapped variable": (lambda s: s.update(missing={"told_parent": [9]}),
                                              ["key missing.told_parent"]),
    "overlapping bands": (lambda s: s["derive"].update(age_band={"from": "age", "bands": {"9-12": [9, 12],
                                                                                          "12-14": [12, 14]}}),
                          ["derive.age_band", "bands overlap at 12"]),
    "band from an unmapped variable": (lambda s: s["derive"].update(age_band={"from": "years",
                                                                              "bands": {"9-12": [9, 12]}}),
                                       ["key derive.age_band.from", "'years'"]),
    "derive of a variable not in the schema": (lambda s: s["derive"].update(height={"value": 1}),
                                               ["key derive.height"]),
    "country code not ISO3": (lambda s: s.update(country=None, country_column="cnt", country_codes={"KSV": "Kos"}),
                              ["key country_codes.KSV", "'Kos'"]),
    "data file that does not exist": (lambda s: s.update(file="missing.parquet"), ["key file", "missing.parquet",
                                                                                  "does not exist"]),
    "bad source_id": (lambda s: s.update(source_id="Kids 2021"), ["key source_id"]),
    "unknown format": (lambda s: s.update(format="xlsx"), ["key format"]),
    "csv options on a parquet file": (lambda s: s.update(csv={"delimiter": ";"}), ["'csv' options"]),
    "max_rejected_share above 1": (lambda s: s.update(max_rejected_share=2), ["key max_rejected_share"]),
}


@pytest.mark.parametrize("case", list(SPEC_ERRORS))
def test_spec_error_names_the_spec_file_and_the_key(write_source, case):
    change, expected = SPEC_ERRORS[case]
    spec_file = write_source(survey(2))
    spec = yaml.safe_load(spec_file.read_text())
    change(spec)
    spec_file.write_text(yaml.safe_dump(spec))

    with pytest.raises(ConfigError) as error:
        load(spec_file)

    message = str(error.value)
    assert str(spec_file) in message
    for text in expected:
        assert text in message, message


def test_spec_file_that_does_not_exist_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the mapping spec") as error:
        load(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(error.value)


def test_spec_that_is_not_a_mapping_is_a_config_error(tmp_path):
    spec_file = tmp_path / "list.yaml"
    spec_file.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="a mapping spec is a YAML mapping"):
        load(spec_file)


def test_every_spec_problem_is_reported_at_once(write_source):
    spec_file = write_source(survey(2))
    spec = yaml.safe_load(spec_file.read_text())
    spec["rename"]["q7"] = "favourite_colour"
    spec["recode"]["urbanisation"] = {1: "U"}
    spec_file.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError) as error:
        load(spec_file)
    assert "rename.q7" in str(error.value) and "recode.urbanisation" in str(error.value)


def test_valid_spec_loads_and_resolves_its_file_beside_itself(write_source):
    spec_file = write_source(survey(2))
    spec = load(spec_file)
    assert spec.source_id == SOURCE and spec.path(spec_file) == spec_file.with_name("data.parquet")
    assert spec.max_rejected_share == 0.05


def test_find_specs_lists_specs_and_skips_other_yaml(write_source, tmp_path):
    spec_file = write_source(survey(2))
    (spec_file.parent / "ict_variables.yaml").write_text("column_labels: {a: b}\n")
    assert find_specs(spec_file.parent) == {SOURCE: spec_file}
    assert load_spec(spec_file).source_id == SOURCE


def test_find_specs_rejects_two_specs_with_one_source_id(write_source):
    spec_file = write_source(survey(2))
    (spec_file.parent / "copy.yaml").write_text(spec_file.read_text())
    with pytest.raises(ConfigError, match="source_id"):
        find_specs(spec_file.parent)


def test_load_spec_rejects_an_unknown_target(write_source):
    spec_file = write_source(survey(2))
    spec_file.write_text(spec_file.read_text().replace("target: child_survey", "target: adults"))
    with pytest.raises(ConfigError, match="key target"):
        load_spec(spec_file)


# --- 6. cop validate -------------------------------------------------------------------------------------------

def validate(capsys, spec_file: Path, *options: str, data_file: Path | None = None) -> tuple[int, str, str]:
    code = main(["validate", str(data_file or spec_file.with_name("data.parquet")), "--mapping", str(spec_file),
                 *options])
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_accepts_a_good_file(write_source, capsys):
    code, out, _ = validate(capsys, write_source(survey(8)))
    assert code == 0 and "ACCEPTED" in out and "rows 8, kept 8, rejected rows 0" in out


def test_validate_rejects_broken_weights_with_the_reason(write_source, capsys):
    code, out, _ = validate(capsys, write_source(survey(8, w=[1.5, 0.0, 1.5, 1.5, 1.5, -1, 1.5, 1.5])))
    assert code == 1 and "REJECTED" in out
    assert ("design variable broken: column 'w' (weight) missing, not a number, zero or negative in 2 row(s) "
            "(records 2, 6; values '0', '-1')") in out


def test_validate_lists_row_failures(write_source, capsys):
    code, out, _ = validate(capsys, write_source(survey(8, sex=[1, 2, 1, 2, 5, 2, 1, 2]), lenient()))
    assert code == 0
    assert "data.parquet, record 5, column 'sex': sex must be one of: 1, 2 (value '5')" in out


def test_validate_missing_data_file_is_a_usage_error(write_source, capsys, tmp_path):
    code, _, err = validate(capsys, write_source(survey(4)), data_file=tmp_path / "absent.parquet")
    assert code == 2 and "absent.parquet" in err and "no such file" in err


def test_validate_missing_spec_is_a_usage_error(write_source, capsys, tmp_path):
    data_file = write_source(survey(4)).with_name("data.parquet")
    code, _, err = validate(capsys, tmp_path / "absent.yaml", data_file=data_file)
    assert code == 2 and "--mapping" in err


def test_validate_broken_spec_is_a_usage_error(write_source, capsys):
    spec_file = write_source(survey(4))
    spec_file.write_text(spec_file.read_text().replace("weight: w", "wieght: w"))
    code, out, err = validate(capsys, spec_file)
    assert code == 2 and out == ""
    assert str(spec_file) in err and "design.weight" in err and "design.wieght" in err


def test_validate_empty_data_file_is_a_rejection(write_source, capsys):
    spec_file = write_source(survey(4))
    spec_file.with_name("data.parquet").write_bytes(b"")
    code, _, err = validate(capsys, spec_file)
    assert code == 1 and "file is empty" in err


def test_validate_json_of_an_accepted_file(write_source, capsys):
    code, out, _ = validate(capsys, write_source(survey(8)), "--json")
    report = json.loads(out)
    assert code == 0 and report["accepted"] is True and report["rule_counts"] == {}
    assert report["source_id"] == SOURCE and report["rows"] == 8 and report["file"]["format"] == "parquet"


def test_validate_json_of_a_rejected_file(write_source, capsys):
    sex = [1, 2] * 10
    sex[3] = 4
    code, out, _ = validate(capsys, write_source(survey(20, sex=sex), base_spec(max_rejected_share=0.01)), "--json")
    report = json.loads(out)
    assert code == 1 and report["accepted"] is False and report["status"] == "rejected"
    assert report["rule_counts"]["sex must be one of: 1, 2"] == 1
    assert report["first_failures"][0] == {
        "source_row": 4, "column": "sex", "value": "4", "rule": "sex must be one of: 1, 2", "line": None,
        "file_column": "sex", "message": "data.parquet, record 4, column 'sex': sex must be one of: 1, 2 (value '4')"}


def test_validate_html_report(write_source, capsys, tmp_path):
    report_file = tmp_path / "r.html"
    spec_file = write_source(survey(8, sex=[1, 2, 1, 2, 1, 2, 6, 2]), lenient())
    code, out, _ = validate(capsys, spec_file, "--report", str(report_file))
    assert code == 0 and f"report written to {report_file}" in out
    page = report_file.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and SOURCE in page
    assert "<tr><td>record 7</td><td>sex</td><td>6</td><td>sex must be one of: 1, 2</td></tr>" in page


def test_validate_design_summary_lists_lonely_psus(write_source, capsys):
    frame = survey(8, psu=["p0", "p1", "p0", "p1", "p9", "p9", "p9", "p9"])  # stratum B has one PSU
    code, out, _ = validate(capsys, write_source(frame))
    assert code == 0
    assert "design: 2 strata, 3 PSUs, weights 1.5 to 1.5 (sum 12)" in out
    assert "lonely PSUs (strata with one PSU): B" in out


def test_validate_design_summary_without_lonely_psus(write_source, capsys):
    code, out, _ = validate(capsys, write_source(survey(8)))
    assert "design: 2 strata, 4 PSUs" in out and "lonely PSUs (strata with one PSU): none" in out


def test_validate_does_not_write_a_warehouse(write_source, capsys):
    spec_file = write_source(survey(4))
    validate(capsys, spec_file)
    assert sorted(p.name for p in spec_file.parent.iterdir()) == ["data.parquet", "spec.yaml"]


def test_validate_checks_the_given_file_not_the_specs_file(write_source, capsys, tmp_path):
    spec_file = write_source(survey(4))
    other = write_data(survey(4, w=0.0), tmp_path / "delivery.parquet")
    code, out, _ = validate(capsys, spec_file, data_file=other)
    assert code == 1 and "delivery.parquet" in out


def test_validate_does_not_need_the_specs_file_to_exist(write_source, capsys, tmp_path):
    spec_file = write_source(survey(4))
    delivery = write_data(survey(4), tmp_path / "delivery.parquet")
    spec_file.with_name("data.parquet").unlink()
    code, out, err = validate(capsys, spec_file, data_file=delivery)
    assert code == 0 and "ACCEPTED" in out, err


def test_sources_harmonised_together_get_the_verdicts_and_rows_they_get_one_by_one(write_source, con):
    """harmonise_sources validates the rows of several sources in one pandera pass (as a build does): each source
    keeps its own verdict, rows and rejected rows (numbered within its own file), exactly as when harmonised
    alone; a rejected source does not disturb the others."""
    from indicators.sources.survey_microdata.harmonise import harmonise_sources

    files = {"clean": write_source(survey(8), base_spec(source_id="clean"), folder="clean"),
             # row 3's sex code is unknown and row 2 is 25 years old: two rows go, the source stays
             "rows": write_source(survey(6, sex=[1, 2, 3, 1, 2, 1], age=[10, 25, 12, 13, 14, 15]),
                                  lenient(source_id="rows"), folder="rows"),
             "design": write_source(survey(4, w=0.0), base_spec(source_id="design"), folder="design")}
    specs = [load(f) for f in files.values()]
    for spec, spec_file in zip(specs, files.values()):
        read_microdata(con, spec, spec.path(spec_file))
    together = harmonise_sources(con, specs)
    assert [r.status for r in together.values()] == ["accepted", "accepted", "rejected"]
    assert (together["rows"].rejected_rows, together["rows"].accepted_rows) == (2, 4)
    assert rejected(con, "rows") == [(2, "age", "25", "age must be between 5 and 17"),
                                     (3, "sex", "3", "sex must be one of: 1, 2")]

    def tables(connection) -> list:
        return [connection.execute(f"SELECT * {skip} FROM {t} ORDER BY ALL").fetchall()
                for t, skip in (("staging.child_survey", ""), ("quality.rejected_rows", ""),
                                ("quality.source_status", "EXCLUDE (checked_at)"))]

    alone = duckdb.connect()
    for spec, spec_file in zip(specs, files.values()):
        read_microdata(alone, spec, spec.path(spec_file))
        assert harmonise_source(alone, spec) == together[spec.source_id]
    assert tables(alone) == tables(con)
    alone.close()
