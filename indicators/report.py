"""The release's report: report.html (one self-contained page) and profiles/<ISO3>.html (one per country).

Everything is read from the release's own public database (cop_indicators.duckdb: catalogue, sources, areas and
the views `latest`, `country_profile`, `regional`), never from the warehouse, so the report shows exactly what
analysts can query. The pages need no server and no network: inline CSS, no script, charts as relative
`charts/*.png` links of the release, relative links between pages. Every text is escaped with html.escape and the
output depends only on the release (no clock), so equal releases give identical bytes.
"""

from __future__ import annotations

import html
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd

from indicators.catalogue import GROUP_TITLES
from indicators.charts import COVERED_SHARE, ChartFile, ranking_year
from indicators.errors import CopError
from schemas.observations import CONF_STATUS, OBS_STATUS
from indicators.sources import harmonised_sources

REPORT_FILE = "report.html"
PROFILES_DIR = "profiles"
WORLD = "WLD"
REQUIRED_RELATIONS = ("catalogue", "sources", "areas", "observations", "latest", "compare", "country_profile",
                      "regional")

# how a unit is written in a table header or beside a value
UNIT_TEXT = {"percent": "%", "percentage_points": "percentage points", "per_100": "per 100 inhabitants",
             "per_100k": "per 100,000", "count": "number", "score": "score", "ratio": "ratio", "days": "days"}
UNIT_SHORT = {"percent": "%", "percentage_points": "pp", "per_100": "per 100", "per_100k": "per 100,000",
              "count": "number", "score": "score", "ratio": "ratio", "days": "days"}
SOURCE_KIND_TEXT = {"ict": "ICT statistics", "incidents": "incident reports", "microdata": "survey microdata"}
TALL_CHART_PX = 1500  # charts taller than this are shown in a scrolling frame (CSS .chart-scroll)
MINUS = "\u2212"
DASH = "\u2013"
e = html.escape


# ----------------------------------------------------------------------------------------------------------
# reading the release


@dataclass(frozen=True)
class ReleaseTables:
    """What the report shows, read from one release's public database."""

    catalogue: pd.DataFrame        # catalogue table (+ data_origin), in report order
    sources: pd.DataFrame          # sources table
    areas: pd.DataFrame            # areas table
    country_values: pd.DataFrame   # `compare` rows at totals with a value: every country, every year
    group_rows: pd.DataFrame       # `regional` rows at totals of WLD and the ITU regions, every year, blank or not
    profiles: pd.DataFrame         # `country_profile` rows with the SOURCE_ID of the value
    countries: list[str]           # ISO3 of every country with at least one observation, sorted
    # the national questionnaire's roadmap (empty without questionnaire responses): stage per country, round and
    # pillar, and the checklist items each still misses for the next stage
    roadmap_stages: pd.DataFrame = field(default_factory=pd.DataFrame)
    roadmap_gaps: pd.DataFrame = field(default_factory=pd.DataFrame)

    @cached_property
    def series(self) -> dict[str, dict]:
        """Catalogue rows by code (plain dicts: the profiles look one up per row)."""
        return {row["code"]: row for row in self.catalogue.to_dict("records")}

    @cached_property
    def series_with_data(self) -> list[str]:
        """Codes of the base series (no derived gap series) with data in this release, in report order."""
        c = self.catalogue
        return c.loc[c["derived_from"].isna() & (c["data_origin"] != "no data"), "code"].tolist()

    @cached_property
    def roadmap_records(self) -> dict[str, tuple[int, dict[str, dict], dict[str, list[dict]]]]:
        """Per country: its latest questionnaire round, its stage row per pillar, its gap rows per pillar."""
        out: dict[str, tuple[int, dict[str, dict], dict[str, list[dict]]]] = {}
        if self.roadmap_stages.empty:
            return out
        latest = self.roadmap_stages.groupby("REF_AREA")["TIME_PERIOD"].max().to_dict()
        for row in self.roadmap_stages.to_dict("records"):
            if row["TIME_PERIOD"] == latest[row["REF_AREA"]]:
                out.setdefault(row["REF_AREA"], (int(row["TIME_PERIOD"]), {}, {}))[1][row["PILLAR"]] = row
        for row in (self.roadmap_gaps.to_dict("records") if not self.roadmap_gaps.empty else []):
            if row["REF_AREA"] in out and row["TIME_PERIOD"] == latest[row["REF_AREA"]]:
                out[row["REF_AREA"]][2].setdefault(row["PILLAR"], []).append(row)
        return out

    @cached_property
    def profile_records(self) -> dict[str, list[dict]]:
        """country_profile rows by country, in report order (group, then code)."""
        out: dict[str, list[dict]] = {}
        for row in self.profiles.to_dict("records"):
            out.setdefault(row["REF_AREA"], []).append(row)
        order = {g: n for n, g in enumerate(GROUP_TITLES)}
        for rows in out.values():
            rows.sort(key=lambda r: (order.get(r["group_name"], len(order)), code_sort_key(r["INDICATOR"])))
        return out


def code_sort_key(code: str) -> tuple:
    """BC.2 before BC.10; a derived series (BC.2_GPI) right after its base, GPI before URG."""
    match = re.match(r"^([A-Z]+)\.(\d+)(.*)$", code)
    if not match:
        return (code, 0, "")
    return (match.group(1), int(match.group(2)), match.group(3))


def totals(alias: str) -> str:
    """SQL condition: the row is a total over every disaggregation (both sexes, all ages, urban and rural)."""
    return f"{alias}.SEX = '_T' AND {alias}.AGE = '_T' AND {alias}.URBANISATION = '_T'"


def _relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}


