"""Explore a release from Python: compare countries, see their regional context and trends, draw the release's charts.

For notebook users. Everything is read from a release's public database (`cop_indicators.duckdb`, opened
read-only) through its views (`compare`, `regional`, `country_profile`, `observations_labelled`), so a table here
shows the same numbers, flags and ranks as an analyst's SQL, and a chart here is drawn by the same functions
(`indicators.charts`) as the release's own charts.

    from indicators import explore
    rel = explore.open_release()                 # data/published/latest, or $COP_RELEASE when set
    rel.compare("IR.25", ["Kenya", "GHA", "brazil"])  # each country's latest wave, with CI and flags
    rel.compare("IR.25", ["KEN", "GHA"], by="sex")
    explore.show(rel.plot_compare("IR.25", ["KEN", "GHA", "BRA"]))  # a matplotlib Figure, shown once

The module-level functions (`explore.compare(...)`, ...) do the same on a release opened on first use
(`use_release(path)` picks another one).

Tables have readable lower-case columns (country, year, value, ci_lower, ci_upper, flag, synthetic, ...) and keep
the SDMX codes in upper case (REF_AREA, SEX, OBS_STATUS, CONF_STATUS, ...). A blank cell keeps its row: its value
is missing and `flag`/`comment` say why.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import warnings
from pathlib import Path

import duckdb
import pandas as pd

from indicators import charts
from indicators.charts.words import year_ranges
from indicators.errors import CopError

REPO_ROOT = Path(__file__).resolve().parents[1]
PUBLISHED_DIR = REPO_ROOT / "data" / "published"
RELEASE_ENV = "COP_RELEASE"  # a release folder (or its .duckdb file) used when no path is given
DATABASE_NAME = "cop_indicators.duckdb"
REQUIRED_VIEWS = ("compare", "regional", "country_profile", "observations_labelled")
CODE_LISTS = ("OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE", "SEX", "AGE", "URBANISATION")  # tables: code, label

# breakdown name (as users type it) -> the observation dimension
BREAKDOWNS = {"sex": "SEX", "age": "AGE", "urbanisation": "URBANISATION", "urbanization": "URBANISATION"}
DIMENSIONS = ("SEX", "AGE", "URBANISATION")
TOTAL = "_T"
# the meaning of the statuses of a published value (blank cells: charts.blank_reason)
VALUE_FLAGS = {"A": "normal", "U": "low reliability: use with caution",
               "E": "estimated: partial total of the reporting members"}


class ExploreError(CopError, ValueError):
    """A request the release cannot answer: unknown indicator, country or breakdown, no data. Says what to do."""


class ReleaseNotFoundError(CopError, FileNotFoundError):
    """No release (public database) at the given or default path."""


# ----------------------------------------------------------------------------------------------- finding a release

def release_database(path: str | os.PathLike | None = None) -> Path:
    """The public database of the release at `path`: a release folder, a folder of releases (its `latest`), or the
    .duckdb file. Without a path: $COP_RELEASE when set, else the repository's data/published/latest."""
    if path is None:
        path = os.environ.get(RELEASE_ENV) or PUBLISHED_DIR
    given = Path(path).expanduser()
    candidates = [given] if given.suffix == ".duckdb" else [given / DATABASE_NAME, given / "latest" / DATABASE_NAME]
    if given.is_dir() and (given / "LATEST").is_file():  # the text pointer, for systems without symlinks
        candidates.append(given / (given / "LATEST").read_text(encoding="utf-8").strip() / DATABASE_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ReleaseNotFoundError(
        f"no release at {given}: expected a release folder holding {DATABASE_NAME} (data/published/<release_id>/), "
        f"a folder of releases with a 'latest' pointer (data/published), or the {DATABASE_NAME} file itself. "
        "Build one with `make build` (run at the repository root; it publishes data/published/<release_id>/ and "
        f"points data/published/latest at it), or set {RELEASE_ENV} to an existing release folder.")


def open_release(path: str | os.PathLike | None = None) -> "Release":
    """Open a release read-only (see `release_database` for what `path` may be). Use as a context manager or
    call `close()`."""
    return Release(release_database(path))


# ------------------------------------------------------------------------------------------------- small helpers

def _as_list(items) -> list:
    if items is None:
        return []
    if isinstance(items, (str, bytes)):
        return [items]
    return list(items)


def indicator_sort_key(code: str) -> tuple:
    """BC.2 before BC.10; a derived series (PA.3_GPI) right after its base."""
    match = re.match(r"^([A-Z]+)\.(\d+)(?:_(\w+))?$", code)
    if not match:
        return (code, 0, "")
    return (match.group(1), int(match.group(2)), match.group(3) or "")


def _suggest(word: str, choices: dict[str, str], n: int = 5) -> list[str]:
    """Choices close to `word`: containing it, or similar in spelling. `choices`: lower-case key -> shown text."""
    key = word.strip().lower()
    found = [shown for k, shown in choices.items() if key and (key in k or k in key) and len(k) > 1]
    found += [choices[k] for k in difflib.get_close_matches(key, list(choices), n=n, cutoff=0.6)]
    return list(dict.fromkeys(found))[:n]


def _breakdown_dimension(by) -> tuple[str, ...]:
    """The dimensions a `by` breaks down: () for totals, ('SEX',) for 'sex', ('SEX', 'AGE') for a crossing
    given as 'sex x age' or ['sex', 'age'] (girls aged 12-14: the crossed cells an indicator publishes)."""
    if by is None:
        return ()
    names = re.split(r"\s+x\s+|\s*[*,]\s*", str(by).strip().lower()) if isinstance(by, str) else [str(b) for b in by]
    dimensions = [BREAKDOWNS.get(name.strip().lower()) for name in names]
    if not names or None in dimensions or len(set(dimensions)) != len(dimensions):
        raise ExploreError(f"by={by!r}: use None (totals), 'sex', 'age' or 'urbanisation', or a crossing such as "
                           "'sex x age'")
    return tuple(d for d in DIMENSIONS if d in dimensions)


def _cell_filter(dimensions: tuple[str, ...]) -> str:
    """SQL over the three dimensions: the categories of the given ones with the others at total (() = totals)."""
    return " AND ".join(f"{d} <> '{TOTAL}'" if d in dimensions else f"{d} = '{TOTAL}'" for d in DIMENSIONS)


# ------------------------------------------------------------------------------------------------------ the release

class Release:
    """One release's public database, opened read-only, with the exploring functions of this module."""

    def __init__(self, database: str | os.PathLike):
        self.database = Path(database)
        self.folder = self.database.parent
        self.con = duckdb.connect(str(self.database), read_only=True)
        try:
            views = {name for (name,) in self.con.execute(
                "SELECT table_name FROM information_schema.tables").fetchall()}
            ids = [r for (r,) in self.con.execute("SELECT DISTINCT RELEASE_ID FROM observations").fetchall()]
        except duckdb.Error as error:
            self.con.close()
            raise ReleaseNotFoundError(f"{self.database}: not a release's public database ({error})") from None
        self.release_id = ids[0] if len(ids) == 1 else None
        missing = [v for v in REQUIRED_VIEWS + CODE_LISTS if v not in views]
        if missing:
            self.con.close()
            raise ExploreError(
                f"{self.database}: release {self.release_id} has no {', '.join(missing)}: it was published before "
                "the public database had views and code lists. Build a new release with `make build`.")
        self._catalogue: pd.DataFrame | None = None
        self._areas: pd.DataFrame | None = None
        self._code_lists: dict[str, dict[str, str]] = {}
        self._sources: pd.DataFrame | None = None

    # -- lifecycle
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Release":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Release({self.release_id!r}, {str(self.database)!r})"

    def _query(self, sql: str, params=None) -> pd.DataFrame:
        return self.con.execute(sql, params).df() if params is not None else self.con.execute(sql).df()

    @property
    def manifest(self) -> dict:
        """The release's manifest.json (empty when only the .duckdb file was given)."""
        path = self.folder / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    # -- reference tables, read once
    @property
    def catalogue(self) -> pd.DataFrame:
        if self._catalogue is None:
            catalogue = self._query("SELECT * FROM catalogue")
            counts = self._query("SELECT INDICATOR AS code, count(*) AS observations, "
                                 "count(OBS_VALUE) AS values FROM observations GROUP BY ALL")
            catalogue = catalogue.merge(counts, on="code", how="left")
            catalogue[["observations", "values"]] = catalogue[["observations", "values"]].fillna(0).astype("int64")
            order = sorted(range(len(catalogue)), key=lambda i: indicator_sort_key(catalogue["code"].iloc[i]))
            self._catalogue = catalogue.iloc[order].reset_index(drop=True)
        return self._catalogue

    def code_list(self, name: str) -> dict[str, str]:
        """Code -> label of one of the release's code lists (OBS_STATUS, CONF_STATUS, UNIT_MEASURE, SEX, AGE,
        URBANISATION), in the list's own order (ages from the youngest)."""
        if name not in self._code_lists:
            self._code_lists[name] = dict(self.con.execute(f"SELECT code, label FROM {name}").fetchall())
        return self._code_lists[name]

    def flag(self, obs_status: str | None, conf_status: str | None, comment: str | None = None) -> str | None:
        """What a cell's status means, in words. A blank cell (Q, L, O) gets the reason the release's charts print
        in its row ('suppressed: CV above 33.3 %', 'withheld: countries with data cover 12 % of the population
        (minimum 50 %)'); a value is 'normal', 'low reliability: use with caution' (U) or 'estimated: partial
        total of the reporting members' (E). The SDMX labels are in code_list('OBS_STATUS')."""
        if obs_status is None or pd.isna(obs_status):
            return None
        comment = None if comment is None or pd.isna(comment) else str(comment)
        conf_status = None if conf_status is None or pd.isna(conf_status) else str(conf_status)
        if obs_status == "U" and comment:  # the rule in the charts' words, without their blank-cell prefix
            return f"low reliability ({charts.blank_reason('U', conf_status, comment).partition(': ')[2]}): " \
                   "use with caution"
        if obs_status in VALUE_FLAGS:
            return VALUE_FLAGS[obs_status]
        return charts.blank_reason(obs_status, conf_status, comment)

    @property
    def areas(self) -> pd.DataFrame:
        if self._areas is None:
            self._areas = self._query("SELECT * FROM areas ORDER BY type, ref_area")
        return self._areas

    # -- checking what the user asked for
    def check_indicator(self, indicator: str) -> str:
        """The catalogue code of `indicator` (case-insensitive); an error suggesting close codes when it is unknown,
        and an error when the release holds no observation of it."""
        code = str(indicator).strip().upper()
        catalogue = self.catalogue
        codes = dict(zip(catalogue["code"].str.upper(), catalogue["code"]))
        if code not in codes:
            close = _suggest(code, {c.lower(): c for c in catalogue["code"]})
            hint = f"; close codes: {', '.join(close)}" if close else ""
            raise ExploreError(f"unknown indicator {indicator!r}{hint}. indicators() lists the catalogue")
        code = codes[code]
        entry = catalogue[catalogue["code"] == code].iloc[0]
        if entry["observations"] == 0:
            with_data = catalogue[(catalogue["group_name"] == entry["group_name"]) & (catalogue["values"] > 0)
                                  & catalogue["derived_from"].isna()]["code"].tolist()
            hint = (f"; {entry['group_name']} indicators with data: {', '.join(with_data)}" if with_data
                    else f"; no {entry['group_name']} indicator has data in this release")
            raise ExploreError(f"{code} ({entry['name']}) has no data in release {self.release_id}{hint}")
        return code

    def resolve_areas(self, areas, *, kind: str | None = None) -> list[str]:
        """REF_AREA codes of `areas` (ISO3 or group codes, or names, case-insensitive), in the given order; kind
        'country' or 'group' accepts only those.

        Unknown entries raise one error naming them all with close matches; a name shared by several areas
        (Africa: ITU_AFR and M49_002) asks for the code."""
        table = self.areas if kind is None else self.areas[self.areas["type"] == kind]
        by_code = dict(zip(table["ref_area"].str.upper(), table["ref_area"]))
        by_name: dict[str, list[str]] = {}
        for code, name in zip(table["ref_area"], table["name"]):
            by_name.setdefault(str(name).lower(), []).append(code)
        shown = {**{str(n).lower(): f"{n} ({c})" for c, n in zip(table["ref_area"], table["name"])},
                 **{str(c).lower(): f"{n} ({c})" for c, n in zip(table["ref_area"], table["name"])}}
        all_codes = set(self.areas["ref_area"].str.upper())
        all_names = {str(n).lower() for n in self.areas["name"]}
        other = {"country": ("a group", "regional() or trend()"), "group": ("a country", "compare() or trend()")}
        codes, problems = [], []
        for item in _as_list(areas):
            text = str(item).strip()
            if text.upper() in by_code:
                codes.append(by_code[text.upper()])
            elif len(by_name.get(text.lower(), [])) == 1:
                codes.append(by_name[text.lower()][0])
            elif text.lower() in by_name:
                matches = by_name[text.lower()]
                problems.append(f"{text!r} is the name of several areas, give the code: "
                                + ", ".join(f"{c} ({self._classification(c)})" for c in matches))
            elif kind is not None and (text.upper() in all_codes or text.lower() in all_names):
                what, use = other[kind]
                problems.append(f"{text!r} is {what}, not a {kind} (use {use} for it)")
            else:
                close = _suggest(text, shown)
                problems.append(f"unknown {kind or 'area'} {text!r}"
                                + (f" (did you mean {', '.join(close)}?)" if close else ""))
        if problems:
            raise ExploreError("; ".join(problems))
        return list(dict.fromkeys(codes))

    def _classification(self, code: str) -> str:
        row = self.areas[self.areas["ref_area"] == code].iloc[0]
        return row["classification"] if row["type"] == "group" else "country"

    def _check_breakdown(self, code: str, dimension: tuple[str, ...]) -> None:
        """An error when the indicator has no row of this breakdown at all (BC.1 by sex)."""
        if not dimension:
            return
        n = self.con.execute(f"SELECT count(*) FROM observations WHERE INDICATOR = ? AND {_cell_filter(dimension)}",
                             [code]).fetchall()[0][0]
        if n == 0:
            disaggregations = self.catalogue.set_index("code").loc[code, "disaggregations"] or "none"
            raise ExploreError(f"{code} has no breakdown by {' x '.join(d.lower() for d in dimension)} in release "
                               f"{self.release_id} (its disaggregations: {disaggregations})")

    # -- the rows behind the tables and charts (view columns, as the chart functions take them)
    def _latest_rows(self, view: str, code: str, dimension: tuple[str, ...], areas: list[str] | None,
                     year: int | None) -> pd.DataFrame:
        """Rows of `view` for one indicator and breakdown: at `year`, or for each area its latest year in which
        a cell of the breakdown has a value (its latest year, blank, when it never has one), so that the
        categories of one area always come from one year."""
        where = ["INDICATOR = $code", _cell_filter(dimension)]
        params: dict = {"code": code}
        if areas:
            where.append("list_contains($areas, REF_AREA)")
            params["areas"] = areas
        if year is not None:
            where.append("TIME_PERIOD = $year")
            params["year"] = int(year)
        return self._query(f"""
            WITH cells AS (SELECT * FROM {view} WHERE {' AND '.join(where)}),
            chosen AS (
                SELECT REF_AREA, coalesce(max(TIME_PERIOD) FILTER (WHERE OBS_VALUE IS NOT NULL),
                                          max(TIME_PERIOD)) AS TIME_PERIOD
                FROM cells GROUP BY REF_AREA)
            SELECT cells.* FROM cells JOIN chosen USING (REF_AREA, TIME_PERIOD)""", params)

    def compare_rows(self, indicator: str, countries=None, year: int | None = None, by: str | None = None,
                     warn: bool = True) -> pd.DataFrame:
        """`compare` view rows (its own columns) for `compare()` and the charts; see `compare` for the arguments."""
        code = self.check_indicator(indicator)
        dimension = _breakdown_dimension(by)
        self._check_breakdown(code, dimension)
        wanted = self.resolve_areas(countries, kind="country") if countries is not None else None
        if countries is not None and not wanted:
            raise ExploreError("countries=[]: give ISO3 codes or names, or None for every country with data")
        rows = self._latest_rows("compare", code, dimension, wanted, year)
        if rows.empty:
            years = self._years(code, "compare", dimension)
            raise ExploreError(
                f"{code}: no country observation" + (f" in {year}" if year is not None else "")
                + (f" for {', '.join(wanted)}" if wanted else "")
                + (f"; years with country data: {year_ranges(sorted(years))}" if years else "; it has group values only"))
        if wanted and warn:
            absent = [c for c in wanted if c not in set(rows["REF_AREA"])]
            if absent:
                names = dict(zip(self.areas["ref_area"], self.areas["name"]))
                warnings.warn(f"{code}: no observation for {', '.join(f'{names[c]} ({c})' for c in absent)}"
                              + (f" in {year}" if year is not None else " in this release")
                              + "; the table leaves them out", stacklevel=3)
        if not dimension:  # ranked, as on the chart
            rows = rows.sort_values(["OBS_VALUE", "area_name"], ascending=[False, True], na_position="last")
        else:  # a country's categories together
            rows = rows.assign(_c=self._category_order(rows, dimension)).sort_values(["area_name", "_c"])
            rows = rows.drop(columns="_c")
        return rows.reset_index(drop=True)

    def _years(self, code: str, view: str, dimension: tuple[str, ...]) -> list[int]:
        return [y for (y,) in self.con.execute(
            f"SELECT DISTINCT TIME_PERIOD FROM {view} WHERE INDICATOR = ? AND {_cell_filter(dimension)} "
            "AND OBS_VALUE IS NOT NULL ORDER BY 1", [code]).fetchall()]

    def _category_order(self, rows: pd.DataFrame, dimension: tuple[str, ...]) -> pd.Series:
        """Position of each row's category in its code list (F before M, ages from the youngest); for a crossing,
        by the first dimension, then the next (girls 9-11, girls 12-14, ..., boys 9-11, ...)."""
        position = pd.Series(0, index=rows.index)
        for d in dimension:
            order = {code: i for i, code in enumerate(self.code_list(d))}
            position = position * (len(order) + 1) + rows[d].map(order).fillna(len(order))
        return position

    def _readable(self, rows: pd.DataFrame, code: str, dimension: tuple[str, ...], area_label: str) -> pd.DataFrame:
        """Lower-case readable columns first, then the SDMX codes."""
        out = pd.DataFrame({area_label: rows["area_name"], "REF_AREA": rows["REF_AREA"],
                            "year": rows["TIME_PERIOD"].astype("int64")})
        for d in dimension:
            out[d.lower()] = rows[d].map(self.code_list(d)).fillna(rows[d])
        out["value"] = rows["OBS_VALUE"]
        out["ci_lower"] = rows["CI_LOWER"]
        out["ci_upper"] = rows["CI_UPPER"]
        out["std_err"] = rows["STD_ERR"]
        out["cv"] = rows["CV"]
        if "N_UNWEIGHTED" in rows:
            out["n"] = rows["N_UNWEIGHTED"].astype("Int64")
        if "COVERAGE" in rows:
            out["coverage"] = rows["COVERAGE"]
        out["flag"] = [self.flag(o, c, m) for o, c, m in zip(rows["OBS_STATUS"], rows["CONF_STATUS"],
                                                             rows["COMMENT_OBS"])]
        out["comment"] = rows["COMMENT_OBS"]
        out["synthetic"] = rows["SYNTHETIC"].astype(bool)
        for column in ("rank", "n_ranked"):
            if column in rows:
                out[column] = rows[column].astype("Int64")
        out["unit"] = rows["UNIT_MEASURE"]
        for column in ("INDICATOR", "SEX", "AGE", "URBANISATION", "OBS_STATUS", "CONF_STATUS", "SOURCE_ID"):
            out[column] = rows[column]
        for column in ("itu_region", "income_group", "classification"):
            if column in rows:
                out[column] = rows[column]
        return out

    # -- the public functions
    def compare(self, indicator: str, countries=None, year: int | None = None, by: str | None = None
                ) -> pd.DataFrame:
        """Countries side by side on one indicator, from the `compare` view.

        countries: ISO3 codes or names (case-insensitive), None = every country with data. year: None = each
        country's latest year with a value (years may differ between countries: see the `year` column); a year
        gives that year only. by: None = totals, 'sex', 'age' or 'urbanisation' = that breakdown, or a crossing
        the indicator publishes, 'sex x age' (girls aged 12-14; for one country, all categories come from one
        year).

        One row per country (and category), totals ordered by value (blank cells last). `rank`/`n_ranked`: the
        country's rank (1 = highest) among the n countries with a value for the same indicator, year and cell in
        the release, not only among the countries asked for. `flag` says in words what OBS_STATUS means (for a
        blank cell: why it is blank, as the charts print it), `comment` is COMMENT_OBS. A country without data is
        left out with a warning.
        """
        rows = self.compare_rows(indicator, countries, year, by)
        code = rows["INDICATOR"].iloc[0]
        return self._readable(rows, code, _breakdown_dimension(by), "country")

    def country_profile(self, country: str) -> pd.DataFrame:
        """Every indicator of one country (ISO3 or name), totals at its latest year with a value, beside its ITU
        region's and the world's value of the same year (`country_profile` view)."""
        [iso3] = self.resolve_areas([country], kind="country")
        rows = self._query("SELECT * FROM country_profile WHERE REF_AREA = ?", [iso3])
        if rows.empty:
            raise ExploreError(f"{self._name(iso3)} ({iso3}) has no observation in release {self.release_id}")
        order = sorted(range(len(rows)), key=lambda i: indicator_sort_key(rows["INDICATOR"].iloc[i]))
        return rows.iloc[order].reset_index(drop=True)

    def regional(self, indicator: str, year: int | None = None, groups=None, by: str | None = None
                 ) -> pd.DataFrame:
        """Group values (world, ITU and M49 regions, LDC/LLDC/SIDS, development and income groups) of one
        indicator, from the `regional` view. year None = each group's latest year with a value (its latest year,
        blank, when it has none); groups: codes or names, None = all. Blank cells say why (L: the reporting
        countries cover too little of the group; Q: too few countries or one dominates)."""
        code = self.check_indicator(indicator)
        dimension = _breakdown_dimension(by)
        self._check_breakdown(code, dimension)
        wanted = self.resolve_areas(groups, kind="group") if groups is not None else None
        rows = self._latest_rows("regional", code, dimension, wanted, year)
        if rows.empty:
            raise ExploreError(f"{code}: no group value" + (f" in {year}" if year is not None else "")
                               + f" in release {self.release_id} (it is not aggregated, or not in that year)")
        order = {c: i for i, c in enumerate(self.areas["ref_area"])}
        rows = rows.assign(_o=rows["REF_AREA"].map(lambda c: (0 if c == "WLD" else 1, order.get(c, 0))),
                           _c=self._category_order(rows, dimension))
        rows = rows.sort_values(["_o", "_c"]).drop(columns=["_o", "_c"])
        return self._readable(rows.reset_index(drop=True), code, dimension, "group")

    def indicators(self, group: str | None = None) -> pd.DataFrame:
        """The catalogue: one row per indicator (and derived gap series) with its definition, unit,
        `data_origin` in this release (synthetic / real / partly synthetic / no data) and how many observations
        and published values it has. group: a group name (preventative_actions) or prefix (PA)."""
        catalogue = self.catalogue
        if group is not None:
            wanted = str(group).strip().lower()
            prefixes = {c.split(".")[0].lower(): g for c, g in zip(catalogue["code"], catalogue["group_name"])}
            wanted = prefixes.get(wanted, wanted)
            if wanted not in set(catalogue["group_name"]):
                groups = sorted(set(catalogue["group_name"]))
                raise ExploreError(f"unknown indicator group {group!r}: use one of {', '.join(groups)} (or the "
                                   f"code prefix: {', '.join(sorted(p.upper() for p in prefixes))})")
            catalogue = catalogue[catalogue["group_name"] == wanted]
        first = ["code", "name", "group_name", "unit", "data_origin", "observations", "values", "disaggregations",
                 "derived_from", "definition"]
        return catalogue[first + [c for c in catalogue.columns if c not in first]].reset_index(drop=True)

    def trend_rows(self, indicator: str, areas, by: str | None = None) -> pd.DataFrame:
        """`observations_labelled` rows (its own columns) for `trend()` and `plot_trend()`."""
        code = self.check_indicator(indicator)
        dimension = _breakdown_dimension(by)
        self._check_breakdown(code, dimension)
        wanted = self.resolve_areas(areas)
        if not wanted:
            raise ExploreError("areas=[]: give country or group codes or names")
        rows = self._query(f"SELECT * FROM observations_labelled WHERE INDICATOR = $code AND "
                           f"list_contains($areas, REF_AREA) AND {_cell_filter(dimension)}",
                           {"code": code, "areas": wanted})
        absent = [c for c in wanted if c not in set(rows["REF_AREA"])]
        if len(absent) == len(wanted):
            raise ExploreError(f"{code}: no observation for {', '.join(absent)} in release {self.release_id}")
        if absent:
            warnings.warn(f"{code}: no observation for {', '.join(absent)}; left out", stacklevel=3)
        rows = rows.assign(_o=rows["REF_AREA"].map({c: i for i, c in enumerate(wanted)}),
                           _c=self._category_order(rows, dimension))
        return rows.sort_values(["_o", "TIME_PERIOD", "_c"]).drop(columns=["_o", "_c"]).reset_index(drop=True)

    def trend(self, indicator: str, areas, by: str | None = None) -> pd.DataFrame:
        """One indicator over time for some countries and/or groups (codes or names), every year in the
        release, totals or a breakdown (`by` as in compare). Rows in the order the areas were given, then year."""
        rows = self.trend_rows(indicator, areas, by)
        return self._readable(rows, rows["INDICATOR"].iloc[0], _breakdown_dimension(by), "area")

    # -- charts: drawn by indicators.charts with the release's own choices (unit, source line, scale, caveat)
    def plot_compare(self, indicator: str, countries=None, year: int | None = None, *, references=True,
                     sex: str = TOTAL, age: str = TOTAL, urbanisation: str = TOTAL, share: bool | None = None,
                     ax=None):
        """The release's ranked chart: one bar per country with its 95 % interval (the year beside each name when
        years differ), for one cell (totals by default; e.g. sex='F'). Reference lines: the world and the ITU
        regions of the countries shown (references=True), the given groups (a list of codes or names) or none
        (False); each group at `year`, else at its latest year with a value; blank ones are named in a note.
        share: None = as the release (a percentage on a 0-100 axis, except growth rates); False fits the axis to
        the values (from 0), which makes small percentages and their intervals readable.
        Returns the matplotlib Figure (`fig.chart_data` holds the rows drawn)."""
        by = self._by_of(sex, age, urbanisation)
        rows = self._cell_rows(self.compare_rows(indicator, countries, year, by), sex, age, urbanisation)
        code = rows["INDICATOR"].iloc[0]
        entry = self._entry(code)
        reference_rows = rows.iloc[0:0]
        if references is not False:
            groups = (["WLD"] + sorted(set(rows["itu_region"].dropna())) if references is True
                      else self.resolve_areas(references, kind="group"))
            reference_rows = self._cell_rows(
                self._latest_rows("regional", code, _breakdown_dimension(by), groups, year), sex, age, urbanisation)
            reference_rows = reference_rows.sort_values(
                "REF_AREA", key=lambda s: s.map(lambda c: (c != "WLD", c))).reset_index(drop=True)
        drawn = pd.concat([rows, reference_rows[reference_rows["OBS_VALUE"].notna()]])
        subtitle = ("all children in the indicator's population (totals)"
                    if by is None and entry["method"] in charts.SURVEY_METHODS else "")
        return charts.ranked_chart(rows, title=self._title(code, sex, age, urbanisation), unit=self._unit(code),
                                   source=self._source(drawn), release_id=self.release_id,
                                   references=reference_rows, ax=ax, subtitle=subtitle, notes=self._caveat(code),
                                   share=self._share(code, share))

    def plot_sex_gap(self, indicator: str, countries=None, year: int | None = None, *, share: bool | None = None,
                     ax=None):
        """The release's sex-gap chart: girls' and boys' values with their 95 % intervals per country (each
        country's latest wave with a value, or `year`); `share` as in plot_compare. Returns the matplotlib
        Figure."""
        rows = self.compare_rows(indicator, countries, year, "sex")
        code = rows["INDICATOR"].iloc[0]
        title = f"{self._title(code)}: girls and boys"
        return charts.sex_gap_chart(rows, title=title, unit=self._unit(code), source=self._source(rows),
                                    release_id=self.release_id, ax=ax, notes=self._caveat(code),
                                    share=self._share(code, share))

    def plot_trend(self, indicator: str, areas=None, *, sex: str = TOTAL, age: str = TOTAL,
                   urbanisation: str = TOTAL, share: bool | None = None, ax=None):
        """The release's trend chart: one line per country or group (codes or names) over every year of the
        release, broken where a year has no published value. areas None: the world and the ITU regions where
        they have values, else every country with data (at most 12). `share` as in plot_compare. Returns the
        matplotlib Figure."""
        code = self.check_indicator(indicator)
        if areas is None:
            areas = self._default_trend_areas(code)
        by = self._by_of(sex, age, urbanisation)
        rows = self._cell_rows(self.trend_rows(code, areas, by), sex, age, urbanisation)
        return charts.trend_chart(rows, title=self._title(code, sex, age, urbanisation), unit=self._unit(code),
                                  source=self._source(rows[rows["OBS_VALUE"].notna()]),
                                  release_id=self.release_id, ax=ax, notes=self._caveat(code),
                                  share=self._share(code, share))

    # -- chart helpers
    def _entry(self, code: str) -> pd.Series:
        return self.catalogue.set_index("code").loc[code]

    def _unit(self, code: str) -> str:
        """The axis unit the release's charts print ('%', 'per 100,000 Internet users', ...)."""
        entry = self._entry(code)
        return charts.unit_label(entry["unit"], entry["name"])

    def _share(self, code: str, share: bool | None = None) -> bool:
        """As the release: a percent on a 0-100 axis, except a growth rate (which can exceed 100 or fall below 0);
        `share` given by the caller wins."""
        return share if share is not None else self._entry(code)["method"] != "growth"

    def _caveat(self, code: str) -> list[str]:
        caveat = self._entry(code)["caveats"]
        return [f"Caveat: {caveat}"] if isinstance(caveat, str) and caveat else []

    def _source(self, rows: pd.DataFrame) -> str:
        """The chart's 'Source:' line: the citations (sources table) of the inputs the rows drawn rest on."""
        if self._sources is None:
            self._sources = self._query("SELECT source_id, citation FROM sources")
        return charts.source_line(rows, self._sources)

    def _by_of(self, sex: str, age: str, urbanisation: str) -> str | None:
        """The breakdown of one cell: None for totals, 'sex', or a crossing 'sex x age' (girls aged 12-14)."""
        chosen = [name for name, value in (("sex", sex), ("age", age), ("urbanisation", urbanisation))
                  if value != TOTAL]
        return " x ".join(chosen) if chosen else None

    def _cell_rows(self, rows: pd.DataFrame, sex: str, age: str, urbanisation: str) -> pd.DataFrame:
        """The rows of one cell (codes SEX, AGE, URBANISATION); an unknown category names the ones there are."""
        cell = {"SEX": sex, "AGE": age, "URBANISATION": urbanisation}
        for dimension, value in cell.items():
            if value != TOTAL and not rows.empty and value not in set(rows[dimension]):
                raise ExploreError(f"{dimension}={value!r}: the categories of {rows['INDICATOR'].iloc[0]} are "
                                   f"{', '.join(c for c in self.code_list(dimension) if c in set(rows[dimension]))}")
        mask = (rows["SEX"] == sex) & (rows["AGE"] == age) & (rows["URBANISATION"] == urbanisation)
        return rows[mask].reset_index(drop=True)

    def _default_trend_areas(self, code: str) -> list[str]:
        groups = self._query("SELECT DISTINCT REF_AREA FROM regional WHERE INDICATOR = ? AND OBS_VALUE IS NOT NULL "
                             "AND (REF_AREA = 'WLD' OR classification = 'itu_region') ORDER BY REF_AREA <> 'WLD', "
                             "REF_AREA", [code])["REF_AREA"].tolist()
        if groups:
            return groups
        countries = self._query("SELECT DISTINCT REF_AREA FROM compare WHERE INDICATOR = ? AND OBS_VALUE IS NOT NULL "
                                "ORDER BY REF_AREA", [code])["REF_AREA"].tolist()
        if len(countries) > 12:
            raise ExploreError(f"{code}: {len(countries)} countries have data and no world or ITU region value "
                               "does: choose the areas (plot_trend(indicator, areas=[...]))")
        return countries

    def _title(self, code: str, sex: str = TOTAL, age: str = TOTAL, urbanisation: str = TOTAL) -> str:
        title = f"{code} {self._entry(code)['name']}"
        for dimension, value in (("SEX", sex), ("AGE", age), ("URBANISATION", urbanisation)):
            if value != TOTAL:
                title += f", {self.code_list(dimension).get(value, value)}"
        return title

    def unit_label(self, code: str) -> str:
        """The label of an indicator's unit in the release's UNIT_MEASURE code list (for tables and text)."""
        unit = self._entry(self.check_indicator(code))["unit"]
        return self.code_list("UNIT_MEASURE").get(unit, unit)

    def _name(self, code: str) -> str:
        return dict(zip(self.areas["ref_area"], self.areas["name"])).get(code, code)


def show(fig) -> None:
    """Show a chart in a notebook once and release it: display(fig), then close it (charts are drawn with pyplot,
    which would otherwise show an open figure a second time at the end of the cell and keep it in memory)."""
    from IPython.display import display

    display(fig)
    charts.plt.close(fig)


# --------------------------------------------------------------------------------- one-liners on a default release

_default: Release | None = None


def use_release(path: str | os.PathLike | None = None) -> Release:
    """Make the release at `path` (see release_database) the one the module-level functions read."""
    global _default
    if _default is not None:
        _default.close()
    _default = open_release(path)
    return _default


def default_release() -> Release:
    """The release the module-level functions read, opened on first use ($COP_RELEASE or data/published/latest)."""
    return _default if _default is not None else use_release()


def compare(indicator: str, countries=None, year: int | None = None, by: str | None = None) -> pd.DataFrame:
    return default_release().compare(indicator, countries, year, by)


def country_profile(country: str) -> pd.DataFrame:
    return default_release().country_profile(country)


def regional(indicator: str, year: int | None = None, groups=None, by: str | None = None) -> pd.DataFrame:
    return default_release().regional(indicator, year, groups, by)


def indicators(group: str | None = None) -> pd.DataFrame:
    return default_release().indicators(group)


def trend(indicator: str, areas, by: str | None = None) -> pd.DataFrame:
    return default_release().trend(indicator, areas, by)


def plot_compare(indicator: str, countries=None, year: int | None = None, **options):
    return default_release().plot_compare(indicator, countries, year, **options)


def plot_sex_gap(indicator: str, countries=None, year: int | None = None, **options):
    return default_release().plot_sex_gap(indicator, countries, year, **options)


def plot_trend(indicator: str, areas=None, **options):
    return default_release().plot_trend(indicator, areas, **options)


for _function in (compare, country_profile, regional, indicators, trend, plot_compare, plot_sex_gap, plot_trend):
    _function.__doc__ = (f"`Release.{_function.__name__}` on the default release (see use_release).\n\n"
                         + (getattr(Release, _function.__name__).__doc__ or ""))
