"""indicators.charts on a whole sample release: what each chart draws is checked against an independent computation
on observations.parquet and the areas table (countries only, count, median, ranking year, latest waves), every
indicator with data gets its charts, the SYNTHETIC DATA label follows the rows drawn, blank cells stay as labelled
rows, no two texts of a chart overlap (long names, many bars), and two renderings give identical PNG bytes."""

from __future__ import annotations

import itertools
import re
import shutil

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from indicators import charts

PERCENT_LIMITS = (0.0, 100.0)


@pytest.fixture(scope="module")
def observations(release_folder) -> pd.DataFrame:
    return pd.read_parquet(release_folder / "observations.parquet")


@pytest.fixture(scope="module")
def areas(release_db) -> pd.DataFrame:
    return release_db.execute("SELECT ref_area, name, type FROM areas").df()


@pytest.fixture(scope="module")
def catalogue(release_db) -> pd.DataFrame:
    return release_db.execute("SELECT code, name, group_name, method, unit, source, derived_from FROM catalogue").df()


@pytest.fixture(scope="module")
def jobs(release_db) -> dict[str, charts.ChartJob]:
    return {job.path: job for job in charts.plan_charts(release_db)}


def draw(job: charts.ChartJob, **changes):
    return charts.CHART_FUNCTIONS[job.function](**{**job.kwargs, **changes}, release_id="test-release")