def read_release_tables(database: Path) -> ReleaseTables:
    if not database.exists():
        raise CopError(f"{database}: the release's public database is missing; the report is written from it")
    con = duckdb.connect(str(database), read_only=True)
    try:
        missing = [name for name in REQUIRED_RELATIONS if name not in _relations(con)]
        if missing:
            raise CopError(f"{database}: no table or view {', '.join(missing)}; the report reads them "
                           "(indicators/public_database.py writes them)")
        catalogue = con.execute("SELECT * FROM catalogue").df()
        sources = con.execute("SELECT * FROM sources ORDER BY kind, source_id").df()
        areas = con.execute("SELECT * FROM areas ORDER BY type, ref_area").df()
        country_values = con.execute(f"""
            SELECT c.INDICATOR, c.REF_AREA, c.area_name, c.TIME_PERIOD, c.OBS_VALUE
            FROM compare c WHERE {totals('c')} AND c.OBS_VALUE IS NOT NULL
            ORDER BY c.INDICATOR, c.REF_AREA, c.TIME_PERIOD""").df()
        group_rows = con.execute(f"""
            SELECT r.INDICATOR, r.REF_AREA, r.area_name, r.classification, r.TIME_PERIOD, r.OBS_VALUE, r.CI_LOWER,
                   r.CI_UPPER, r.OBS_STATUS, r.CONF_STATUS, r.COMMENT_OBS, r.COVERAGE, r.SYNTHETIC
            FROM regional r
            WHERE {totals('r')} AND (r.REF_AREA = '{WORLD}' OR r.classification = 'itu_region')
            ORDER BY r.INDICATOR, r.REF_AREA, r.TIME_PERIOD""").df()
        profiles = con.execute(f"""
            SELECT p.*, l.SOURCE_ID
            FROM country_profile p
            LEFT JOIN latest l ON l.INDICATOR = p.INDICATOR AND l.REF_AREA = p.REF_AREA
                 AND l.TIME_PERIOD = p.TIME_PERIOD
                 AND {totals('l')}
            ORDER BY p.REF_AREA, p.INDICATOR""").df()
        relations = _relations(con)
        roadmap = {name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").df() if name in relations
                   else pd.DataFrame() for name in ("roadmap_stages", "roadmap_gaps")}
        countries = [code for (code,) in con.execute("""
            SELECT DISTINCT o.REF_AREA FROM observations o JOIN areas a ON a.ref_area = o.REF_AREA
            WHERE a.type = 'country' ORDER BY 1""").fetchall()]
    finally:
        con.close()
    order = {g: n for n, g in enumerate(GROUP_TITLES)}
    catalogue = catalogue.assign(_order=[(order.get(g, len(order)), code_sort_key(c))
                                         for g, c in zip(catalogue["group_name"], catalogue["code"])])
    catalogue = catalogue.sort_values("_order").drop(columns="_order").reset_index(drop=True)
    return ReleaseTables(catalogue, sources, areas, country_values, group_rows, profiles, countries,
                         roadmap["roadmap_stages"], roadmap["roadmap_gaps"])


# ----------------------------------------------------------------------------------------------------------
# numbers and labels


def present(value) -> bool:
    return value is not None and not pd.isna(value)


def fmt(value, decimals: int) -> str:
    """A number as printed: its indicator's decimals (half away from zero, as the release rounds), thousands
    separators, a true minus sign. Published values already have these decimals and print unchanged."""
    if not present(value):
        return ""
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    rounded = exact.quantize(Decimal(1).scaleb(-int(decimals)), rounding=ROUND_HALF_UP)
    text = f"{abs(rounded):,.{int(decimals)}f}"
    return (MINUS if rounded < 0 else "") + text


