"""observations.sdmx.csv and its structure: read back with pysdmx, every value equals observations.parquet."""

from __future__ import annotations

import csv
import json

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from indicators.errors import CopError
from indicators.sdmx import (ATTRIBUTES, CODED, CSV_FILE, DIMENSIONS, STRUCTURE_FILE, codelist,
                             read_observations_sdmx, read_structure, sdmx_indicator_code, write_sdmx_files)
from schemas.observations import OBSERVATION_COLUMNS

NUMBERS = ["OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV", "COVERAGE"]
TEXTS = ["REF_AREA", "SEX", "AGE", "URBANISATION", "UNIT_MEASURE", "OBS_STATUS", "CONF_STATUS", "COMMENT_OBS",
         "SOURCE_ID"]
HEADER = ["STRUCTURE", "STRUCTURE_ID", "ACTION", "INDICATOR", "REF_AREA", "SEX", "AGE", "URBANISATION",
          "TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV", "N_UNWEIGHTED",
          "OBS_STATUS", "CONF_STATUS", "COMMENT_OBS", "COVERAGE", "SOURCE_ID", "SYNTHETIC", "RELEASE_ID"]


def _parquet(path) -> pd.DataFrame:
    """observations.parquet with true nulls: None in text columns, NaN only for a null number."""
    return pq.read_table(path).to_pandas().astype({"N_UNWEIGHTED": "Int64"})


@pytest.fixture(scope="module")
def release(full_sample_build):
    folder, _ = full_sample_build
    return folder


@pytest.fixture(scope="module")
def observations(release):
    return _parquet(release / "observations.parquet")


def test_pysdmx_reads_back_every_value_of_observations_parquet(release, observations):
    dataset = read_observations_sdmx(release / CSV_FILE, release / STRUCTURE_FILE)
    back = dataset.data
    assert dataset.short_urn == "DataStructure=COP:DSD_COP_INDICATORS(1.0)"
    assert dataset.attributes == {"RELEASE_ID": "sample-full"}
    assert (observations["RELEASE_ID"] == "sample-full").all()
    assert len(back) == len(observations) > 10_000
    assert list(back.columns) == [c for c in HEADER[3:] if c != "RELEASE_ID"]
    expected, got = observations.reset_index(drop=True), back.reset_index(drop=True)
    # the same rows in the same order: the key first, then every value, nulls included
    assert got["INDICATOR"].tolist() == expected["INDICATOR"].str.replace(".", "_", regex=False).tolist()
    assert got["TIME_PERIOD"].astype(int).tolist() == expected["TIME_PERIOD"].tolist()
    for column in TEXTS:
        # pysdmx reads an absent text attribute as ''; the release has no empty text, only nulls
        assert not (expected[column] == "").any()
        want = expected[column].where(expected[column].notna(), "")
        assert got[column].astype(object).tolist() == want.tolist(), column
    for column in NUMBERS:
        want = expected[column].to_numpy(dtype=float)
        have = got[column].astype("float64").to_numpy(dtype=float, na_value=float("nan"))
        assert (pd.isna(have) == pd.isna(want)).all(), column
        assert (have[~pd.isna(want)] == want[~pd.isna(want)]).all(), column  # bit-for-bit, no tolerance
    assert got["N_UNWEIGHTED"].astype("Int64").tolist() == expected["N_UNWEIGHTED"].tolist()
    assert got["SYNTHETIC"].astype(bool).tolist() == expected["SYNTHETIC"].tolist()
    # blank cells keep their row and their reason
    blank = expected["OBS_VALUE"].isna()
    assert blank.sum() > 1000 and set(expected.loc[blank, "OBS_STATUS"]) == {"Q", "L", "O"}
    assert got.loc[blank, "OBS_STATUS"].tolist() == expected.loc[blank, "OBS_STATUS"].tolist()


