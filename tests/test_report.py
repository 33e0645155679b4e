"""report.html and the country profiles of a release (indicators/report.py), on the bundled sample's release:
every group and chart is there, every link resolves, a profile's numbers equal a hand query on the published
observations, SYNTHETIC labels follow the series' data origin, texts are escaped and the output is deterministic."""

from __future__ import annotations

import json
import re
import shutil
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import pytest

from indicators.catalogue import GROUP_TITLES
from indicators.charts import ChartFile
from indicators.errors import CopError
from indicators.report import PROFILES_DIR, REPORT_FILE, fmt, write_report

BADGE = '<span class="synthetic"'


class Links(HTMLParser):
    """Every href and src of a page, and every id it defines."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "img":
            self.srcs.append(attrs["src"])


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def release_charts(release: Path) -> list[str]:
    return json.loads((release / "manifest.json").read_text())["charts"]


def chart_files(release: Path) -> list[ChartFile]:
    """The ChartFile list of a built release, as render_release_charts returned it (from the manifest and files)."""
    return [ChartFile(path, Path(path).stem.split("_")[0], "", "chart", Path(path).stem, f"chart {path}")
            for path in release_charts(release)]


@pytest.fixture
def release_copy(full_sample_build, tmp_path):
    """A copy of the sample release without its report, to rewrite or alter."""
    release, _ = full_sample_build
    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns(REPORT_FILE, PROFILES_DIR))
    return copy


def section(page: str, element_id: str) -> str:
    """The text of the <section> with this id."""
    start = page.index(f'id="{element_id}"')
    return page[start:page.index("</section>", start)]


def hand_latest_totals(release: Path, iso3: str) -> dict[str, tuple[int, float, str, str]]:
    """INDICATOR -> (year, value, region value, world value) straight from observations.parquet: the latest
    year with a value at totals, and the ITU region's and the world's cells of that year (reference tables
    of the warehouse are not needed: the region comes from the public areas table)."""
    con = duckdb.connect()
    try:
        parquet = str(release / "observations.parquet")
        region = duckdb.connect(str(release / "cop_indicators.duckdb"), read_only=True).execute(
            "SELECT itu_region FROM areas WHERE ref_area = ?", [iso3]).fetchall()[0][0]
        rows = con.execute(f"""
            WITH t AS (SELECT * FROM read_parquet('{parquet}')
                       WHERE SEX = '_T' AND AGE = '_T' AND URBANISATION = '_T'),
            latest AS (SELECT INDICATOR, max(TIME_PERIOD) AS year FROM t
                       WHERE REF_AREA = ? AND OBS_VALUE IS NOT NULL GROUP BY INDICATOR)
            SELECT l.INDICATOR, l.year, c.OBS_VALUE, r.OBS_VALUE, w.OBS_VALUE
            FROM latest l
            JOIN t c ON c.INDICATOR = l.INDICATOR AND c.TIME_PERIOD = l.year AND c.REF_AREA = ?
            LEFT JOIN t r ON r.INDICATOR = l.INDICATOR AND r.TIME_PERIOD = l.year AND r.REF_AREA = ?
            LEFT JOIN t w ON w.INDICATOR = l.INDICATOR AND w.TIME_PERIOD = l.year AND w.REF_AREA = 'WLD'
            """, [iso3, iso3, region]).fetchall()
    finally:
        con.close()
    return {code: (year, value, region_value, world_value) for code, year, value, region_value, world_value in rows}


def profile_rows(page: str) -> dict[str, list[str]]:
    """INDICATOR -> the texts of the row's cells (th, then each td), tags stripped."""
    out = {}
    for match in re.finditer(r'<tr class="(?:base|derived)" data-indicator="([^"]+)"[^>]*>(.*?)</tr>', page, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(2), re.S)
        out[match.group(1)] = [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    return out


def test_report_lists_every_group_and_every_chart(full_sample_build):
    release, _ = full_sample_build
    page = (release / REPORT_FILE).read_text(encoding="utf-8")
    for group, title in GROUP_TITLES.items():
        assert f'<section class="group" id="{group}">' in page
        assert f"<h2>{title}</h2>" in page.replace("&#x27;", "'")
    links = parse(release / REPORT_FILE)
    charts = release_charts(release)
    assert charts, "the release has charts"
    assert sorted(links.srcs) == sorted(charts)  # every chart of the release, each once
    for src in links.srcs:
        assert not urlsplit(src).scheme and not src.startswith("/"), f"{src}: not a relative link"
        assert (release / src).is_file(), f"{src}: the chart file the report shows does not exist"
    # every indicator with data has its section; those without data are listed as such
    con = duckdb.connect(str(release / "cop_indicators.duckdb"), read_only=True)
    catalogue = con.execute("SELECT code, data_origin FROM catalogue WHERE derived_from IS NULL").fetchall()
    con.close()
    for code, origin in catalogue:
        if origin == "no data":
            assert f'id="ind-{code}"' not in page and f"<code>{code}</code>" in page
        else:
            assert f'<section class="indicator" id="ind-{code}" data-origin="{origin}">' in page


def test_every_link_resolves_and_every_country_has_a_profile(full_sample_build):
    release, _ = full_sample_build
    con = duckdb.connect(str(release / "cop_indicators.duckdb"), read_only=True)
    countries = {c for (c,) in con.execute(
        f"SELECT DISTINCT o.REF_AREA FROM read_parquet('{release / 'observations.parquet'}') o "
        "JOIN areas a ON a.ref_area = o.REF_AREA WHERE a.type = 'country'").fetchall()}
    con.close()
    assert len(countries) > 190
    assert {p.stem for p in (release / PROFILES_DIR).glob("*.html")} == countries
    pages = [release / REPORT_FILE, *sorted((release / PROFILES_DIR).glob("*.html"))]
    parsed = {page: parse(page) for page in pages}
    linked_profiles = set()
    for page, links in parsed.items():
        for href in links.hrefs:
            parts = urlsplit(href)
            assert not parts.scheme and not parts.netloc and not parts.path.startswith("/"), \
                f"{page.name}: {href} is not a relative link"
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_file(), f"{page.name}: link {href} points to a missing file"
            if parts.fragment:
                assert unquote(parts.fragment) in parsed[target].ids, f"{page.name}: {href}: no such anchor"
            if page.name == REPORT_FILE and parts.path.startswith(f"{PROFILES_DIR}/"):
                linked_profiles.add(Path(parts.path).stem)
    assert linked_profiles == countries  # the report links every profile


@pytest.mark.parametrize("iso3", ["KEN", "BRA", "USA"])
def test_profile_values_equal_a_hand_query_on_the_observations(full_sample_build, iso3):
    release, _ = full_sample_build
    expected = hand_latest_totals(release, iso3)
    con = duckdb.connect(str(release / "cop_indicators.duckdb"), read_only=True)
    decimals = dict(con.execute("SELECT code, decimals FROM catalogue").fetchall())
    con.close()
    rows = profile_rows((release / PROFILES_DIR / f"{iso3}.html").read_text(encoding="utf-8"))
    assert set(rows) == set(expected)
    for code, (year, value, region_value, world_value) in expected.items():
        # cells: indicator, unit, year, value, CI, status, region, world, data
        cells = rows[code]
        assert cells[2] == str(year), code
        assert cells[3] == fmt(value, decimals[code]), code
        for shown, hand in ((cells[6], region_value), (cells[7], world_value)):
            assert shown.startswith(fmt(hand, decimals[code]) if hand is not None else "\u2014"), (code, shown)
    if iso3 == "KEN":  # a survey indicator with its interval, and an ICT one
        assert {"PA.3", "BC.1", "IR.12", "PA.3_GPI"} <= set(rows)


def test_a_profile_value_by_hand(full_sample_build):
    """One number read off the page and recomputed with plain SQL: Kenya's latest PA.3 (survey wave 2023)."""
    release, _ = full_sample_build
    con = duckdb.connect()
    year, value, low, high = con.execute(
        f"SELECT TIME_PERIOD, OBS_VALUE, CI_LOWER, CI_UPPER FROM read_parquet('{release / 'observations.parquet'}') "
        "WHERE INDICATOR = 'PA.3' AND REF_AREA = 'KEN' AND SEX = '_T' AND AGE = '_T' AND URBANISATION = '_T' "
        "AND OBS_VALUE IS NOT NULL ORDER BY TIME_PERIOD DESC LIMIT 1").fetchall()[0]
    con.close()
    cells = profile_rows((release / PROFILES_DIR / "KEN.html").read_text(encoding="utf-8"))["PA.3"]
    assert cells[2:5] == [str(year), f"{value:.1f}", f"{low:.1f}\u2013{high:.1f}"]


def key_figure_cells(page: str, code: str) -> list[str]:
    """The cells of the key-figures row of `code`: indicator, unit, year(s), countries, lowest, median, highest,
    world (tags stripped; the country under a lowest or highest value dropped)."""
    row = re.search(rf'<tr><th scope="row"><a href="#ind-{re.escape(code)}">.*?</tr>', page, re.S).group(0)
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    cells = [re.sub(r'<span class="where">.*?</span>', "", c) for c in cells]
    return [re.sub(r"<[^>]+>", "", c).strip() for c in cells]


def hand_key_figures(release: Path, code: str, survey: bool) -> dict:
    """Countries, lowest, median, highest and the world's value of a series, from observations.parquet: each
    country's latest wave (survey), or the values of the latest year in which at least 80 % of the countries that
    ever report the series have one."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{release / 'cop_indicators.duckdb'}' AS pub (READ_ONLY)")
        con.execute(f"""CREATE TEMP TABLE v AS SELECT o.REF_AREA, o.TIME_PERIOD, o.OBS_VALUE
            FROM read_parquet('{release / 'observations.parquet'}') o
            JOIN pub.areas a ON a.ref_area = o.REF_AREA AND a.type = 'country'
            WHERE o.INDICATOR = '{code}' AND o.SEX = '_T' AND o.AGE = '_T' AND o.URBANISATION = '_T'
              AND o.OBS_VALUE IS NOT NULL""")
        if survey:
            values = [r[0] for r in con.execute("SELECT arg_max(OBS_VALUE, TIME_PERIOD) FROM v GROUP BY REF_AREA")
                      .fetchall()]
            world = con.execute(f"""SELECT OBS_VALUE, OBS_STATUS FROM read_parquet('{release / 'observations.parquet'}')
                WHERE INDICATOR = '{code}' AND REF_AREA = 'WLD' AND SEX = '_T' AND AGE = '_T'
                AND URBANISATION = '_T' ORDER BY OBS_VALUE IS NOT NULL DESC, TIME_PERIOD DESC LIMIT 1""").fetchall()
            year = None
        else:
            ever = con.execute("SELECT count(DISTINCT REF_AREA) FROM v").fetchall()[0][0]
            year = con.execute("SELECT max(TIME_PERIOD) FROM (SELECT TIME_PERIOD FROM v GROUP BY TIME_PERIOD "
                               "HAVING count(*) >= 0.8 * ?)", [ever]).fetchall()[0][0]
            values = [r[0] for r in con.execute("SELECT OBS_VALUE FROM v WHERE TIME_PERIOD = ?", [year]).fetchall()]
            world = con.execute(f"""SELECT OBS_VALUE, OBS_STATUS FROM read_parquet('{release / 'observations.parquet'}')
                WHERE INDICATOR = '{code}' AND REF_AREA = 'WLD' AND SEX = '_T' AND AGE = '_T'
                AND URBANISATION = '_T' AND TIME_PERIOD = ?""", [year]).fetchall()
    finally:
        con.close()
    return {"year": year, "values": values, "world": world[0] if world else None}


@pytest.mark.parametrize("code, survey", [("BC.1", False), ("BC.10", False), ("IR.12", False), ("PA.3", True),
                                          ("PA.3_GPI", True), ("PA.3_URG", True)])
def test_key_figures_equal_a_hand_computation(full_sample_build, code, survey):
    release, _ = full_sample_build
    decimals = dict(duckdb.connect(str(release / "cop_indicators.duckdb"), read_only=True).execute(
        "SELECT code, decimals FROM catalogue").fetchall())[code]
    hand = hand_key_figures(release, code, survey)
    values = sorted(Decimal(repr(v)) for v in hand["values"])
    n = len(values)
    middle = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    page = (release / REPORT_FILE).read_text(encoding="utf-8")
    if re.search(r"_(GPI|URG)$", code):  # a gap series: its row in the base indicator's gap table
        row = re.search(rf'<tr id="ind-{re.escape(code)}">.*?</tr>', page, re.S).group(0)
        row = re.sub(r'<span class="where">.*?</span>', "", row)
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        countries, lowest, median_text, highest = cells[1:5]
    else:
        cells = key_figure_cells(page, code)
        countries, lowest, median_text, highest = cells[3:7]
        if hand["year"] is not None:
            assert cells[2] == str(hand["year"])
        world_value, world_status = hand["world"]
        expected = (fmt(world_value, decimals) if world_value is not None else "\u2014")
        assert cells[7].startswith(expected), (cells[7], hand["world"])
        if world_value is None:
            assert cells[7].endswith(world_status)
    assert countries == str(n)
    assert lowest == fmt(values[0], decimals) and highest == fmt(values[-1], decimals)
    assert median_text == f"{middle.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP):,}".replace(
        "-", "\u2212")


def test_synthetic_series_are_labelled_and_real_ones_are_not(release_copy):
    """The sample is synthetic throughout; in a copy whose BC.* series are marked real (catalogue data_origin and
    the observations' SYNTHETIC column), BC.* lose their labels and the survey series keep them."""
    con = duckdb.connect(str(release_copy / "cop_indicators.duckdb"))
    con.execute("UPDATE catalogue SET data_origin = 'real' WHERE code LIKE 'BC.%' AND data_origin <> 'no data'")
    con.execute("UPDATE observations SET SYNTHETIC = false WHERE INDICATOR LIKE 'BC.%'")
    con.execute("UPDATE sources SET synthetic = false WHERE kind = 'ict'")
    con.close()
    write_report(release_copy, "copy", chart_files(release_copy))
    page = (release_copy / REPORT_FILE).read_text(encoding="utf-8")
    bc1, pa3 = section(page, "ind-BC.1"), section(page, "ind-PA.3")
    assert 'data-origin="real"' in bc1 and BADGE not in bc1
    assert 'data-origin="synthetic"' in pa3 and BADGE in pa3.split("</h3>")[0]
    key_rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr><th scope="row"><a href="#ind-([^"]+)".*?</tr>',
                                                            page, re.S)}
    assert BADGE not in key_rows["BC.1"] and BADGE in key_rows["PA.3"]
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr class="[a-z]+" data-indicator="([^"]+)".*?</tr>',
                                                        (release_copy / PROFILES_DIR / "KEN.html").read_text(),
                                                        re.S)}
    assert BADGE not in rows["BC.1"] and 'data-synthetic="false"' in rows["BC.1"]
    assert BADGE in rows["PA.3"] and 'data-synthetic="true"' in rows["PA.3"]
    # no single banner: every label belongs to a series (a key-figures row, a section title, a gap row, a
    # profile row) or a source, and the count of labelled series in the heading matches the catalogue
    assert "of them rest wholly or partly on synthetic" in page