def median(values: pd.Series) -> Decimal:
    """The median of published values, exactly: the mean of the two middle values of an even count is a
    decimal with one more digit (42.3 and 42.4 give 42.35), which binary floats would round down."""
    ordered = sorted(Decimal(repr(float(v))) for v in values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def fmt_interval(low, high, decimals: int) -> str:
    if not (present(low) and present(high)):
        return ""
    # an en dash after a minus sign reads as a second minus: "-4.3 to 5.9", but "36.8-41.8"
    joint = " to " if float(low) < 0 or float(high) < 0 else DASH
    return f"{fmt(low, decimals)}{joint}{fmt(high, decimals)}"


def release_date(release_id: str) -> str | None:
    """The date in a timestamp release id (2026-11-29T163905Z -> 29 November 2026); None for a named release."""
    try:
        moment = datetime.strptime(release_id, "%Y-%m-%dT%H%M%SZ")
    except ValueError:
        return None
    return f"{moment.day} {moment:%B %Y}"


def status_title(code: str) -> str:
    label, use = OBS_STATUS[code]
    return f"{code} {label}: {use}"


def flag(code) -> str:
    """A status flag beside a number: nothing for a normal value (A), else the code with its meaning on hover."""
    if not present(code) or code == "A":
        return ""
    return f'<abbr class="flag flag-{e(code)}" title="{e(status_title(code))}">{e(code)}</abbr>'


def synthetic_badge(origin: str) -> str:
    """The per-series label of data_origin; real series and series with no data carry none."""
    if origin == "synthetic":
        return ('<span class="synthetic" title="every value of this series rests on a generated sample: for '
                'demonstration and testing, not statistics">SYNTHETIC</span>')
    if origin == "partly synthetic":
        return ('<span class="synthetic" title="some values of this series rest on a generated sample (the '
                'observations\' SYNTHETIC column says which)">partly SYNTHETIC</span>')
    return ""


def value_cell(value, decimals: int, status, *, year=None, muted: bool = False) -> str:
    """A right-aligned table cell: the value with its flag, or a dash and the flag of a blank cell."""
    text = fmt(value, decimals) if present(value) else "\u2014"
    if present(year) and present(value):
        text += f' <span class="year">({int(year)})</span>'
    css = "num muted" if muted or not present(value) else "num"
    return f'<td class="{css}">{text}{" " + flag(status) if flag(status) else ""}</td>'


# ----------------------------------------------------------------------------------------------------------
# key figures


def where(area: str, year: int, latest_year: int) -> str:
    """The country beside a lowest or highest value, with its year when that is not the series' latest year."""
    return f'<span class="where">{e(area)}{f", {int(year)}" if int(year) != int(latest_year) else ""}</span>'


def survey_series(catalogue: pd.DataFrame) -> set[str]:
    """Codes of the series estimated from sample surveys (and their derived gaps): one value per survey wave."""
    sampled = {name for name, source in harmonised_sources().items() if source.sampled}
    return set(catalogue.loc[catalogue["source"].isin(sampled), "code"])


def latest_row(rows: pd.DataFrame) -> pd.Series | None:
    """The latest row with a value, else the latest row (a blank cell that says why there is no value)."""
    if rows.empty:
        return None
    valued = rows[rows["OBS_VALUE"].notna()]
    return (valued if not valued.empty else rows).sort_values("TIME_PERIOD").iloc[-1]


def key_figures(tables: ReleaseTables) -> pd.DataFrame:
    """One row per series with a country value (totals), over the values its ranked chart shows:
    - a survey series: each country's latest wave (waves differ between countries; years first_year-latest_year);
    - a country-level series (ICT, incidents): its ranking year (charts.ranking_year: the latest year in which
      at least 80 % of the countries that ever report it have a value), so that a country whose last report is
      decades old does not stand beside this year's values.
    Columns: countries in that set and ever with a value, the lowest, median and highest value (with the country
    and year), and the world's value (latest for a survey series, of the ranking year otherwise)."""
    survey = survey_series(tables.catalogue)
    world_rows = tables.group_rows[tables.group_rows["REF_AREA"] == WORLD]
    world_by_code = dict(tuple(world_rows.groupby("INDICATOR")))
    rows = []
    for code, values in tables.country_values.groupby("INDICATOR", sort=False):
        world = world_by_code.get(code, world_rows.iloc[0:0])
        if code in survey:
            year = None
            chosen = values.sort_values("TIME_PERIOD").groupby("REF_AREA").tail(1)
            w = latest_row(world)
        else:
            year = ranking_year(values)
            chosen = values[values["TIME_PERIOD"] == year]
            in_year = world[world["TIME_PERIOD"] == year]
            w = in_year.iloc[0] if not in_year.empty else None
        lowest = chosen[chosen["OBS_VALUE"] == chosen["OBS_VALUE"].min()].sort_values("area_name")
        highest = chosen[chosen["OBS_VALUE"] == chosen["OBS_VALUE"].max()].sort_values("area_name")
        low, high = lowest.iloc[0], highest.iloc[0]
        rows.append({
            "code": code, "year": year, "countries": len(chosen), "countries_ever": values["REF_AREA"].nunique(),
            "first_year": int(chosen["TIME_PERIOD"].min()), "latest_year": int(chosen["TIME_PERIOD"].max()),
            "low": low["OBS_VALUE"], "low_area": tied_names(lowest), "low_year": int(low["TIME_PERIOD"]),
            "median": median(chosen["OBS_VALUE"]),
            "high": high["OBS_VALUE"], "high_area": tied_names(highest), "high_year": int(high["TIME_PERIOD"]),
            # a share of countries is 100 (yes) or 0 (no) per country: its key figures are these two counts
            "yes": int((chosen["OBS_VALUE"] == 100).sum()), "no": int((chosen["OBS_VALUE"] == 0).sum()),
            "world": None if w is None else w["OBS_VALUE"],
            "world_year": None if w is None else int(w["TIME_PERIOD"]),
            "world_status": None if w is None else w["OBS_STATUS"],
            "world_comment": None if w is None else w["COMMENT_OBS"],
        })
    return pd.DataFrame(rows).set_index("code") if rows else pd.DataFrame()


def tied_names(rows: pd.DataFrame) -> str:
    """The countries sharing a lowest or highest value, by name: 'Chad', 'Chad and Mali', 'Chad and 3 others'."""
    names = list(rows["area_name"])
    if len(names) <= 2:
        return " and ".join(names)
    return f"{names[0]} and {len(names) - 1} others"


def years_text(f: pd.Series) -> str:
    """The years of a key-figures row: its ranking year, or the span of the countries' latest waves."""
    if present(f["year"]):
        return str(int(f["year"]))
    first, last = int(f["first_year"]), int(f["latest_year"])
    return str(last) if first == last else f"{first}{DASH}{last}"


# ----------------------------------------------------------------------------------------------------------
# page frame

CSS = """
:root { --ink: #1d2733; --muted: #5b6776; --rule: #c9d1da; --band: #f3f6f9; --accent: #0b4f8a;
        --synthetic: #9a3412; --synthetic-bg: #fff1e6; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 "Helvetica Neue", Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 64px; }
header.masthead { border-bottom: 3px solid var(--accent); padding-bottom: 12px; margin-bottom: 8px; }
header.masthead .kicker { color: var(--accent); font-weight: 600; letter-spacing: .04em; text-transform: uppercase;
                          font-size: 12px; margin: 0; }
h1 { font-size: 30px; line-height: 1.15; margin: 4px 0 6px; }
h2 { font-size: 22px; margin: 40px 0 8px; padding-top: 8px; border-top: 1px solid var(--rule); color: var(--accent); }
h3 { font-size: 17px; margin: 30px 0 4px; }
h4 { font-size: 14px; margin: 16px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
p { margin: 6px 0 10px; max-width: 860px; }
a { color: var(--accent); }
.meta { color: var(--muted); margin: 0; }
.small { font-size: 13px; }
nav.toc ol { columns: 2; margin: 6px 0; padding-left: 22px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 13.5px; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0; color: var(--muted);
          white-space: nowrap; }
th, td { padding: 4px 10px 4px 6px; vertical-align: top; border-bottom: 1px solid #e3e8ee; text-align: left; }
thead th { border-bottom: 2px solid var(--ink); font-weight: 600; vertical-align: bottom; }
tbody th { font-weight: normal; }
tr.group-row th { background: var(--band); font-weight: 600; color: var(--accent); padding-top: 8px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.muted { color: var(--muted); }
td.code, th.code { white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.derived th { padding-left: 22px; color: var(--muted); }
.year, .where { color: var(--muted); font-size: 12px; }
.where { display: block; white-space: normal; }
table.wide { width: 100%; }
abbr.flag { text-decoration: none; border: 1px solid currentColor; border-radius: 3px; padding: 0 3px;
            font-size: 11px; font-weight: 600; cursor: help; }
.flag-U, .flag-E { color: #8a5a00; }
.flag-Q, .flag-L, .flag-O { color: #8a1c1c; }
.synthetic { display: inline-block; color: var(--synthetic); background: var(--synthetic-bg);
             border: 1px solid var(--synthetic); border-radius: 3px; padding: 0 5px; font-size: 11px;
             font-weight: 700; letter-spacing: .04em; vertical-align: middle; white-space: nowrap; }
.definition { max-width: 860px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
.facts table { margin-top: 0; }
dl.key { display: grid; grid-template-columns: max-content auto; gap: 3px 14px; margin: 4px 0 12px;
         font-size: 13.5px; }
dl.key dt { color: var(--muted); }
dl.key dd { margin: 0; font-variant-numeric: tabular-nums; }
figure.chart { margin: 14px 0 22px; max-width: 900px; }
figure.chart img { max-width: 100%; height: auto; border: 1px solid #e3e8ee; }
.chart-scroll { max-height: 1000px; overflow-y: auto; border: 1px solid var(--rule); display: inline-block;
                max-width: 100%; }
.chart-scroll img { border: 0; display: block; }
figure.chart figcaption { font-size: 13px; color: var(--muted); margin-top: 4px; }
section.indicator { border-left: 3px solid var(--band); padding-left: 14px; margin-left: -17px; }
.nodata { color: var(--muted); font-size: 13.5px; }
ul.profiles { columns: 4; list-style: none; padding: 0; margin: 4px 0 12px; font-size: 13.5px; }
ul.profiles li { break-inside: avoid; }
footer { margin-top: 48px; border-top: 1px solid var(--rule); padding-top: 8px; color: var(--muted);
         font-size: 12px; }
@media (max-width: 760px) { main { padding: 16px; } nav.toc ol, ul.profiles { columns: 1; }
                            table.wide { display: block; overflow-x: auto; } }
@media print { h2 { break-before: page; } figure.chart, table { break-inside: avoid; } }
"""


def page(title: str, body: str, *, lang: str = "en") -> str:
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
            "</body>\n</html>\n")