def texts_of(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def totals(frame: pd.DataFrame) -> pd.Series:
    return (frame["SEX"] == "_T") & (frame["AGE"] == "_T") & (frame["URBANISATION"] == "_T")


# ------------------------------------------------------------------------------------ ranked country series
@pytest.mark.parametrize("code", ["BC.1", "BC.8", "IR.15"])
def test_ranked_country_series_draws_countries_only_with_their_count_and_median(code, jobs, observations, areas):
    countries = set(areas.loc[areas["type"] == "country", "ref_area"])
    groups = set(areas.loc[areas["type"] == "group", "ref_area"])
    mine = observations[(observations["INDICATOR"] == code) & totals(observations)
                        & observations["REF_AREA"].isin(countries) & observations["OBS_VALUE"].notna()]
    # the ranking year, independently: the latest year where >= 80 % of the countries ever reporting have a value
    per_year = mine.groupby("TIME_PERIOD")["REF_AREA"].nunique()
    year = max(y for y, n in per_year.items() if n >= 0.8 * mine["REF_AREA"].nunique())
    in_year = mine[mine["TIME_PERIOD"] == year].sort_values(["OBS_VALUE"], ascending=False)

    fig = draw(jobs[f"charts/{code}_ranked.png"])
    try:
        data = fig.chart_data
        assert data.summary["year"] == year
        assert data.summary["count"] == len(in_year) > 2 * charts.TOP_BOTTOM
        assert data.summary["median"] == pytest.approx(float(np.median(in_year["OBS_VALUE"])), abs=1e-12)
        drawn = data.rows
        assert not set(drawn["REF_AREA"]) & groups and set(drawn["REF_AREA"]) <= countries
        assert list(drawn["OBS_VALUE"]) == (list(in_year["OBS_VALUE"].head(15)) + list(in_year["OBS_VALUE"].tail(15)))
        assert set(drawn["TIME_PERIOD"]) == {year}
        # what the reader sees: the country names (not codes) of the rows drawn, the count and median stated
        shown = texts_of(fig)
        names = dict(zip(areas["ref_area"], areas["name"]))
        assert all(names[c] in shown for c in drawn["REF_AREA"])
        assert not set(shown) & (groups | countries)
        assert f"{len(in_year)} countries with a value" in data.subtitle
        decimals = charts.published_decimals(in_year["OBS_VALUE"])
        assert f"median {charts.format_value(data.summary['median'], decimals)}" in data.subtitle
        # the world and ITU regions of that year are the reference lines
        assert set(data.references["REF_AREA"]) == {"WLD", "ITU_AFR", "ITU_AMS", "ITU_ARB", "ITU_ASP", "ITU_CIS",
                                                    "ITU_EUR"}
        assert set(data.references["TIME_PERIOD"]) == {year}
        world = observations[(observations["INDICATOR"] == code) & (observations["REF_AREA"] == "WLD")
                             & (observations["TIME_PERIOD"] == year) & totals(observations)]
        assert data.references.set_index("REF_AREA").loc["WLD", "OBS_VALUE"] == world["OBS_VALUE"].item()
    finally:
        plt.close(fig)


def test_incident_charts_state_that_reports_are_not_prevalence(jobs, observations):
    for code in ("IR.12", "IR.15", "IR.16"):
        fig = draw(jobs[f"charts/{code}_ranked.png"])
        try:
            assert charts.INCIDENTS_CAVEAT in fig.chart_data.notes
            assert " ".join(texts_of(fig)).count("Reports are not prevalence") == 1
            if code == "IR.12":   # a count: no group total as a reference line, the world total stated instead
                assert fig.chart_data.references.empty
                assert any(n.startswith(f"World total {fig.chart_data.summary['year']}: ")
                           for n in fig.chart_data.notes)
                ax = fig.axes[0]
                assert ax.get_xlim()[1] > 100 and ax.get_xlim()[0] == 0   # counts are not clipped to 0-100
        finally:
            plt.close(fig)


def test_growth_rates_are_not_drawn_on_a_percent_axis(jobs):
    fig = draw(jobs["charts/BC.11_ranked.png"])
    try:
        assert fig.axes[0].get_xlim() != PERCENT_LIMITS
        values = fig.chart_data.rows["OBS_VALUE"]
        assert fig.axes[0].get_xlim()[0] <= min(0, values.min()) and fig.axes[0].get_xlim()[1] >= values.max()
    finally:
        plt.close(fig)


def test_trend_draws_every_published_value_of_the_world_and_itu_regions(jobs, observations):
    fig = draw(jobs["charts/BC.1_trend.png"])
    try:
        data = fig.chart_data
        expected = observations[(observations["INDICATOR"] == "BC.1") & totals(observations)
                                & observations["REF_AREA"].str.match(r"^(WLD|ITU_)") & observations["OBS_VALUE"].notna()]
        assert len(data.rows) == len(expected)
        merged = data.rows.merge(expected, on=["REF_AREA", "TIME_PERIOD"], suffixes=("", "_x"))
        assert len(merged) == len(expected) and (merged["OBS_VALUE"] == merged["OBS_VALUE_x"]).all()
        assert data.summary["areas"][0] == "WLD"
        lines = [line for line in fig.axes[0].get_lines() if len(line.get_xdata()) > 1]
        assert len(lines) == 7
        assert fig.axes[0].get_ylim() == PERCENT_LIMITS
    finally:
        plt.close(fig)


def _colour(artist) -> str:
    colours = artist.get_colors() if hasattr(artist, "get_colors") else [artist.get_color()]
    assert len({to_hex(c) for c in colours}) == 1
    return to_hex(colours[0])


def _survey_trend_rows(release_db, code: str) -> pd.DataFrame:
    return release_db.execute("SELECT * FROM observations_labelled WHERE INDICATOR = ? AND SEX = '_T' AND AGE = '_T' "
                      "AND URBANISATION = '_T' AND area_type = 'country' ORDER BY REF_AREA, TIME_PERIOD", [code]).df()


@pytest.mark.parametrize("code", ["PA.3", "IR.25"])
def test_survey_trend_links_each_country_waves_with_their_published_intervals(code, release_db, observations, areas):
    fig = charts.trend_chart(_survey_trend_rows(release_db, code), title=code, unit="percent", source="Source: test.",
                             release_id="test-release")
    try:
        ax = fig.axes[0]
        # independently, from observations.parquet: each country's published waves of the totals
        countries = set(areas.loc[areas["type"] == "country", "ref_area"])
        published = observations[(observations["INDICATOR"] == code) & totals(observations)
                                 & observations["REF_AREA"].isin(countries) & observations["OBS_VALUE"].notna()]
        assert fig.chart_data.summary["survey"] and published["CI_LOWER"].notna().all()
        # each country's waves are linked by one thin dashed line of its own colour (no two countries share one)
        links = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert len(links) == len({_colour(line) for line in links}) == published["REF_AREA"].nunique() == 12
        collections = [c for c in ax.collections if len(c.get_segments())]
        for area, waves in published.sort_values("TIME_PERIOD").groupby("REF_AREA"):
            link = [line for line in links if np.allclose(line.get_ydata(), waves["OBS_VALUE"])]
            assert len(link) == 1, area
            colour, x = _colour(link[0]), np.asarray(link[0].get_xdata(), dtype=float)
            assert (np.abs(x - waves["TIME_PERIOD"].to_numpy()) <= 0.3).all()   # each wave at its year
            # the bars of that colour are the published 95 % intervals of each wave, at the wave's marker
            bars = sorted((round(s[0, 0], 9), round(min(s[:, 1]), 9), round(max(s[:, 1]), 9))
                          for c in collections if _colour(c) == colour for s in c.get_segments())
            published_ci = zip(np.round(x, 9), np.round(waves["CI_LOWER"], 9), np.round(waves["CI_UPPER"], 9))
            assert bars == sorted(published_ci), area
            # a low-reliability wave is a hollow marker, the others filled
            markers = [line for line in ax.get_lines() if line.get_marker() == "o" and _colour(line) == colour]
            hollow = sorted(float(v) for line in markers if line.get_markerfacecolor() == "white"
                            for v in line.get_ydata())
            assert hollow == sorted(waves.loc[waves["OBS_STATUS"] == "U", "OBS_VALUE"])
        # black is the World's: no country is drawn or listed in it
        assert "#000000" not in {_colour(a) for a in [*ax.get_lines(), *collections]}
        assert "95 % confidence interval" in fig.chart_data.legend
        assert _overlaps(fig) == []
    finally:
        plt.close(fig)


def test_a_blank_survey_wave_breaks_the_link_and_is_named(release_db):
    rows = _survey_trend_rows(release_db, "PA.3")
    i = rows[rows["REF_AREA"] == "KEN"]["TIME_PERIOD"].idxmax()   # Kenya's latest wave
    rows.loc[i, ["OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV"]] = np.nan
    rows.loc[i, ["OBS_STATUS", "CONF_STATUS", "COMMENT_OBS"]] = ["Q", "N", "n<25"]
    fig = charts.trend_chart(rows, title="PA.3", unit="%", source="Source: test.", release_id="test-release")
    try:
        kept = rows[(rows["REF_AREA"] == "KEN") & rows["OBS_VALUE"].notna()]
        link = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "--"
                and np.isnan(np.asarray(line.get_ydata(), dtype=float)).any()]
        assert len(link) == 1 and list(np.asarray(link[0].get_ydata(), dtype=float)[:len(kept)]) == \
            list(kept["OBS_VALUE"])
        year = int(rows.loc[i, "TIME_PERIOD"])
        assert any(n.startswith("A line breaks where a wave has no published value: Kenya " + str(year))
                   for n in fig.chart_data.notes)
    finally:
        plt.close(fig)