def test_csv_text_is_sdmx_csv_2_0_and_holds_the_stored_doubles(release, observations):
    """Independent of pysdmx: the file read with the csv module, each number parsed by float()."""
    with open(release / CSV_FILE, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == HEADER
    body = pd.DataFrame(rows[1:], columns=HEADER)
    assert len(body) == len(observations)
    assert set(body["STRUCTURE"]) == {"datastructure"}
    assert set(body["STRUCTURE_ID"]) == {"COP:DSD_COP_INDICATORS(1.0)"}
    assert set(body["ACTION"]) == {"I"} and set(body["RELEASE_ID"]) == {"sample-full"}
    for column in NUMBERS:
        for text, value in zip(body[column], observations[column]):
            assert (text == "") if pd.isna(value) else float(text) == value, (column, text, value)
    assert body["SYNTHETIC"].tolist() == ["true" if s else "false" for s in observations["SYNTHETIC"]]
    assert body["N_UNWEIGHTED"].tolist() == ["" if pd.isna(n) else str(n) for n in observations["N_UNWEIGHTED"]]
    assert not body["OBS_VALUE"].str.endswith(".0").any()  # whole numbers written as integers


def test_structure_lists_the_components_and_every_code_used(release, observations):
    message = read_structure(release / STRUCTURE_FILE)
    dsd = message.get_data_structure_definition("DataStructure=COP:DSD_COP_INDICATORS(1.0)")
    components = dsd.components
    assert [d.id for d in components.dimensions] == DIMENSIONS
    assert [m.id for m in components.measures] == ["OBS_VALUE"]
    assert [a.id for a in components.attributes] == list(ATTRIBUTES)
    assert {a.id: a.attachment_level for a in components.attributes}["RELEASE_ID"] == "D"
    assert {a.id: a.attachment_level for a in components.attributes}["UNIT_MEASURE"] == "INDICATOR"
    assert {a.id for a in components.attributes if a.required} == {"UNIT_MEASURE", "OBS_STATUS", "CONF_STATUS",
                                                                   "SYNTHETIC", "RELEASE_ID"}
    assert {c.id: c.dtype.value for c in components}["OBS_VALUE"] == "Double"
    assert {c.id: c.dtype.value for c in components}["N_UNWEIGHTED"] == "Long"
    assert {c.id: c.dtype.value for c in components}["SYNTHETIC"] == "Boolean"
    data = pd.read_csv(release / CSV_FILE, dtype=str, keep_default_na=False)
    with duckdb.connect(str(release / "cop_indicators.duckdb"), read_only=True) as db:
        labels = {"SEX": dict(db.execute("SELECT code, label FROM SEX").fetchall()),
                  "OBS_STATUS": dict(db.execute("SELECT code, label FROM OBS_STATUS").fetchall()),
                  "REF_AREA": dict(db.execute("SELECT ref_area, name FROM areas").fetchall())}
        catalogue = dict(db.execute("SELECT code, name FROM catalogue").fetchall())
    for cid, codelist_id in CODED.items():
        component = next(c for c in components if c.id == cid)
        assert component.enumeration is not None and component.enumeration.id == codelist_id
        codes = {code.id: code for code in component.enumeration.items}
        used = set(data[cid])
        assert used <= set(codes), (cid, used - set(codes))
        assert used  # every coded component is used
        if cid in labels:  # the labels are the public database's
            assert {c: codes[c].name for c in codes} == labels[cid]
    indicators = {code.id: code for code in message.get_codelist("Codelist=COP:CL_INDICATOR(1.0)").items}
    assert {c.description.removeprefix("Registry code "): c.name for c in indicators.values()} == catalogue
    assert set(observations["INDICATOR"]) <= set(catalogue)
    assert indicators["PA_3_GPI"].description == "Registry code PA.3_GPI"
    concepts = {c.id: c for c in message.get_concept_scheme("ConceptScheme=COP:CS_COP_INDICATORS(1.0)").items}
    assert set(concepts) == set(OBSERVATION_COLUMNS)
    assert all(c.description for c in concepts.values())  # the public database's column comments
    raw = json.loads((release / STRUCTURE_FILE).read_text())
    assert raw["meta"]["schema"].endswith("/2.0.0/sdmx-json-structure-schema.json")


def test_release_manifest_lists_the_sdmx_files(release):
    outputs = {o["file"] for o in json.loads((release / "manifest.json").read_text())["outputs"]}
    assert {CSV_FILE, STRUCTURE_FILE} <= outputs


# ---------------------------------------------------------------------------------------- a hand-made release

def _hand_made_codelists() -> dict:
    def frame(codes):
        return pd.DataFrame({"code": codes, "name": [f"label of {c}" for c in codes]})
    return {"INDICATOR": codelist("CL_INDICATOR", frame(["BC_1", "PA_3", "IR_12"])),
            "REF_AREA": codelist("CL_AREA", frame(["KEN", "WLD"])),
            "SEX": codelist("CL_SEX", frame(["_T", "F", "M"])),
            "AGE": codelist("CL_AGE", frame(["_T", "Y9T11"])),
            "URBANISATION": codelist("CL_URBANISATION", frame(["_T", "U", "R"])),
            "UNIT_MEASURE": codelist("CL_UNIT_MEASURE", frame(["percent", "count"])),
            "OBS_STATUS": codelist("CL_OBS_STATUS", frame(["A", "U", "E", "Q", "L", "O"])),
            "CONF_STATUS": codelist("CL_CONF_STATUS", frame(["F", "N", "D", "A", "O"]))}


def _hand_made_observations(path, **change) -> None:
    rows = [
        # a country value with no sampling error
        ("BC.1", "KEN", 2019, "_T", "_T", "_T", 22.6, "percent", None, None, None, None, None, "A", "F", None,
         None, "wdi_it_net_user", False),
        # a survey cell suppressed for reliability: the row stays, with its reason and no statistic
        ("PA.3", "KEN", 2019, "F", "Y9T11", "_T", None, "percent", None, None, None, None, 12, "Q", "N",
         "n<25, cv>33.3%", None, "ken_2019", True),
        # a partial group total (a whole number), unrounded coverage; the statistics test number formats
        ("IR.12", "WLD", 2020, "_T", "_T", "_T", 1234567.0, "count", 0.1 + 0.2, 0.000012, 2.5e20, None, 3001,
         "E", "F", "coverage 83%", 0.8312345678901234, "ncmec_2020+wpp", False),
    ]
    frame = pd.DataFrame(rows, columns=OBSERVATION_COLUMNS[:-1]).assign(RELEASE_ID="r-1")
    frame = frame.astype({"N_UNWEIGHTED": "Int64", "COMMENT_OBS": "string", "COVERAGE": "float64"})
    for column, value in change.items():
        frame.loc[0, column] = value
    frame.to_parquet(path, index=False)


EXPECTED_CSV = """\
STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,SEX,AGE,URBANISATION,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,STD_ERR,\
CI_LOWER,CI_UPPER,CV,N_UNWEIGHTED,OBS_STATUS,CONF_STATUS,COMMENT_OBS,COVERAGE,SOURCE_ID,SYNTHETIC,RELEASE_ID
datastructure,COP:DSD_COP_INDICATORS(1.0),I,BC_1,KEN,_T,_T,_T,2019,22.6,percent,,,,,,A,F,,,wdi_it_net_user,false,r-1
datastructure,COP:DSD_COP_INDICATORS(1.0),I,PA_3,KEN,F,Y9T11,_T,2019,,percent,,,,,12,Q,N,"n<25, cv>33.3%",,\
ken_2019,true,r-1
datastructure,COP:DSD_COP_INDICATORS(1.0),I,IR_12,WLD,_T,_T,_T,2020,1234567,count,0.30000000000000004,1.2e-05,\
2.5e+20,,3001,E,F,coverage 83%,0.8312345678901234,ncmec_2020+wpp,false,r-1
"""


def test_hand_made_observations_give_the_expected_csv_text(tmp_path):
    _hand_made_observations(tmp_path / "observations.parquet")
    paths = write_sdmx_files(tmp_path, tmp_path / "observations.parquet", _hand_made_codelists(), "r-1")
    assert paths == [tmp_path / CSV_FILE, tmp_path / STRUCTURE_FILE]
    assert (tmp_path / CSV_FILE).read_text(encoding="utf-8") == EXPECTED_CSV
    back = read_observations_sdmx(*paths)
    assert back.attributes == {"RELEASE_ID": "r-1"}
    assert back.data["OBS_VALUE"].isna().tolist() == [False, True, False]
    assert back.data["STD_ERR"].tolist()[2] == 0.1 + 0.2 and back.data["CI_UPPER"].tolist()[2] == 2.5e20
    assert back.data["N_UNWEIGHTED"].tolist()[1:] == [12, 3001]
    assert back.data["SYNTHETIC"].tolist() == [False, True, False]
    # the hand-made code lists, not a release's, are what the structure names
    sex = read_structure(paths[1]).get_codelist("Codelist=COP:CL_SEX(1.0)")
    assert [(c.id, c.name) for c in sex.items] == [("_T", "label of _T"), ("F", "label of F"), ("M", "label of M")]


@pytest.mark.parametrize("change, message", [
    ({"REF_AREA": "ZZZ"}, "observations.parquet, row 1, column 'REF_AREA': code 'ZZZ' is not in code list CL_AREA"),
    ({"SOURCE_ID": ""}, "observations.parquet, row 1, column 'SOURCE_ID': an empty text is published as null"),
    ({"OBS_VALUE": float("inf")}, "observations.parquet, row 1, column 'OBS_VALUE': inf is not a publishable"),
    ({"INDICATOR": "IR.12"}, "indicators IR_12 have more than one unit"),  # percent here, count in row 3
])
def test_values_sdmx_cannot_hold_are_refused_with_their_place(tmp_path, change, message):
    _hand_made_observations(tmp_path / "observations.parquet", **change)
    with pytest.raises(CopError, match=message.replace("(", r"\(").replace(")", r"\)")):
        write_sdmx_files(tmp_path, tmp_path / "observations.parquet", _hand_made_codelists(), "r-1")
    assert not (tmp_path / CSV_FILE).exists() and not (tmp_path / STRUCTURE_FILE).exists()


def test_indicator_codes_become_sdmx_identifiers():
    assert sdmx_indicator_code("BC.1") == "BC_1"
    assert sdmx_indicator_code("PA.3_GPI") == "PA_3_GPI"
    with pytest.raises(CopError, match="CL_INDICATOR: codes 'BC.1' are not SDMX identifiers"):
        codelist("CL_INDICATOR", pd.DataFrame({"code": ["BC.1"], "name": ["x"]}))