def anchor(code: str) -> str:
    return f"ind-{code}"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the page reserves the space before the image loads)."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise CopError(f"{path}: a chart of the report is not a PNG file")
    return struct.unpack(">II", head[16:24])


# ----------------------------------------------------------------------------------------------------------
# report.html


def _how_to_read(catalogue: pd.DataFrame) -> str:
    sampled = {name for name, source in harmonised_sources().items() if source.sampled}
    survey = catalogue[catalogue["source"].isin(sampled) & catalogue["derived_from"].isna()]
    with_data = survey[survey["data_origin"] != "no data"]
    rules = (with_data if not with_data.empty else survey)
    thresholds = rules.groupby(["min_n", "flag_n", "max_cv", "flag_cv"], sort=True)["code"].apply(list)
    threshold_text = []
    for (min_n, flag_n, max_cv, flag_cv), codes in thresholds.items():
        scope = ("survey estimates" if len(thresholds) == 1
                 else "survey estimates of " + ", ".join(sorted(codes, key=code_sort_key)))
        threshold_text.append(
            f"<li>For {e(scope)}: a value resting on fewer than {int(min_n)} unweighted cases or with a coefficient "
            f"of variation (CV) above {max_cv:g} % is suppressed (<code>Q</code>, confidentiality <code>N</code>); "
            f"one resting on {int(min_n)} to {int(flag_n) - 1} cases or with a CV above {flag_cv:g} % is published "
            f"and flagged low reliability (<code>U</code>).</li>")
    obs_rows = "".join(f'<tr><td class="code"><abbr class="flag flag-{e(c)}">{e(c)}</abbr></td><td>{e(label)}</td>'
                       f"<td>{e(use)}</td></tr>" for c, (label, use) in OBS_STATUS.items())
    conf_rows = "".join(f'<tr><td class="code"><code>{e(c)}</code></td><td>{e(label)}</td><td>{e(use)}</td></tr>'
                        for c, (label, use) in CONF_STATUS.items())
    return f"""
<h2 id="how-to-read">How to read this report</h2>
<p>Each value is given in its indicator's unit and rounded to the decimals the indicator is published with.
For a survey indicator the key figures and charts show each country's latest survey wave (the year beside it);
for a series reported every year (ICT statistics, incident reports) they show its reference year, the latest
year in which at least {COVERED_SHARE:.0%} of the countries that report the series have a value. World and
regional values are group values over the member countries that report, by each indicator's rule (its "group
values" line); the country profiles give each country's latest value.</p>
<p><strong>Confidence intervals.</strong> Values estimated from a sample survey (country estimates, their group
values and the gender and urban-rural gaps) come with a 95 % confidence interval: the range of values consistent
with the survey at the 95 % level; it reflects sampling error only. Where two intervals do not overlap, the two
values differ significantly; overlapping intervals do not by themselves show that there is no difference. Series
reported by countries or organisations (ICT statistics, incident counts) have no sampling error and no
interval.</p>
<p><strong>Flags.</strong> A value with no flag is a normal value (<code>A</code>). A flag beside a number or a
dash gives the observation status (SDMX code list CL_OBS_STATUS); hover over it for its meaning. A dash
(&mdash;) is a blank cell: no value is published, and its flag says why.</p>
<table class="wide"><caption>Observation status (OBS_STATUS)</caption>
<thead><tr><th>code</th><th>SDMX label</th><th>used in this release for</th></tr></thead>
<tbody>{obs_rows}</tbody></table>
<p><strong>Suppression.</strong> A suppressed cell (<code>Q</code>) keeps its place in the tables with no value:
the value exists but is withheld, either because it is too unreliable to publish or because it would let a
suppressed value be recovered from a total and the other categories. Its confidentiality status (CONF_STATUS,
code list CL_CONF_STATUS) says which rule applied; the observations' COMMENT_OBS gives the numbers.
<code>L</code> and <code>O</code> cells are missing, not suppressed: a group value whose reporting countries cover
too little of the group, or a gap that cannot be computed.</p>
<table class="wide"><caption>Confidentiality status (CONF_STATUS)</caption>
<thead><tr><th>code</th><th>SDMX label</th><th>used in this release for</th></tr></thead>
<tbody>{conf_rows}</tbody></table>
<p><strong>Reliability thresholds</strong> (from the indicator catalogue):</p>
<ul>{''.join(threshold_text)}</ul>
<p><strong>SYNTHETIC.</strong> A series labelled <span class="synthetic">SYNTHETIC</span> rests on a generated
sample, not on real data: its numbers are for demonstration and testing and must not be read as statistics.
<span class="synthetic">partly SYNTHETIC</span> means some of its values do (the SYNTHETIC column of the
observations says which). Series with no label rest on the real inputs listed under <a href="#sources">Sources</a>.</p>
"""