def test_black_is_the_world_line_alone(release_db):
    # the world and 13 countries: more areas than colours, so the palette wraps; it never wraps onto black
    rows = release_db.execute("""
        SELECT * FROM observations_labelled WHERE INDICATOR = 'BC.1' AND SEX = '_T' AND AGE = '_T'
        AND URBANISATION = '_T' AND (REF_AREA = 'WLD' OR REF_AREA IN (
            SELECT DISTINCT REF_AREA FROM observations_labelled WHERE INDICATOR = 'BC.1' AND area_type = 'country'
            AND OBS_VALUE IS NOT NULL ORDER BY REF_AREA LIMIT 13))
        ORDER BY REF_AREA, TIME_PERIOD""").df()
    fig = charts.trend_chart(rows, title="BC.1", unit="%", source="Source: test.", release_id="test-release")
    try:
        assert not fig.chart_data.summary["survey"] and rows["REF_AREA"].nunique() == 14
        world = rows.loc[(rows["REF_AREA"] == "WLD") & rows["OBS_VALUE"].notna(), "OBS_VALUE"].to_numpy()
        for line in fig.axes[0].get_lines():
            y = np.asarray(line.get_ydata(), dtype=float)
            if len(y[~np.isnan(y)]):
                is_world = len(y[~np.isnan(y)]) == len(world) and np.allclose(y[~np.isnan(y)], world)
                assert (_colour(line) == "#000000") == is_world
        # and in the legend right of the plot: one black handle, the World's
        handles = [a for a in fig.artists if isinstance(a, Line2D)]
        assert [_colour(h) for h in handles].count("#000000") == 1
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------------ survey charts
def test_survey_ranked_chart_draws_each_country_latest_wave_with_its_interval(jobs, observations, areas):
    code = "PA.3"
    countries = set(areas.loc[areas["type"] == "country", "ref_area"])
    mine = observations[(observations["INDICATOR"] == code) & totals(observations)
                        & observations["REF_AREA"].isin(countries)]
    latest = mine[mine["TIME_PERIOD"] == mine.groupby("REF_AREA")["TIME_PERIOD"].transform("max")]
    fig = draw(jobs[f"charts/{code}_ranked.png"])
    try:
        drawn = fig.chart_data.rows.set_index("REF_AREA").sort_index()
        latest = latest.set_index("REF_AREA").sort_index()
        assert list(drawn.index) == list(latest.index) and len(drawn) == 12
        for column in ("TIME_PERIOD", "OBS_VALUE", "CI_LOWER", "CI_UPPER", "OBS_STATUS"):
            assert (drawn[column] == latest[column]).all(), column
        # the whiskers are the published intervals
        whiskers = [c for c in fig.axes[0].collections if c.get_segments()]
        spans = sorted((round(s[:, 0].min(), 6), round(s[:, 0].max(), 6)) for c in whiskers for s in c.get_segments()
                       if abs(s[0, 1] - s[1, 1]) < 1e-9 and s[0, 0] != s[1, 0])
        assert spans == sorted((round(lo, 6), round(hi, 6)) for lo, hi in zip(latest["CI_LOWER"], latest["CI_UPPER"]))
        # the year beside each name, and only this wave's deliveries in the source line
        shown = texts_of(fig)
        assert all(str(y) in shown for y in latest["TIME_PERIOD"])
        delivered = {s for ids in latest["SOURCE_ID"] for s in ids.split("+")}
        older = {s for ids in mine["SOURCE_ID"] for s in ids.split("+")} - delivered
        assert all(s in fig.chart_data.source for s in delivered) and not any(s in fig.chart_data.source
                                                                              for s in older)
        assert fig.axes[0].get_xlim() == PERCENT_LIMITS
    finally:
        plt.close(fig)


