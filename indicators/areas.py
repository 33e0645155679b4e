"""Every REF_AREA a release can hold, with its name and classifications: the `areas` table of the public
database, and the names and regions that charts, the report and `indicators.explore` show.

One row per country or area of data/reference/countries.csv (ISO 3166-1 plus XKX and CHI) and per group of
reference.aggregate_groups (WLD, ITU_*, M49_*, LDC, LLDC, SIDS, DEVELOPED, DEVELOPING, WB_*). A country's region
columns hold the REF_AREA code of the group value it belongs to (`itu_region` 'ITU_AFR', `m49_region` 'M49_002',
`income_group` 'WB_LMC'), so a country row joins its region's value on the code itself.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from indicators import tables

AREAS_SQL = f"""
    SELECT c.iso3 AS ref_area, c.name, 'country' AS type, CAST(NULL AS VARCHAR) AS classification,
           nullif(c.iso2, '') AS iso2, nullif(c.m49, '') AS m49_code, CAST(c.un_member AS BOOLEAN) AS un_member,
           i.itu_region_code AS itu_region, i.itu_region_name,
           'M49_' || nullif(m.region_code, '') AS m49_region, nullif(m.region_name, '') AS m49_region_name,
           'M49_' || nullif(m.subregion_code, '') AS m49_subregion, nullif(m.subregion_name, '') AS m49_subregion_name,
           'M49_' || nullif(m.intermediate_code, '') AS m49_intermediate,
           nullif(m.intermediate_name, '') AS m49_intermediate_name,
           'WB_' || w.income_group_code AS income_group, w.income_group_name,
           CAST(d.ldc AS BOOLEAN) AS ldc, CAST(d.lldc AS BOOLEAN) AS lldc, CAST(d.sids AS BOOLEAN) AS sids,
           d.developed AS development
    FROM {tables.REFERENCE_COUNTRIES} c
    LEFT JOIN {tables.REFERENCE_ITU_REGIONS} i USING (iso3)
    LEFT JOIN {tables.REFERENCE_M49_REGIONS} m USING (iso3)
    LEFT JOIN {tables.REFERENCE_WB_INCOME_GROUPS} w USING (iso3)
    LEFT JOIN {tables.REFERENCE_DEVELOPMENT_STATUS} d USING (iso3)
    UNION ALL BY NAME
    SELECT group_code AS ref_area, group_name AS name, 'group' AS type, classification
    FROM {tables.REFERENCE_AGGREGATE_GROUPS}
    ORDER BY type, ref_area"""

AREA_COLUMNS = {
    "ref_area": "REF_AREA code: ISO 3166-1 alpha-3 (or XKX, CHI) for a country, a group code for a group value",
    "name": "English short name of the country or group",
    "type": "'country' or 'group'",
    "classification": "for a group: the classification it belongs to (world, itu_region, m49_region, "
                      "m49_subregion, m49_intermediate, un_ldc, un_lldc, un_sids, m49_developed_developing, "
                      "wb_income)",
    "iso2": "ISO 3166-1 alpha-2 code",
    "m49_code": "UN M49 numeric code (3 digits)",
    "un_member": "a UN member state",
    "itu_region": "REF_AREA code of the country's ITU (BDT) region (ITU_AFR, ITU_AMS, ITU_ARB, ITU_ASP, ITU_CIS, "
                  "ITU_EUR); empty outside the 193 member states, Palestine and the Holy See",
    "itu_region_name": "name of the ITU region",
    "m49_region": "REF_AREA code of the UN M49 region (M49_002 Africa, ...)",
    "m49_region_name": "name of the M49 region",
    "m49_subregion": "REF_AREA code of the M49 sub-region",
    "m49_subregion_name": "name of the M49 sub-region",
    "m49_intermediate": "REF_AREA code of the M49 intermediate region, where M49 defines one",
    "m49_intermediate_name": "name of the M49 intermediate region",
    "income_group": "REF_AREA code of the World Bank income group (WB_HIC, WB_UMC, WB_LMC, WB_LIC), FY2025",
    "income_group_name": "name of the World Bank income group",
    "ldc": "a UN least developed country (list since 13 December 2024)",
    "lldc": "a UN landlocked developing country",
    "sids": "a UN member small island developing State",
    "development": "'developed' or 'developing' (UN M49 historical classification)",
}


def areas_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The areas table from the warehouse's reference schema (see the module docstring)."""
    areas = con.execute(AREAS_SQL).df()[list(AREA_COLUMNS)]
    duplicated = areas[areas["ref_area"].duplicated()]["ref_area"].tolist()
    if duplicated:
        raise ValueError(f"areas: REF_AREA codes both a country and a group: {', '.join(duplicated)}")
    return areas