def _key_figures_table(tables: ReleaseTables, figures: pd.DataFrame) -> str:
    body = []
    base = tables.catalogue[tables.catalogue["derived_from"].isna()]
    for group, title in GROUP_TITLES.items():
        members = base[(base["group_name"] == group) & base["code"].isin(figures.index)]
        if members.empty:
            continue
        body.append(f'<tr class="group-row"><th colspan="8"><a href="#{e(group)}">{e(title)}</a></th></tr>')
        for _, ind in members.iterrows():
            f, d = figures.loc[ind["code"]], int(ind["decimals"])
            body.append(
                f'<tr><th scope="row"><a href="#{e(anchor(ind["code"]))}">{e(ind["code"])}</a> {e(ind["name"])} '
                f'{synthetic_badge(ind["data_origin"])}</th>'
                f'<td>{e(UNIT_SHORT.get(ind["unit"], ind["unit"]))}</td>'
                f'<td class="num">{e(years_text(f))}</td><td class="num">{int(f["countries"])}</td>'
                + (f'<td class="num" colspan="3">{int(f["yes"])} yes, {int(f["no"])} no</td>'
                   if ind["method"] == "share_of_countries" else
                   f'<td class="num">{fmt(f["low"], d)}{where(f["low_area"], f["low_year"], f["latest_year"])}</td>'
                   f'<td class="num">{fmt(f["median"], d)}</td>'
                   f'<td class="num">{fmt(f["high"], d)}{where(f["high_area"], f["high_year"], f["latest_year"])}'
                   '</td>')
                + value_cell(f["world"], d, f["world_status"], year=f["world_year"]) + "</tr>")
    return f"""
<h2 id="key-figures">Key figures</h2>
<p>For each indicator with data, the country values its ranked chart shows (totals: both sexes, all ages, urban
and rural areas). For a survey indicator these are each country's latest survey wave. For a series reported
every year (ICT statistics, incident reports) they are the values of its reference year: the latest year in which
at least {COVERED_SHARE:.0%} of the countries that ever report it have a value, so that no country's years-old
report stands beside this year's figures. Then the lowest, median and highest of these values and the world's
value (of the reference year; for a survey indicator its latest, year in brackets). A share of countries (the
national questionnaire: each country answers yes or no) shows how many of the answering countries said yes and
no instead, and the world's share of them.</p>
<table class="wide">
<thead><tr><th>indicator</th><th>unit</th><th class="num">year(s)</th><th class="num">countries</th>
<th class="num">lowest</th><th class="num">median</th><th class="num">highest</th><th class="num">world</th></tr>
</thead>
<tbody>
{chr(10).join(body)}
</tbody></table>"""


def _group_values_table(code: str, decimals: int, groups: pd.DataFrame, year: int | None) -> str:
    """World and ITU regions: their values of the reference year, or (survey series) their latest values."""
    rows = groups[groups["INDICATOR"] == code]
    if rows.empty:
        return '<p class="nodata">No world or regional value is computed for this series.</p>'
    if year is None:
        picked = [latest_row(area_rows) for _, area_rows in rows.groupby("REF_AREA", sort=True)]
        caption = "World and ITU regions: latest value"
    else:
        picked = [r for _, r in rows[rows["TIME_PERIOD"] == year].iterrows()]
        caption = f"World and ITU regions, {year}"
        if not picked:
            return f'<p class="nodata">No world or ITU regional value for {year}.</p>'
    rows = pd.DataFrame(picked)
    rows = pd.concat([rows[rows["REF_AREA"] == WORLD], rows[rows["REF_AREA"] != WORLD].sort_values("area_name")])
    if rows["OBS_VALUE"].isna().all():
        # seven blank rows would say one thing seven times: say it once, with the world's reasons
        world = rows.iloc[0]
        statuses = "; ".join(f"{OBS_STATUS[c][1]} ({c})" for c in sorted(set(rows["OBS_STATUS"])))
        why = (f' {e(world["area_name"])}, {int(world["TIME_PERIOD"])}: {e(world["COMMENT_OBS"])}.'
               if present(world["COMMENT_OBS"]) else "")
        return (f'<p class="nodata">No world or ITU regional value is published for this series: '
                f'{e(statuses)}.{why}</p>')
    with_ci = rows["CI_LOWER"].notna().any()
    # why a value is blank or flagged, and who a questionnaire value rests on ("51 of 191 invited countries
    # responded (26.7 %); 49 answered")
    with_note = rows["COMMENT_OBS"].map(present).any()
    body = []
    for _, r in rows.iterrows():
        note = e(r["COMMENT_OBS"]) if present(r["COMMENT_OBS"]) else ""
        body.append(f'<tr><th scope="row">{e(r["area_name"])}</th><td class="num">{int(r["TIME_PERIOD"])}</td>'
                    + value_cell(r["OBS_VALUE"], decimals, r["OBS_STATUS"])
                    + (f'<td class="num">{fmt_interval(r["CI_LOWER"], r["CI_UPPER"], decimals)}</td>'
                       if with_ci else "")
                    + (f'<td class="small muted">{note}</td>' if with_note else "") + "</tr>")
    return (f'<table><caption>{e(caption)}</caption><thead><tr><th>area</th>'
            '<th class="num">year</th><th class="num">value</th>'
            + ('<th class="num">95 % CI</th>' if with_ci else "") + ("<th>note</th>" if with_note else "")
            + '</tr></thead><tbody>' + "".join(body) + "</tbody></table>")


def _key_list(code: str, ind: pd.Series, figures: pd.DataFrame) -> str:
    d = int(ind["decimals"])
    if code not in figures.index:
        return '<p class="nodata">No country value at totals in this release.</p>'
    f = figures.loc[code]
    world = (f'{fmt(f["world"], d)} ({int(f["world_year"])}) {flag(f["world_status"])}' if present(f["world"])
             else f'not published ({int(f["world_year"])}) {flag(f["world_status"])}' if present(f["world_status"])
             else "not computed")
    if present(f["year"]):
        basis = (f"<dt>reference year</dt><dd>{int(f['year'])} <span class=\"year\">(the latest with values for "
                 f"{COVERED_SHARE:.0%} of the reporting countries)</span></dd>"
                 f"<dt>countries</dt><dd>{int(f['countries'])} with a value for {int(f['year'])} "
                 f"<span class=\"year\">({int(f['countries_ever'])} with data in some year)</span></dd>")
    else:
        basis = (f"<dt>countries with data</dt><dd>{int(f['countries'])}</dd>"
                 f"<dt>their latest waves</dt><dd>{e(years_text(f))}</dd>")
    if ind["method"] == "share_of_countries":   # yes (100) or no (0) per country: count them
        spread = f"<dt>answers</dt><dd>{int(f['yes'])} yes, {int(f['no'])} no</dd>"
    else:
        spread = (f"<dt>lowest</dt><dd>{fmt(f['low'], d)} <span class=\"year\">{e(f['low_area'])}, "
                  f"{f['low_year']}</span></dd>\n<dt>median</dt><dd>{fmt(f['median'], d)}</dd>\n"
                  f"<dt>highest</dt><dd>{fmt(f['high'], d)} <span class=\"year\">{e(f['high_area'])}, "
                  f"{f['high_year']}</span></dd>")
    return f"""<dl class="key">
{basis}
{spread}
<dt>world</dt><dd>{world}</dd>
</dl>"""