def test_low_reliability_values_are_hatched_and_in_the_legend(jobs, observations):
    code = "IR.25"
    fig = draw(jobs[f"charts/{code}_ranked.png"])
    try:
        drawn = fig.chart_data.rows
        flagged = drawn[drawn["OBS_STATUS"] == "U"]
        assert len(flagged) > 0
        hatched = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_hatch()]
        assert sorted(round(p.get_width(), 6) for p in hatched) == sorted(round(v, 6) for v in flagged["OBS_VALUE"])
        assert "low reliability (U): use with caution" in fig.chart_data.legend
    finally:
        plt.close(fig)


def test_sex_gap_chart_draws_girls_and_boys_of_each_country(jobs, observations, areas):
    code = "RB.1"
    countries = set(areas.loc[areas["type"] == "country", "ref_area"])
    mine = observations[(observations["INDICATOR"] == code) & observations["SEX"].isin(["F", "M"])
                        & (observations["AGE"] == "_T") & (observations["URBANISATION"] == "_T")
                        & observations["REF_AREA"].isin(countries)]
    latest = mine[mine["TIME_PERIOD"] == mine.groupby("REF_AREA")["TIME_PERIOD"].transform("max")]
    fig = draw(jobs[f"charts/{code}_sex_gap.png"])
    try:
        drawn = fig.chart_data.rows.merge(latest, on=["REF_AREA", "SEX"], suffixes=("", "_x"))
        assert len(drawn) == len(latest) == 24
        assert (drawn["OBS_VALUE"] == drawn["OBS_VALUE_x"]).all() and (drawn["CI_LOWER"] == drawn["CI_LOWER_x"]).all()
        girls = fig.chart_data.rows[fig.chart_data.rows["SEX"] == "F"].sort_values("y")
        assert list(girls["OBS_VALUE"]) == sorted(girls["OBS_VALUE"], reverse=True)   # ordered by the girls' value
        assert {"girls", "boys", "95 % confidence interval"} <= set(fig.chart_data.legend)
    finally:
        plt.close(fig)


