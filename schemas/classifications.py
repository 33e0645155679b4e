"""Rules for the country classifications in data/reference: countries, M49 regions, ITU regions, development
status and World Bank income groups.

Every regional or income aggregate is only as good as these five small tables, and they are maintained by hand
or derived once from a public list, so a typo (a duplicated country, an unknown region code, a country left out
of its region) would silently change a published group value. Each table therefore has a pandera model with the
real rules, and `classification_violations` turns pandera's failure cases into Violations that name the file,
the line a maintainer opens in an editor, the column and the rule, as every input error of the project does.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pandera.pandas as pa
import pycountry

from indicators.errors import InputError, Violation
from schemas.ict import REFERENCE_DIR, code_exceptions, known_country_codes
from schemas.validation import failure_cases

TRUE_FALSE = ["true", "false"]

# UNSD M49 hierarchy (https://unstats.un.org/unsd/methodology/m49/): code -> name, and each child's parent.
M49_REGIONS = {"002": "Africa", "019": "Americas", "142": "Asia", "150": "Europe", "009": "Oceania"}
M49_SUBREGIONS = {  # code -> (name, region code)
    "015": ("Northern Africa", "002"), "202": ("Sub-Saharan Africa", "002"),
    "419": ("Latin America and the Caribbean", "019"), "021": ("Northern America", "019"),
    "143": ("Central Asia", "142"), "030": ("Eastern Asia", "142"), "035": ("South-eastern Asia", "142"),
    "034": ("Southern Asia", "142"), "145": ("Western Asia", "142"),
    "151": ("Eastern Europe", "150"), "154": ("Northern Europe", "150"), "039": ("Southern Europe", "150"),
    "155": ("Western Europe", "150"),
    "053": ("Australia and New Zealand", "009"), "054": ("Melanesia", "009"), "057": ("Micronesia", "009"),
    "061": ("Polynesia", "009"),
}
M49_INTERMEDIATE = {  # code -> (name, sub-region code); 830 Channel Islands exists in M49 (see m49_regions.yaml)
    "011": ("Western Africa", "202"), "014": ("Eastern Africa", "202"), "017": ("Middle Africa", "202"),
    "018": ("Southern Africa", "202"), "005": ("South America", "419"), "013": ("Central America", "419"),
    "029": ("Caribbean", "419"), "830": ("Channel Islands", "154"),
}

# ITU-D (BDT) regions, https://www.itu.int/en/ITU-D/Statistics/Pages/definitions/regions.aspx
ITU_REGIONS = {"ITU_AFR": "Africa", "ITU_AMS": "Americas", "ITU_ARB": "Arab States", "ITU_ASP": "Asia & Pacific",
               "ITU_CIS": "CIS", "ITU_EUR": "Europe"}
# Economies ITU places in a region although they are not UN members (see itu_regions.yaml).
ITU_NON_UN_MEMBERS = {"PSE": "ITU_ARB", "VAT": "ITU_EUR"}

WB_INCOME_GROUPS = {"HIC": "High income", "UMC": "Upper middle income", "LMC": "Lower middle income",
                    "LIC": "Low income"}

ISO3 = r"^[A-Z]{3}$"


@lru_cache(maxsize=1)
def un_member_codes() -> frozenset[str]:
    """The 193 UN member states (data/reference/un_member_states.csv)."""
    table = pd.read_csv(REFERENCE_DIR / "un_member_states.csv", dtype=str, keep_default_na=False)
    return frozenset(table["iso3"])


def _iso3_field() -> object:
    return pa.Field(unique=True, str_matches=ISO3,
                    description="ISO 3166-1 alpha-3, or an economy code mapped in country_code_exceptions.csv")


def _known(iso3: pd.Series) -> pd.Series:
    return iso3.isin(known_country_codes())


def _missing_un_members(df: pd.DataFrame) -> list[str]:
    return sorted(un_member_codes() - set(df.get("iso3", pd.Series(dtype=str))))


class CountriesModel(pa.DataFrameModel):
    """countries.csv: ISO 3166-1 (pycountry) plus the economy codes XKX and CHI, with UN membership."""

    iso3: str = _iso3_field()
    iso2: str = pa.Field(str_matches=r"^([A-Z]{2})?$", description="ISO 3166-1 alpha-2; empty for XKX and CHI")
    m49: str = pa.Field(str_matches=r"^(\d{3})?$", description="ISO 3166-1 numeric = M49, 3 digits; empty for "
                                                                "XKX and CHI")
    name: str = pa.Field(str_length={"min_value": 1})
    un_member: str = pa.Field(isin=TRUE_FALSE)

    @pa.check("iso3", name="iso3 is known to ISO 3166-1 (pycountry) or mapped in country_code_exceptions.csv")
    def _iso3_known(cls, iso3: pd.Series) -> pd.Series:
        return _known(iso3)

    @pa.dataframe_check(name="iso2: empty only for an economy code that ISO 3166-1 lacks (XKX, CHI)")
    def _iso2_empty_only_for_exceptions(cls, df: pd.DataFrame) -> pd.Series:
        return (df["iso2"] != "") | df["iso3"].isin(code_exceptions().values())

    @pa.dataframe_check(name="m49: empty only for an economy code that ISO 3166-1 lacks (XKX, CHI)")
    def _m49_empty_only_for_exceptions(cls, df: pd.DataFrame) -> pd.Series:
        return (df["m49"] != "") | df["iso3"].isin(code_exceptions().values())

    @pa.dataframe_check(name="un_member: true exactly for the 193 states in un_member_states.csv")
    def _un_member_matches(cls, df: pd.DataFrame) -> pd.Series:
        return (df["un_member"] == "true") == df["iso3"].isin(un_member_codes())

    @pa.dataframe_check(name="table: every ISO 3166-1 alpha-3 code of pycountry is listed")
    def _all_iso(cls, df: pd.DataFrame) -> bool:
        return {c.alpha_3 for c in pycountry.countries} <= set(df["iso3"])

    class Config:
        strict = True
        coerce = False


def _pair_check(codes: pd.Series, names: pd.Series, table: dict) -> pd.Series:
    expected = codes.map(lambda c: table[c][0] if isinstance(table.get(c), tuple) else table.get(c))
    return names == expected


class M49RegionsModel(pa.DataFrameModel):
    """m49_regions.csv: UNSD M49 region, sub-region and intermediate region of each country or area."""

    iso3: str = _iso3_field()
    region_code: str = pa.Field(isin=sorted(M49_REGIONS))
    region_name: str
    subregion_code: str = pa.Field(isin=sorted(M49_SUBREGIONS))
    subregion_name: str
    intermediate_code: str = pa.Field(isin=["", *sorted(M49_INTERMEDIATE)])
    intermediate_name: str

    @pa.check("iso3", name="iso3 is known to ISO 3166-1 (pycountry) or mapped in country_code_exceptions.csv")
    def _iso3_known(cls, iso3: pd.Series) -> pd.Series:
        return _known(iso3)

    @pa.dataframe_check(name="region_name: the M49 name of region_code")
    def _region_name(cls, df: pd.DataFrame) -> pd.Series:
        return _pair_check(df["region_code"], df["region_name"], M49_REGIONS)

    @pa.dataframe_check(name="subregion_name: the M49 name of subregion_code")
    def _subregion_name(cls, df: pd.DataFrame) -> pd.Series:
        return _pair_check(df["subregion_code"], df["subregion_name"], M49_SUBREGIONS)

    @pa.dataframe_check(name="subregion_code: an M49 sub-region of region_code")
    def _subregion_in_region(cls, df: pd.DataFrame) -> pd.Series:
        return df["subregion_code"].map(lambda c: M49_SUBREGIONS.get(c, ("", ""))[1]) == df["region_code"]

    @pa.dataframe_check(name="intermediate_name: the M49 name of intermediate_code (empty when the code is)")
    def _intermediate_name(cls, df: pd.DataFrame) -> pd.Series:
        expected = df["intermediate_code"].map(lambda c: M49_INTERMEDIATE.get(c, ("",))[0])
        return df["intermediate_name"] == expected

    @pa.dataframe_check(name="intermediate_code: empty or an M49 intermediate region of subregion_code")
    def _intermediate_in_subregion(cls, df: pd.DataFrame) -> pd.Series:
        parent = df["intermediate_code"].map(lambda c: M49_INTERMEDIATE.get(c, ("", ""))[1])
        return (df["intermediate_code"] == "") | (parent == df["subregion_code"])

    @pa.dataframe_check(name="table: every UN member state has an M49 region")
    def _all_un_members(cls, df: pd.DataFrame) -> bool:
        return not _missing_un_members(df)

    class Config:
        strict = True
        coerce = False


class ItuRegionsModel(pa.DataFrameModel):
    """itu_regions.csv: the ITU-D (BDT) region of each UN member state, plus State of Palestine and Holy See."""

    iso3: str = _iso3_field()
    itu_region_code: str = pa.Field(isin=sorted(ITU_REGIONS))
    itu_region_name: str

    @pa.check("iso3", name="iso3 is a UN member state, or State of Palestine (PSE) or Holy See (VAT)")
    def _member_or_listed(cls, iso3: pd.Series) -> pd.Series:
        return iso3.isin(un_member_codes()) | iso3.isin(ITU_NON_UN_MEMBERS)

    @pa.dataframe_check(name="itu_region_name: the ITU name of itu_region_code")
    def _name(cls, df: pd.DataFrame) -> pd.Series:
        return _pair_check(df["itu_region_code"], df["itu_region_name"], ITU_REGIONS)

    @pa.dataframe_check(name="table: every UN member state is in exactly one ITU region")
    def _all_un_members(cls, df: pd.DataFrame) -> bool:
        return not _missing_un_members(df)

    class Config:
        strict = True
        coerce = False


class DevelopmentStatusModel(pa.DataFrameModel):
    """development_status.csv: M49 developed/developing and the UN LDC, LLDC and SIDS lists (a country can be in
    several)."""

    iso3: str = _iso3_field()
    developed: str = pa.Field(isin=["developed", "developing"])
    ldc: str = pa.Field(isin=TRUE_FALSE)
    lldc: str = pa.Field(isin=TRUE_FALSE)
    sids: str = pa.Field(isin=TRUE_FALSE)

    @pa.check("iso3", name="iso3 is known to ISO 3166-1 (pycountry) or mapped in country_code_exceptions.csv")
    def _iso3_known(cls, iso3: pd.Series) -> pd.Series:
        return _known(iso3)

    # Not for LLDCs: Moldova and North Macedonia are landlocked developing countries for UN-OHRLLS but in M49
    # Europe, hence "developed" on the M49 convention (see development_status.yaml).
    @pa.dataframe_check(name="developed: an LDC or SIDS is a developing country")
    def _groups_are_developing(cls, df: pd.DataFrame) -> pd.Series:
        flagged = (df["ldc"] == "true") | (df["sids"] == "true")
        return ~flagged | (df["developed"] == "developing")

    @pa.dataframe_check(name="iso3: LDC, LLDC and SIDS flags are kept for UN member states only")
    def _groups_are_un_members(cls, df: pd.DataFrame) -> pd.Series:
        flagged = (df["ldc"] == "true") | (df["lldc"] == "true") | (df["sids"] == "true")
        return ~flagged | df["iso3"].isin(un_member_codes())

    @pa.dataframe_check(name="table: every UN member state has a development status")
    def _all_un_members(cls, df: pd.DataFrame) -> bool:
        return not _missing_un_members(df)

    class Config:
        strict = True
        coerce = False


class WbIncomeGroupsModel(pa.DataFrameModel):
    """wb_income_groups.csv: World Bank income group of each classified economy, one fiscal year."""

    iso3: str = _iso3_field()
    income_group_code: str = pa.Field(isin=sorted(WB_INCOME_GROUPS))
    income_group_name: str
    fiscal_year: str = pa.Field(str_matches=r"^FY\d{4}$")

    @pa.check("iso3", name="iso3 is known to ISO 3166-1 (pycountry) or mapped in country_code_exceptions.csv")
    def _iso3_known(cls, iso3: pd.Series) -> pd.Series:
        return _known(iso3)

    @pa.dataframe_check(name="income_group_name: the World Bank name of income_group_code")
    def _name(cls, df: pd.DataFrame) -> pd.Series:
        return _pair_check(df["income_group_code"], df["income_group_name"], WB_INCOME_GROUPS)

    @pa.dataframe_check(name="table: one fiscal year for the whole classification")
    def _one_vintage(cls, df: pd.DataFrame) -> bool:
        return df["fiscal_year"].nunique() <= 1

    class Config:
        strict = True
        coerce = False


# table-level checks -> (column, the values that break them), to name in the violation
_TABLE_DETAILS = {
    "table: every ISO 3166-1 alpha-3 code of pycountry is listed":
        ("iso3", lambda df: " ".join(sorted({c.alpha_3 for c in pycountry.countries} - set(df["iso3"])))),
    **{f"table: every UN member state {rest}": ("iso3", lambda df: " ".join(_missing_un_members(df)))
       for rest in ("has an M49 region", "is in exactly one ITU region", "has a development status")},
    "table: one fiscal year for the whole classification":
        ("fiscal_year", lambda df: " ".join(sorted(set(df["fiscal_year"])))),
}

# table name (warehouse reference.<name>, file data/reference/<name>.csv) -> model
MODELS: dict[str, type[pa.DataFrameModel]] = {
    "countries": CountriesModel,
    "m49_regions": M49RegionsModel,
    "itu_regions": ItuRegionsModel,
    "development_status": DevelopmentStatusModel,
    "wb_income_groups": WbIncomeGroupsModel,
}


def classification_violations(table: str, frame: pd.DataFrame, file: str) -> list[Violation]:
    """Violations of MODELS[table] in `frame` as read from `file`; row is the 1-based line in the file (the
    header is line 1), so `frame` must keep the RangeIndex of pd.read_csv. Empty when the table is valid."""
    cases = failure_cases(MODELS[table], frame)
    out: list[Violation] = []
    table_cases = cases[cases["index"].isna()]
    structure = {"column_in_dataframe": "required column is missing",
                 "column_in_schema": "column is not part of this classification (strict columns)"}
    broken_structure = table_cases["check"].isin(list(structure)).any()
    for case in table_cases.drop_duplicates(subset=["check", "failure_case"]).itertuples(index=False):
        check = str(case.check)
        if check in structure:
            out.append(Violation(file, structure[check], column=_text(case.failure_case)))
        elif broken_structure:
            continue  # a check that could not run for want of a column: the missing column is reported
        elif check.startswith("table: "):
            column, detail = _TABLE_DETAILS.get(check, (None, lambda df: None))
            out.append(Violation(file, check[len("table: "):], column=column, value=detail(frame)))
        else:  # a wrong dtype, or a check that failed to run
            out.append(Violation(file, f"table structure: {check}", column=_text(case.column),
                                 value=_text(case.failure_case)))
    # dataframe checks report every column of a failing row: keep one violation per row and check
    for case in cases.dropna(subset=["index"]).drop_duplicates(subset=["index", "check"]).itertuples(index=False):
        index, check = int(case.index), str(case.check)
        if check == "field_uniqueness":
            value = frame.at[index, case.column]
            rows = [int(i) + 2 for i in frame.index[frame[case.column] == value] if i != index]
            rule = f"{case.column} must be unique: also at row(s) {', '.join(map(str, rows))}"
        elif ":" in check:  # a named check: "<column>: <rule>"
            column, _ = check.split(":", 1)
            rule, case = check, case._replace(column=column)
        elif check.startswith(str(case.column)):  # a named column check: "<column> is ..."
            rule = check
        else:  # a built-in field check such as isin([...]) or str_matches('...')
            rule = f"{case.column} {_readable(check)}"
        column = case.column if case.column in frame.columns else "iso3"
        out.append(Violation(file, rule, row=index + 2, column=column, value=_text(frame.at[index, column])))
    return sorted(out, key=lambda v: (v.row or 0, str(v.column), v.rule))


def validate_classification(table: str, frame: pd.DataFrame, file: str) -> None:
    """Raise InputError (file, row, column, rule) when `frame` breaks a rule of MODELS[table]."""
    violations = classification_violations(table, frame, file)
    if violations:
        raise InputError(violations)


def _readable(check: str) -> str:
    """pandera's name of a built-in check, as a rule: isin(['a', 'b']) -> must be one of ['a', 'b']."""
    for name, words in (("isin", "must be one of"), ("str_matches", "must match the pattern"),
                        ("str_length", "must have a length within")):
        if check.startswith(f"{name}(") and check.endswith(")"):
            return f"{words} {check[len(name) + 1:-1]}"
    return f"breaks {check}"


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