def _derived_table(derived: pd.DataFrame, figures: pd.DataFrame, groups: pd.DataFrame) -> str:
    body = []
    for _, s in derived.iterrows():
        code, d = s["code"], int(s["decimals"])
        label = "gender parity index (girls / boys)" if code.endswith("_GPI") else \
            "urban-rural gap (urban minus rural, percentage points)"
        w = latest_row(groups[(groups["INDICATOR"] == code) & (groups["REF_AREA"] == WORLD)])
        if code in figures.index:
            f = figures.loc[code]
            low = where(f["low_area"], f["low_year"], f["latest_year"])
            high = where(f["high_area"], f["high_year"], f["latest_year"])
            cells = (f'<td class="num">{int(f["countries"])}</td><td class="num">{fmt(f["low"], d)}{low}</td>'
                     f'<td class="num">{fmt(f["median"], d)}</td><td class="num">{fmt(f["high"], d)}{high}</td>')
        else:
            cells = '<td class="num">0</td><td></td><td></td><td></td>'
        world_cell = ('<td class="num muted">\u2014</td>' if w is None
                      else value_cell(w["OBS_VALUE"], d, w["OBS_STATUS"], year=w["TIME_PERIOD"]))
        body.append(f'<tr id="{e(anchor(code))}"><th scope="row"><code>{e(code)}</code> {e(label)} '
                    f'{synthetic_badge(s["data_origin"])}</th>{cells}{world_cell}</tr>')
    return ('<table><caption>Gaps between girls and boys, urban and rural areas (countries\' latest waves)'
            '</caption><thead><tr><th>series</th><th class="num">countries</th><th class="num">lowest</th>'
            '<th class="num">median</th><th class="num">highest</th><th class="num">world</th></tr></thead><tbody>'
            + "".join(body) + "</tbody></table>")


def _figure(chart: ChartFile, release_folder: Path) -> str:
    width, height = png_size(release_folder / chart.path)
    image = (f'<a href="{e(chart.path)}"><img src="{e(chart.path)}" alt="{e(chart.description)}" '
             f'width="{width}" height="{height}"></a>')
    caption = e(chart.title)
    if height > TALL_CHART_PX:
        # a chart of every country can be many screens tall: keep it at full size (readable) in a frame of its
        # own that scrolls, so the page around it stays short
        image = f'<div class="chart-scroll">{image}</div>'
        caption += " <span class=\"year\">(a tall chart: scroll inside the frame, or open the image)</span>"
    return f'<figure class="chart">{image}<figcaption>{caption}</figcaption></figure>'


def _indicator_section(ind: pd.Series, tables: ReleaseTables, figures: pd.DataFrame, charts: list[ChartFile],
                       release_folder: Path) -> str:
    code = ind["code"]
    catalogue = tables.catalogue
    derived = catalogue[(catalogue["derived_from"] == code) & (catalogue["data_origin"] != "no data")]
    disaggregations = ind["disaggregations"] if present(ind["disaggregations"]) else ""
    year = figures.loc[code, "year"] if code in figures.index else None
    reference_year = int(year) if present(year) else None
    parts = [f'<section class="indicator" id="{e(anchor(code))}" data-origin="{e(ind["data_origin"])}">',
             f'<h3>{e(code)} {e(ind["name"])} {synthetic_badge(ind["data_origin"])}</h3>',
             f'<p class="definition">{e(ind["definition"])}</p>',
             f'<p class="meta small">Unit: {e(UNIT_TEXT.get(ind["unit"], ind["unit"]))}; source: '
             f'{e(ind["source"])}; disaggregations: {e(disaggregations or "none")}; '
             f'group values: {e(ind["aggregation"])}.'
             + (f' Caveat: {e(ind["caveats"])}' if present(ind["caveats"]) else "") + "</p>",
             '<div class="facts">', _key_list(code, ind, figures),
             _group_values_table(code, int(ind["decimals"]), tables.group_rows, reference_year), "</div>"]
    if not derived.empty:
        parts.append(_derived_table(derived, figures, tables.group_rows))
    parts += [_figure(chart, release_folder) for chart in charts]
    parts.append("</section>")
    return "\n".join(parts)


def _group_section(group: str, title: str, tables: ReleaseTables, figures: pd.DataFrame,
                   charts: list[ChartFile], release_folder: Path) -> str:
    catalogue = tables.catalogue
    members = catalogue[(catalogue["group_name"] == group) & catalogue["derived_from"].isna()]
    with_data = members[members["data_origin"] != "no data"]
    without = members[members["data_origin"] == "no data"]
    parts = [f'<section class="group" id="{e(group)}">', f"<h2>{e(title)}</h2>",
             f'<p class="meta">{len(members)} indicators, {len(with_data)} with data in this release.</p>']
    shown = set()
    for _, ind in with_data.iterrows():
        own = [c for c in charts if c.indicator == ind["code"]
               or c.indicator in set(catalogue.loc[catalogue["derived_from"] == ind["code"], "code"])]
        shown.update(c.path for c in own)
        parts.append(_indicator_section(ind, tables, figures, own, release_folder))
    rest = [c for c in charts if c.path not in shown]
    if rest:  # charts of series the catalogue does not list in this group (e.g. several indicators at once)
        parts.append("<h3>More charts</h3>")
        parts += [_figure(chart, release_folder) for chart in rest]
    if not without.empty:
        items = "".join(f"<li><code>{e(c)}</code> {e(n)}</li>" for c, n in zip(without["code"], without["name"]))
        parts.append(f'<h4>No data in this release</h4><ul class="nodata">{items}</ul>')
    parts.append("</section>")
    return "\n".join(parts)


def _sources_section(sources: pd.DataFrame) -> str:
    body = []
    for _, s in sources.iterrows():
        badge = synthetic_badge("synthetic") if bool(s["synthetic"]) else ""
        description = (f'<span class="where">{e(s["description"])}</span>' if present(s["description"]) else "")
        body.append(f'<tr id="source-{e(s["source_id"])}"><td class="code"><code>{e(s["source_id"])}</code></td>'
                    f'<td>{e(SOURCE_KIND_TEXT.get(s["kind"], s["kind"]))}</td>'
                    f'<td>{e(s["citation"])} {badge}{description}</td>'
                    f'<td>{e(s["licence"]) if present(s["licence"]) else ""}</td>'
                    f'<td>{e(str(s["vintage"])) if present(s["vintage"]) else ""}</td></tr>')
    return f"""
<h2 id="sources">Sources</h2>
<p>The input files this release rests on; an observation's SOURCE_ID names them (several joined by '+').</p>
<table class="wide"><thead><tr><th>source id</th><th>kind</th><th>citation</th><th>licence</th><th>vintage</th></tr>
</thead><tbody>{''.join(body)}</tbody></table>"""