def test_suppressed_cells_appear_as_labelled_gaps(release_db):
    # a real disaggregated cell with suppressed countries: the rural cell of the indicator with most of them
    cell = release_db.execute("""
        SELECT INDICATOR, URBANISATION, count(*) FILTER (WHERE OBS_STATUS = 'Q') AS q FROM compare
        WHERE SEX = '_T' AND AGE = '_T' AND URBANISATION = 'R' GROUP BY ALL ORDER BY q DESC, INDICATOR LIMIT 1
        """).fetchall()[0]
    rows = release_db.execute("SELECT * FROM compare WHERE INDICATOR = ? AND SEX = '_T' AND AGE = '_T' "
                      "AND URBANISATION = 'R'", [cell[0]]).df()
    latest = rows[rows["TIME_PERIOD"] == rows.groupby("REF_AREA")["TIME_PERIOD"].transform("max")]
    blank = latest[latest["OBS_VALUE"].isna()]
    if blank.empty:   # no rural cell of a latest wave is suppressed in this sample: suppress one as a release would
        latest = latest.copy()
        i = latest.index[0]
        latest.loc[i, ["OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV"]] = np.nan
        latest.loc[i, ["OBS_STATUS", "CONF_STATUS", "COMMENT_OBS"]] = ["Q", "N", "n<25"]
        blank = latest.loc[[i]]
    fig = charts.ranked_chart(latest, title=f"{cell[0]} rural", unit="percent", source="Source: test.",
                              release_id="test-release")
    try:
        drawn = fig.chart_data.rows
        assert set(blank["REF_AREA"]) <= set(drawn["REF_AREA"])   # the row is kept
        ax = fig.axes[0]
        bar_rows = {round(p.get_y() + p.get_height() / 2, 6) for p in ax.patches if isinstance(p, Rectangle)}
        written = {round(t.get_position()[1], 6): t.get_text() for t in ax.texts}
        for r in drawn[drawn["OBS_VALUE"].isna()].itertuples():
            assert round(r.y, 6) not in bar_rows                   # no bar ...
            reason = charts.blank_reason(r.OBS_STATUS, r.CONF_STATUS, r.COMMENT_OBS)
            assert written[round(r.y, 6)] == reason                # ... and the reason in the row
            assert reason.startswith("suppressed: ")
        assert any("reason is written in the row" in n for n in fig.chart_data.notes)
    finally:
        plt.close(fig)


def test_blank_cells_of_a_sex_gap_chart_are_labelled(jobs):
    job = jobs["charts/PA.1_sex_gap.png"]
    rows = job.kwargs["rows"].copy()
    i = rows.index[(rows["SEX"] == "M")][0]
    rows.loc[i, ["OBS_VALUE", "STD_ERR", "CI_LOWER", "CI_UPPER", "CV"]] = np.nan
    rows.loc[i, ["OBS_STATUS", "CONF_STATUS", "COMMENT_OBS"]] = ["Q", "D", "complementary suppression"]
    fig = draw(job, rows=rows)
    try:
        assert any(t.startswith("boys: suppressed: protects another suppressed cell")
                   for t in texts_of(fig))
    finally:
        plt.close(fig)