def test_texts_are_escaped(release_copy):
    con = duckdb.connect(str(release_copy / "cop_indicators.duckdb"))
    con.execute("UPDATE areas SET name = 'Kenya <script>alert(1)</script> & co' WHERE ref_area = 'KEN'")
    con.execute("UPDATE catalogue SET definition = definition || ' <b>bold</b>' WHERE code = 'PA.3'")
    con.close()
    write_report(release_copy, "copy", chart_files(release_copy))
    profile = (release_copy / PROFILES_DIR / "KEN.html").read_text(encoding="utf-8")
    assert "<script>" not in profile and "Kenya &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in profile
    page = (release_copy / REPORT_FILE).read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_output_is_deterministic(full_sample_build, release_copy):
    release, _ = full_sample_build
    write_report(release_copy, "sample-full", chart_files(release_copy))
    first = {p.relative_to(release_copy): p.read_bytes() for p in [release_copy / REPORT_FILE,
                                                                  *(release_copy / PROFILES_DIR).glob("*.html")]}
    write_report(release_copy, "sample-full", chart_files(release_copy))
    again = {p.relative_to(release_copy): p.read_bytes() for p in [release_copy / REPORT_FILE,
                                                                  *(release_copy / PROFILES_DIR).glob("*.html")]}
    assert first == again
    # the same profiles as the build's own (the build's ChartFiles carry other titles, so only profiles compare)
    for name, content in first.items():
        if name.parts[0] == PROFILES_DIR:
            assert (release / name).read_bytes() == content, name


def test_a_missing_chart_file_is_an_error_naming_it(release_copy):
    charts = [ChartFile("charts/XX.1_ranked.png", "BC.1", "background_context", "ranked", "t", "d")]
    with pytest.raises(CopError, match=r"charts/XX\.1_ranked\.png"):
        write_report(release_copy, "copy", charts)


def test_a_public_database_without_the_views_is_an_error_naming_it(release_copy):
    con = duckdb.connect(str(release_copy / "cop_indicators.duckdb"))
    con.execute("DROP VIEW country_profile")
    con.close()
    with pytest.raises(CopError, match=r"cop_indicators\.duckdb: no table or view country_profile"):
        write_report(release_copy, "copy", [])