def _profiles_index(tables: ReleaseTables) -> str:
    countries = tables.areas[tables.areas["ref_area"].isin(tables.countries)]
    countries = countries.assign(region=countries["itu_region_name"].fillna("Outside the ITU regions"),
                                 outside=countries["itu_region"].isna())
    parts = ['<h2 id="profiles">Country profiles</h2>',
             f"<p>One page per country with data ({len(countries)} countries): the latest value of every indicator "
             "beside its ITU region's and the world's value.</p>"]
    for (outside, region), members in countries.sort_values(["outside", "region", "name"]).groupby(
            ["outside", "region"], sort=False):
        links = "".join(f'<li><a href="{PROFILES_DIR}/{e(iso3)}.html">{e(name)}</a></li>'
                        for iso3, name in zip(members["ref_area"], members["name"]))
        parts.append(f'<h4>{e(region)}</h4><ul class="profiles">{links}</ul>')
    return "\n".join(parts)


def render_report(tables: ReleaseTables, release_id: str, charts: list[ChartFile], release_folder: Path) -> str:
    figures = key_figures(tables)
    catalogue = tables.catalogue
    date = release_date(release_id)
    base = catalogue[catalogue["derived_from"].isna()]
    with_data = base[base["data_origin"] != "no data"]
    synthetic = with_data[with_data["data_origin"] != "real"]
    by_group = {g: [c for c in charts if _chart_group(c, catalogue) == g] for g in GROUP_TITLES}
    orphans = [c for c in charts if _chart_group(c, catalogue) not in GROUP_TITLES]
    toc = "".join(f'<li><a href="#{e(target)}">{e(text)}</a></li>' for target, text in
                  [("how-to-read", "How to read this report"), ("key-figures", "Key figures"),
                   *GROUP_TITLES.items(), ("sources", "Sources"), ("profiles", "Country profiles")])
    synthetic_text = (f" {len(synthetic)} of them rest wholly or partly on synthetic (generated) data and are "
                      "labelled SYNTHETIC wherever they appear." if len(synthetic) else "")
    body = [f"""<header class="masthead">
<p class="kicker">Child Online Protection indicators</p>
<h1>COP indicators: statistical report</h1>
<p class="meta">Release <strong>{e(release_id)}</strong>{f" of {e(date)}" if date else ""}.
{len(base)} indicators in {len(GROUP_TITLES)} groups, {len(with_data)} with data in this release.{e(synthetic_text)}</p>
</header>
<nav class="toc"><ol>{toc}</ol></nav>""",
            _how_to_read(catalogue), _key_figures_table(tables, figures)]
    body += [_group_section(g, title, tables, figures, by_group[g], release_folder)
             for g, title in GROUP_TITLES.items()]
    if orphans:
        body.append('<h2 id="other-charts">Other charts</h2>')
        body += [_figure(chart, release_folder) for chart in orphans]
    body += [_sources_section(tables.sources), _profiles_index(tables),
             f"<footer>cop-indicators release {e(release_id)}. Written from the release's public database "
             "(cop_indicators.duckdb); the numbers are those of observations.parquet.</footer>"]
    return page(f"COP indicators: report, release {release_id}", "\n".join(body))


def _chart_group(chart: ChartFile, catalogue: pd.DataFrame) -> str:
    if chart.group in GROUP_TITLES:
        return chart.group
    match = catalogue.loc[catalogue["code"] == chart.indicator, "group_name"]
    return str(match.iloc[0]) if not match.empty else chart.group


# ----------------------------------------------------------------------------------------------------------
# profiles/<ISO3>.html

PILLAR_TITLES = {"legal": "Legal measures", "technical": "Technical and procedural measures",
                 "organizational": "Organizational structures", "capacity_building": "Capacity building",
                 "cooperation": "International cooperation"}


def _roadmap_section(tables: ReleaseTables, iso3: str, name: str) -> str:
    """The country's COP roadmap in its latest questionnaire round: the stage reached on each GCA pillar and the
    checklist items it still misses for the next stage, with its answers ('' when it did not respond)."""
    if iso3 not in tables.roadmap_records:
        return ""
    year, stages, gaps = tables.roadmap_records[iso3]
    rows = []
    for pillar, title in PILLAR_TITLES.items():
        stage = stages.get(pillar)
        if stage is None:
            continue
        missing = gaps.get(pillar, [])
        if int(stage["STAGE"]) >= 5:
            todo = '<span class="muted">every stage reached</span>'
        else:
            todo = (f'to reach <em>{e(missing[0]["NEXT_STAGE_NAME"])}</em>: <ul class="gaps">'
                    + "".join(f'<li><code>{e(g["ITEM"])}</code> {e(g["ITEM_TEXT"])} '
                              f'<span class="where">answer: {e(g["ANSWER"])}</span></li>' for g in missing)
                    + "</ul>") if missing else ""
        rows.append(f'<tr><th scope="row">{e(title)}</th><td class="num">{int(stage["STAGE"])}</td>'
                    f'<td>{e(stage["STAGE_NAME"])}</td><td class="small">{todo}</td></tr>')
    return (f'<h2 id="roadmap">COP roadmap, {year} questionnaire round</h2>'
            f'<p class="small">The stage {e(name)} has reached on each pillar of the Global Cybersecurity Agenda '
            "(0 none, 1 assessment, 2 planning, 3 implementation, 4 evaluation and monitoring, 5 improvement): "
            "every checklist item of that stage and of the earlier ones is met (answered yes). The items still "
            "missing for the next stage are listed with the country's answer. From its answers to the COP national "
            "questionnaire (release tables roadmap_stages and roadmap_gaps).</p>"
            '<table class="wide"><thead><tr><th>pillar</th><th class="num">stage</th><th>stage name</th>'
            f'<th>checklist items missing for the next stage</th></tr></thead><tbody>{"".join(rows)}</tbody>'
            "</table>")