def test_blank_reason_words():
    assert charts.blank_reason("Q", "N", "n<25") == "suppressed: fewer than 25 cases"
    assert charts.blank_reason("Q", "N", "cv>33.3%") == "suppressed: CV above 33.3 %"
    assert charts.blank_reason("L", "F", "coverage 12%<50%; countries<3 (2 reporting)") == \
        "withheld: countries with data cover 12 % of the population (minimum 50 %); 2 reporting countries (minimum 3)"
    assert charts.blank_reason("Q", "A", None) == "suppressed: too few reporting countries"
    assert charts.blank_reason("O", "F", "a cell is below the minimum coverage (L)") == \
        "not computed: a cell is withheld for coverage"


# ------------------------------------------------------------------------------------- labels and layout
def test_synthetic_label_only_on_charts_of_synthetic_rows(jobs):
    job = jobs["charts/BC.1_ranked.png"]
    assert job.kwargs["rows"]["SYNTHETIC"].all()
    fig = draw(job)
    try:
        assert charts.SYNTHETIC_LABEL in texts_of(fig) and fig.chart_data.synthetic
    finally:
        plt.close(fig)
    real = {key: frame.assign(SYNTHETIC=False) if isinstance(frame, pd.DataFrame) else frame
            for key, frame in job.kwargs.items()}
    real["source"] = "Source: ITU World Telecommunication/ICT Indicators database."
    fig = charts.ranked_chart(**real, release_id="test-release")
    try:
        assert not fig.chart_data.synthetic
        assert not any("SYNTHETIC" in t.upper() for t in texts_of(fig))
    finally:
        plt.close(fig)
    # one synthetic reference line is enough to label the chart
    mixed = dict(real)
    mixed["references"] = real["references"].assign(SYNTHETIC=real["references"]["REF_AREA"] == "WLD")
    fig = charts.ranked_chart(**mixed, release_id="test-release")
    try:
        assert charts.SYNTHETIC_LABEL in texts_of(fig)
    finally:
        plt.close(fig)