def render_profile(tables: ReleaseTables, iso3: str, release_id: str) -> str:
    area = tables.areas[tables.areas["ref_area"] == iso3].iloc[0]
    rows = tables.profile_records.get(iso3, [])
    region_name = area["itu_region_name"] if present(area["itu_region_name"]) else None
    facts = [("ISO 3166-1 code", iso3)]
    for label, column in (("ITU region", "itu_region_name"), ("UN M49 region", "m49_region_name"),
                          ("UN M49 sub-region", "m49_subregion_name"),
                          ("World Bank income group", "income_group_name")):
        if present(area[column]):
            facts.append((label, str(area[column])))
    groups_of = [label for label, column in (("least developed country", "ldc"),
                                             ("landlocked developing country", "lldc"),
                                             ("small island developing State", "sids"))
                 if present(area[column]) and bool(area[column])]
    if groups_of:
        facts.append(("UN groups", ", ".join(groups_of)))
    fact_list = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    sections = []
    for group, title in GROUP_TITLES.items():
        body = []
        for r in (r for r in rows if r["group_name"] == group):
            code = r["INDICATOR"]
            ind = tables.series[code]
            d = int(ind["decimals"])
            derived = present(ind["derived_from"])
            name = (("gender parity index (girls / boys)" if code.endswith("_GPI") else
                     "urban-rural gap (urban minus rural, pp)") if derived else r["indicator_name"])
            status = r["OBS_STATUS"]
            label = OBS_STATUS[status][0] if status in OBS_STATUS else status
            comment = f'<span class="where">{e(r["COMMENT_OBS"])}</span>' if present(r["COMMENT_OBS"]) else ""
            status_cell = (f'<td class="small">{flag(status)} {e(label)}{comment}</td>' if status != "A"
                           else f'<td class="small muted">normal{comment}</td>')
            body.append(
                f'<tr class="{"derived" if derived else "base"}" data-indicator="{e(code)}" '
                f'data-synthetic="{str(bool(r["SYNTHETIC"])).lower()}">'
                f'<th scope="row"><a class="code" href="../{REPORT_FILE}#{e(anchor(code))}">{e(code)}</a> '
                f'{e(name)}</th><td>{e(UNIT_SHORT.get(r["UNIT_MEASURE"], r["UNIT_MEASURE"]))}</td>'
                f'<td class="num">{int(r["TIME_PERIOD"])}</td>'
                f'<td class="num value">{fmt(r["OBS_VALUE"], d)}</td>'
                f'<td class="num">{fmt_interval(r["CI_LOWER"], r["CI_UPPER"], d)}</td>{status_cell}'
                + value_cell(r["region_value"], d, r["region_status"], muted=True)
                + value_cell(r["world_value"], d, r["world_status"], muted=True)
                + f'<td>{synthetic_badge("synthetic") if bool(r["SYNTHETIC"]) else ""}</td></tr>')
        if not body:
            continue
        sections.append(
            f'<h2 id="{e(group)}">{e(title)}</h2><table class="wide"><thead><tr><th>indicator</th><th>unit</th>'
            f'<th class="num">year</th><th class="num">value</th><th class="num">95 % CI</th><th>status</th>'
            f'<th class="num">{e(region_name or "ITU region")}</th><th class="num">world</th><th>data</th></tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table>')
    roadmap = _roadmap_section(tables, iso3, str(area["name"]))
    if roadmap:
        sections.append(roadmap)
    published = {r["INDICATOR"] for r in rows}
    missing = [code for code in tables.series_with_data if code not in published]
    if missing:
        items = ", ".join(f'<a href="../{REPORT_FILE}#{e(anchor(c))}">{e(c)}</a>' for c in missing)
        sections.append(f"<h2 id=\"no-value\">Indicators with no published value for {e(area['name'])}</h2>"
                        f"<p class=\"small\">These indicators have data for other countries in this release: "
                        f"{items}.</p>")
    source_ids = sorted({s for r in rows if present(r["SOURCE_ID"]) for s in str(r["SOURCE_ID"]).split("+")})
    used = tables.sources[tables.sources["source_id"].isin(source_ids)]
    source_items = "".join(
        f'<li><code>{e(s["source_id"])}</code>: {e(s["citation"])}'
        + (f'; licence {e(s["licence"])}' if present(s["licence"]) else "")
        + (f'; vintage {e(str(s["vintage"]))}' if present(s["vintage"]) else "")
        + (f' {synthetic_badge("synthetic")}' if bool(s["synthetic"]) else "") + "</li>"
        for _, s in used.iterrows())
    date = release_date(release_id)
    body = f"""<p class="small"><a href="../{REPORT_FILE}">&larr; COP indicators report, release {e(release_id)}</a>
 &middot; <a href="../{REPORT_FILE}#profiles">all country profiles</a></p>
<header class="masthead"><p class="kicker">Country profile</p><h1>{e(area['name'])}</h1>
<p class="meta">Release <strong>{e(release_id)}</strong>{f" of {e(date)}" if date else ""}</p></header>
<dl class="key">{fact_list}</dl>
<p>The latest published value of each indicator for {e(area['name'])} (totals: both sexes, all ages, urban and
rural areas), with its 95 % confidence interval where it is a survey estimate, its status, and beside it the value
of {e(region_name or 'its ITU region')} and of the world for the same year (a dash: no group value is published
for that year; its flag says why). Values labelled SYNTHETIC rest on generated sample data and are not statistics.
Flags and statuses are explained in <a href="../{REPORT_FILE}#how-to-read">How to read this report</a>.</p>
{''.join(sections) if sections else '<p class="nodata">No published value for this country in this release.</p>'}
<h2 id="sources">Sources</h2><ul class="small">{source_items or '<li>none</li>'}</ul>
<footer>cop-indicators release {e(release_id)}; from the country_profile view of cop_indicators.duckdb.</footer>"""
    return page(f"{area['name']}: COP indicators profile, release {release_id}", body)


# ----------------------------------------------------------------------------------------------------------
# entry point


def write_report(release_folder: Path, release_id: str, charts: list[ChartFile]) -> None:
    """Write report.html and profiles/<ISO3>.html into `release_folder` from its cop_indicators.duckdb."""
    release_folder = Path(release_folder)
    missing = [c.path for c in charts if not (release_folder / c.path).is_file()]
    if missing:
        raise CopError(f"{release_folder}: chart file(s) listed for the report do not exist: {', '.join(missing)}")
    tables = read_release_tables(release_folder / "cop_indicators.duckdb")
    (release_folder / REPORT_FILE).write_text(render_report(tables, release_id, charts, release_folder),
                                              encoding="utf-8")
    profiles = release_folder / PROFILES_DIR
    profiles.mkdir(exist_ok=True)
    for iso3 in tables.countries:
        (profiles / f"{iso3}.html").write_text(render_profile(tables, iso3, release_id), encoding="utf-8")