def _overlaps(fig) -> list[tuple[str, str]]:
    """Pairs of texts whose drawn boxes overlap, and texts reaching outside the page."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    not_drawn = set()   # tick labels outside the axis' view: matplotlib keeps them but does not draw them
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            not_drawn |= {id(label) for tick in axis.get_major_ticks() if not low - 1e-9 <= tick.get_loc() <= high + 1e-9
                          for label in (tick.label1, tick.label2)}
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and id(t) not in not_drawn]
    width, height = fig.canvas.get_width_height()
    outside = [(text, "page") for text, box in boxes
               if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5]
    return outside + [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
                      if box_a.overlaps(box_b) and min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0) > 0.5
                      and min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0) > 0.5]


@pytest.mark.parametrize("path", ["charts/BC.1_ranked.png", "charts/BC.12_ranked.png", "charts/IR.12_ranked.png",
                                  "charts/IR.16_ranked.png", "charts/IR.25_ranked.png", "charts/IR.25_sex_gap.png",
                                  "charts/IR.20_sex_gap.png", "charts/BC.1_trend.png", "charts/BC.10_trend.png"])
def test_no_text_of_a_release_chart_overlaps_another(path, jobs):
    fig = draw(jobs[path])
    try:
        assert _overlaps(fig) == []
    finally:
        plt.close(fig)


def test_long_names_and_many_bars_do_not_overlap(jobs):
    job = jobs["charts/PA.3_ranked.png"]
    rows = job.kwargs["rows"]
    long_names = ["Iran (Islamic Republic of)", "Saint Helena, Ascension and Tristan da Cunha",
                  "United Kingdom of Great Britain and Northern Ireland", "Venezuela (Bolivarian Republic of)",
                  "Congo, The Democratic Republic of the", "Lao People's Democratic Republic"]
    many = pd.concat([rows.assign(REF_AREA=rows["REF_AREA"] + str(k),
                                  area_name=[long_names[(i + k) % len(long_names)] + f" {k}"
                                             for i in range(len(rows))],
                                  OBS_VALUE=rows["OBS_VALUE"] + k, CI_LOWER=rows["CI_LOWER"] + k,
                                  CI_UPPER=rows["CI_UPPER"] + k) for k in range(4)], ignore_index=True)
    refs = job.kwargs["references"].assign(OBS_VALUE=[20.0 + i for i in range(len(job.kwargs["references"]))],
                                           OBS_STATUS="A")
    fig = charts.ranked_chart(many, title="PA.3 " + "a very long indicator name " * 5, unit="%",
                              source="Source: " + "a long citation; " * 20, release_id="test-release",
                              references=refs, median=True)
    try:
        assert fig.chart_data.summary["cut"] and len(fig.chart_data.references) == len(refs)
        assert _overlaps(fig) == []
    finally:
        plt.close(fig)


def test_source_line_merges_deliveries_and_cites_every_input():
    sources = pd.DataFrame({"source_id": ["ken_2019", "gha_2022", "ict"],
                            "citation": ["Survey sample ken_2019 (synthetic)", "Survey sample gha_2022 (synthetic)",
                                         "ITU ICT database"]})
    rows = pd.DataFrame({"SOURCE_ID": ["ken_2019", "gha_2022+ict", None]})
    assert charts.source_line(rows, sources) == \
        "Source: Survey sample gha_2022, ken_2019 (synthetic); ITU ICT database."
    with pytest.raises(ValueError, match="no row for SOURCE_ID xyz"):
        charts.source_line(pd.DataFrame({"SOURCE_ID": ["xyz"]}), sources)


def test_unit_labels_say_per_what():
    assert charts.unit_label("per_100k", "NCMEC CyberTipline reports per 100,000 Internet users") == \
        "per 100,000 Internet users"
    assert charts.unit_label("per_100", "Mobile-cellular subscriptions per 100 inhabitants") == "per 100 inhabitants"
    assert charts.unit_label("percent") == "%"
    assert charts.unit_label("percent", "Growth of Internet users, compound annual rate", "growth") == "% per year"


# --------------------------------------------------------------------------------------- the release's files
def test_every_indicator_with_data_gets_its_charts(release_folder, observations, catalogue):
    import json

    manifest = json.loads((release_folder / "manifest.json").read_text())
    listed = set(manifest["charts"])
    on_disk = {p.relative_to(release_folder).as_posix() for p in (release_folder / "charts").glob("*.png")}
    assert listed == on_disk
    with_values = set(observations.loc[observations["OBS_VALUE"].notna(), "INDICATOR"])
    expected = set()
    for entry in catalogue.itertuples():
        if entry.code not in with_values or isinstance(entry.derived_from, str):
            continue
        if entry.method != "share_of_countries":   # a 100/0 answer per country is not ranked
            expected.add(f"charts/{entry.code}_ranked.png")
        if entry.method in charts.SURVEY_METHODS:
            by_sex = observations[(observations["INDICATOR"] == entry.code) & observations["SEX"].isin(["F", "M"])]
            if by_sex["OBS_VALUE"].notna().any():
                expected.add(f"charts/{entry.code}_sex_gap.png")
        elif entry.source != "incidents":
            expected.add(f"charts/{entry.code}_trend.png")
    # the national questionnaire's three charts per round (the sample has rounds 2009 and 2024)
    expected |= {f"charts/{name}_{round_}.png" for name in ("NC.11_heatmap", "NC.11_rank_interval", "NC.10_stages")
                 for round_ in (2009, 2024)}
    assert on_disk == expected
    groups = set(catalogue.loc[catalogue["code"].isin(with_values), "group_name"])
    assert groups == {"background_context", "subjective_aspects", "risk_behaviour", "incidents_responses",
                      "preventative_actions", "national_capacity"}


def test_render_release_charts_lists_its_files_and_repeats_byte_for_byte(release_folder, tmp_path):
    """One rendering here, in one process, against the build's own rendering of the same database, in two
    processes (conftest's full_sample_build pins COP_CHART_WORKERS=2): the same files, bytes and list."""
    import json

    from indicators.report import REPORT_FILE, read_release_tables, render_report

    shutil.copy(release_folder / "cop_indicators.duckdb", tmp_path / "cop_indicators.duckdb")
    release_id = release_folder.name  # the chart text names the release: the same id as the build's
    listed = charts.render_release_charts(tmp_path, release_id, workers=1)
    on_disk = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "charts").iterdir())
    assert [c.path for c in listed] == on_disk
    assert all(c.description and c.title and re.fullmatch(
        r"ranked|sex_gap|trend|(heatmap|rank_interval|stages)_\d{4}", c.kind) for c in listed)
    assert all(c.path == f"charts/{c.indicator}_{c.kind}.png" for c in listed)
    # the build drew the same charts from the same database: identical bytes (no timestamp, no version) and
    # the same files, in one process as in two
    built = sorted(p.relative_to(release_folder).as_posix() for p in (release_folder / "charts").iterdir())
    assert built == on_disk
    assert json.loads((release_folder / "manifest.json").read_text())["charts"] == on_disk
    for path in on_disk:
        assert (tmp_path / path).read_bytes() == (release_folder / path).read_bytes(), path
    # and the same list: the build wrote its report from its own list (titles, descriptions, indicators, groups)
    tables = read_release_tables(tmp_path / "cop_indicators.duckdb")
    assert render_report(tables, release_id, listed, tmp_path) == \
        (release_folder / REPORT_FILE).read_text(encoding="utf-8")


def _note_where(log, parent: int, die_in_worker: bool) -> None:
    """`beside` work of the test below: one line per run saying where it ran; optionally kills its worker."""
    import os

    if die_in_worker and os.getpid() != parent:
        os._exit(1)   # a worker killed mid-work (out of memory, a signal)
    with open(log, "a") as out:
        out.write("main\n" if os.getpid() == parent else "worker\n")


@pytest.mark.parametrize("die_in_worker", [False, True], ids=["workers", "a worker dies"])
def test_the_work_around_the_charts_runs_once_each_and_a_dead_worker_is_replaced_here(
        release_folder, tmp_path, monkeypatch, die_in_worker):
    """render_release_charts with two workers: `beside` runs once in a worker, `meanwhile` once here, `then` once
    here with the finished list; the charts are those one process draws. A worker that dies: `beside` and every
    chart are done here instead, each still once, and the files are the same bytes."""
    import functools
    import os

    import indicators.charts.release as chart_release

    shutil.copy(release_folder / "cop_indicators.duckdb", tmp_path / "cop_indicators.duckdb")
    planned = chart_release.plan_charts
    monkeypatch.setattr(chart_release, "plan_charts", lambda con: planned(con)[:9])   # 8 or more: workers draw
    log, calls = tmp_path / "beside.log", []
    drawn = charts.render_release_charts(
        tmp_path, "r1", workers=2,
        beside=functools.partial(_note_where, log, os.getpid(), die_in_worker),
        meanwhile=lambda: calls.append("meanwhile"), then=lambda listed: calls.append(list(listed)))
    assert log.read_text() == ("main\n" if die_in_worker else "worker\n")
    assert calls == ["meanwhile", drawn] and len(drawn) == 9

    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(release_folder / "cop_indicators.duckdb", alone / "cop_indicators.duckdb")
    assert charts.render_release_charts(alone, "r1", workers=1) == drawn
    for chart in drawn:
        assert (tmp_path / chart.path).read_bytes() == (alone / chart.path).read_bytes(), chart.path


def test_a_count_of_zero_everywhere_gets_an_axis_with_width(jobs):
    """A small delivery can give a total of 0 in every cell: the chart is drawn on 0-1, not a zero-width axis."""
    job = jobs["charts/IR.20_ranked.png"]
    rows = job.kwargs["rows"].head(1).assign(OBS_VALUE=0.0, CI_LOWER=0.0, CI_UPPER=0.0, STD_ERR=0.0)
    fig = charts.ranked_chart(rows, title="IR.20 a count", unit="children", source="Source: test",
                              release_id="test-release", share=False)
    try:
        assert fig.axes[0].get_xlim() == (0.0, 1.0)
    finally:
        plt.close(fig)
