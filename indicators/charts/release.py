"""The charts of a release: which charts each indicator gets, drawn from the release's public database into
`charts/<INDICATOR>_<kind>.png`, each listed with its alt text for the report.

`plan_charts` decides from the catalogue and the views compare, regional and observations_labelled: survey
estimates ranked + sex gap; country series ranked in their ranking year + a trend of the world and ITU regions;
incident reports ranked with the caveat that reports are not prevalence. `render_release_charts` draws the plan
in a few forked worker processes (a release has about 90 charts) and lists one `ChartFile` per PNG.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import duckdb
import pandas as pd

from indicators.charts.capacity import pillar_heatmap, rank_interval_chart, stages_by_region_chart
from indicators.charts.chart_data import ChartData, latest_per_area
from indicators.charts.png import save_chart
from indicators.charts.style import chart_style
from indicators.charts.ranked import TOP_BOTTOM, ranked_chart
from indicators.charts.sex_gap import sex_gap_chart
from indicators.charts.trend import trend_chart
from indicators.charts.words import blank_reason, format_value, published_decimals, source_line, unit_label

INCIDENTS_CAVEAT = ("Reports are not prevalence: they reflect how platforms detect and report material and where "
                    "uploads are geolocated, not how many children are harmed.")
SURVEY_METHODS = {"proportion", "mean", "total", "ratio"}   # estimated from microdata: with SE and CI
COVERED_SHARE = 0.8            # the ranking year: the latest in which 80 % of the reporting countries have a value


@dataclass(frozen=True)
class ChartFile:
    """One chart of a release: its file (relative to the release folder) and what it shows (for the report)."""

    path: str          # e.g. "charts/BC.1_ranked.png"
    indicator: str     # INDICATOR code
    group: str         # catalogue group_name (background_context, ...)
    kind: str          # ranked, sex_gap, trend; heatmap_<round>, rank_interval_<round>, stages_<round>
    title: str
    description: str   # alt text: what the chart shows, in one sentence


@dataclass
class ChartJob:
    """One chart to draw: which function, with which rows; picklable so that a worker process can draw it."""

    indicator: str
    group: str
    kind: str
    title: str
    function: str                 # a name of CHART_FUNCTIONS
    kwargs: dict

    @property
    def path(self) -> str:
        return f"charts/{self.indicator}_{self.kind}.png"


def ranking_year(rows: pd.DataFrame) -> int:
    """The year a country ranking shows: the latest in which at least 80 % of the countries that ever report the
    indicator have a value (the newest year usually holds only early reporters, and ranking them alone would
    mislead); the best-covered year when no year reaches 80 %. rows: country rows of one indicator."""
    valued = rows[rows["OBS_VALUE"].notna()]
    if valued.empty:
        raise ValueError("ranking_year: no country row with a value")
    per_year = valued.groupby("TIME_PERIOD")["REF_AREA"].nunique()
    covered = per_year[per_year >= COVERED_SHARE * valued["REF_AREA"].nunique()]
    return int(covered.index.max() if not covered.empty else per_year.idxmax())


def _latest_valued_per_area(rows: pd.DataFrame) -> pd.DataFrame:
    """Each area's latest row with a value, or its latest row when it has none (then a blank, named in a note)."""
    rows = rows.assign(_has=rows["OBS_VALUE"].notna())
    rows = rows.sort_values(["REF_AREA", "_has", "TIME_PERIOD"])
    return rows.groupby("REF_AREA").tail(1).drop(columns="_has")


def _ref_order(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("REF_AREA", key=lambda s: s.map(lambda c: (c != "WLD", c)))


def plan_charts(con: duckdb.DuckDBPyConnection) -> list[ChartJob]:
    """Every chart of a release, from its public database (views compare, regional, observations_labelled).

    Survey estimates (catalogue method proportion, mean, total, ratio; not the derived _GPI/_URG series): countries
    ranked (each country's latest wave, totals, with the world and ITU-region values as reference lines) and, when
    the indicator has girls' and boys' values, a sex-gap chart. Incident reports (source incidents): countries
    ranked in the ranking year, with the caveat that reports are not prevalence (rates with the world and regions
    as reference lines; counts with the world total stated). Other country series (the BC ICT series): countries
    ranked in the ranking year with reference lines, and a trend of the world and ITU regions."""
    catalogue = con.execute("SELECT code, name, group_name, method, unit, source, caveats, derived_from "
                            "FROM catalogue ORDER BY code").df()
    sources = con.execute("SELECT source_id, citation, synthetic FROM sources").df()
    with_values = {c for (c,) in con.execute("SELECT DISTINCT INDICATOR FROM compare "
                                             "WHERE OBS_VALUE IS NOT NULL").fetchall()}
    compare = con.execute("SELECT * FROM compare WHERE AGE = '_T' AND URBANISATION = '_T' AND SEX IN ('_T', 'F', 'M') "
                          "ORDER BY INDICATOR, REF_AREA, TIME_PERIOD, SEX").df()
    references = con.execute("SELECT * FROM regional WHERE (REF_AREA = 'WLD' OR classification = 'itu_region') "
                             "AND SEX = '_T' AND AGE = '_T' AND URBANISATION = '_T' "
                             "ORDER BY INDICATOR, REF_AREA, TIME_PERIOD").df()
    trends = con.execute("SELECT * FROM observations_labelled WHERE SEX = '_T' AND AGE = '_T' "
                         "AND URBANISATION = '_T' AND REF_AREA IN (SELECT ref_area FROM areas "
                         "WHERE ref_area = 'WLD' OR classification = 'itu_region') "
                         "ORDER BY INDICATOR, REF_AREA, TIME_PERIOD").df()
    by_indicator = dict(tuple(compare.groupby("INDICATOR")))
    refs_by_indicator = dict(tuple(references.groupby("INDICATOR")))
    trends_by_indicator = dict(tuple(trends.groupby("INDICATOR")))
    jobs: list[ChartJob] = []
    for entry in sorted(catalogue.itertuples(), key=lambda e: _code_key(e.code)):
        if entry.code not in with_values or isinstance(entry.derived_from, str):
            continue
        rows = by_indicator.get(entry.code)
        if rows is None:
            continue
        refs = refs_by_indicator.get(entry.code, references.iloc[0:0])
        title = f"{entry.code} {entry.name}"
        unit = unit_label(entry.unit, entry.name, entry.method)
        share = False if entry.method == "growth" else None   # a growth rate is no share, whatever its unit
        caveat = [f"Caveat: {entry.caveats}"] if isinstance(entry.caveats, str) and entry.caveats else []
        base = dict(indicator=entry.code, group=entry.group_name)
        if entry.method in SURVEY_METHODS:
            totals = latest_per_area(rows[rows["SEX"] == "_T"])   # each country's latest wave
            ref_rows = _ref_order(_latest_valued_per_area(refs)) if len(refs) else refs
            drawn_refs = ref_rows[ref_rows["OBS_VALUE"].notna()]
            jobs.append(ChartJob(**base, kind="ranked", title=title, function="ranked_chart", kwargs=dict(
                rows=totals, title=title, unit=unit, references=ref_rows, share=share, subtitle="totals",
                notes=caveat, source=source_line(pd.concat([totals, drawn_refs]), sources))))
            by_sex = latest_per_area(rows[rows["SEX"].isin(["F", "M"])])
            if by_sex["OBS_VALUE"].notna().any():
                jobs.append(ChartJob(**base, kind="sex_gap", title=f"{title}: girls and boys",
                                     function="sex_gap_chart", kwargs=dict(
                                         rows=by_sex, title=f"{title}: girls and boys", unit=unit, share=share,
                                         notes=caveat, source=source_line(by_sex, sources))))
            continue
        totals = rows[rows["SEX"] == "_T"]
        if not totals["OBS_VALUE"].notna().any():
            continue
        year = ranking_year(totals)
        in_year = totals[totals["TIME_PERIOD"] == year]
        year_refs = _ref_order(refs[refs["TIME_PERIOD"] == year])
        notes = [f"{year}: the latest year in which at least {COVERED_SHARE:.0%} of the countries reporting "
                 f"{entry.code} have a value."]
        if entry.source == "incidents":
            notes = [INCIDENTS_CAVEAT] + notes
            if entry.unit == "count":   # a group total is no reference for a country's count: state the world's
                world = year_refs[year_refs["REF_AREA"] == "WLD"]
                notes += [_world_total_note(w, year) for w in world.itertuples()]
                year_refs = year_refs.iloc[0:0]
        drawn_refs = year_refs[year_refs["OBS_VALUE"].notna()]
        # a share of countries is 100 or 0 for one country: ranking yes/no answers shows nothing (ties in
        # alphabetical order), so only the groups' shares are drawn (the trend)
        if entry.method != "share_of_countries":
            jobs.append(ChartJob(**base, kind="ranked", title=title, function="ranked_chart", kwargs=dict(
                rows=in_year, title=title, unit=unit, references=year_refs, share=share, notes=notes, median=True,
                source=source_line(pd.concat([in_year, drawn_refs]), sources))))
        trend = trends_by_indicator.get(entry.code)
        if entry.source != "incidents" and trend is not None and trend["OBS_VALUE"].notna().any():
            jobs.append(ChartJob(**base, kind="trend", title=f"{title}: world and ITU regions",
                                 function="trend_chart", kwargs=dict(
                                     rows=trend, title=f"{title}: world and ITU regions", unit=unit, share=share,
                                     notes=caveat, source=source_line(trend[trend["OBS_VALUE"].notna()], sources))))
    return jobs + _capacity_jobs(con, sources)


# the national questionnaire's charts: (release table, chart function, its rows argument, the indicator it
# illustrates, file kind, title)
CAPACITY_CHARTS = (("capacity_scores", "pillar_heatmap", "scores", "NC.11", "heatmap", "capacity scores by pillar"),
                   ("capacity_ranks", "rank_interval_chart", "ranks", "NC.11", "rank_interval", "rank intervals"),
                   ("roadmap_stage_counts", "stages_by_region_chart", "counts", "NC.10", "stages",
                    "roadmap stages by region"))


def _capacity_jobs(con: duckdb.DuckDBPyConnection, sources: pd.DataFrame) -> list[ChartJob]:
    """Per questionnaire round: the pillar-score heatmap and the rank intervals of NC.11, and the roadmap stages
    per pillar by region (NC.10 and its sister series), from the tables the national questionnaire adds to a
    release (none without questionnaire responses)."""
    present = {name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if not all(chart[0] in present for chart in CAPACITY_CHARTS):
        return []
    areas = con.execute("SELECT * FROM areas").df()
    synthetic_ids = set(sources.loc[sources["synthetic"].astype(bool), "source_id"])
    jobs = []
    for table, function, argument, indicator, kind, title in CAPACITY_CHARTS:
        frame = con.execute(f"SELECT * FROM {table} ORDER BY ALL").df()
        for round_, rows in frame.groupby("TIME_PERIOD"):
            ids = {s for joined in rows["SOURCE_ID"].dropna() for s in str(joined).split("+")}
            jobs.append(ChartJob(indicator=indicator, group="national_capacity", kind=f"{kind}_{round_}",
                                 title=f"{indicator} {title}, {round_}", function=function, kwargs={
                                     argument: rows.reset_index(drop=True), "areas": areas, "round": int(round_),
                                     "synthetic": bool(ids & synthetic_ids), "source": source_line(rows, sources)}))
    return jobs


def _world_total_note(world, year: int) -> str:
    if pd.isna(world.OBS_VALUE):
        reason = blank_reason(world.OBS_STATUS, world.CONF_STATUS, world.COMMENT_OBS)
        return f"World total {year}: not published ({reason})."
    partial = (f", a partial total: the reporting countries cover {world.COVERAGE:.0%} of the population"
               if world.OBS_STATUS == "E" and not pd.isna(world.COVERAGE) else "")
    return f"World total {year}: {format_value(world.OBS_VALUE, 0)}{partial}."


def _code_key(code: str):
    prefix, _, number = code.partition(".")
    digits = re.match(r"\d+", number)
    return prefix, int(digits.group()) if digits else 0, number


def _describe(job: ChartJob, data: ChartData) -> str:
    """The alt text of a chart, from what it drew."""
    s = data.summary
    if data.kind == "ranked":
        when = f"in {s['year']}" if s.get("year") else "in each country's latest survey wave"
        shown = (f"the {TOP_BOTTOM} highest and {TOP_BOTTOM} lowest of {s['count']} countries"
                 if s.get("cut") else f"{s['count']} countries")
        extra = (f" (median {format_value(s['median'], published_decimals(data.rows['OBS_VALUE']))})"
                 if s.get("count") and s.get("year") else "")
        refs = ", with the world and ITU-region values as reference lines" if len(data.references) else ""
        ci = " and 95 % confidence intervals" if data.rows["CI_LOWER"].notna().any() else ""
        return f"{job.title} {when}: {shown}{extra} ranked by value{ci}{refs}."
    if data.kind == "sex_gap":
        return (f"{job.title}: girls' and boys' values with 95 % confidence intervals for "
                f"{len(s['countries'])} countries, each in its latest survey wave.")
    if data.kind in ("pillar_heatmap", "rank_interval", "stages_by_region"):
        return f"{job.title}: {data.subtitle}."
    names = dict(zip(data.rows["REF_AREA"], data.rows["area_name"]))
    return (f"{job.title}: one line per area, {s['years'][0]}-{s['years'][1]}, for "
            f"{', '.join(names.get(a, a) for a in s['areas'])}.")


CHART_FUNCTIONS = {"ranked_chart": ranked_chart, "sex_gap_chart": sex_gap_chart, "trend_chart": trend_chart,
                   "pillar_heatmap": pillar_heatmap, "rank_interval_chart": rank_interval_chart,
                   "stages_by_region_chart": stages_by_region_chart}


def draw_job(job: ChartJob, release_folder: str, release_id: str) -> ChartFile:
    """Draw one planned chart into release_folder/charts and describe it (runs in a worker process)."""
    try:
        fig = CHART_FUNCTIONS[job.function](**job.kwargs, release_id=release_id)
        description = _describe(job, fig.chart_data)
        save_chart(fig, Path(release_folder) / job.path)
    except OSError:   # a full disk or a read-only folder: the error names the file, the build says what to do
        raise
    except Exception as error:   # name the chart: a worker's traceback alone does not say which one failed
        raise RuntimeError(f"{job.path} ({job.function} of {job.indicator}): {type(error).__name__}: {error}") \
            from error
    return ChartFile(job.path, job.indicator, job.group, job.kind, job.title, description)


def _draw_jobs(jobs: list[ChartJob], release_folder: str, release_id: str) -> list[ChartFile]:
    with chart_style():   # once for the batch: the charts' own blocks nest in it (no chart changes rcParams)
        return [draw_job(job, release_folder, release_id) for job in jobs]


# charts handed to a worker at a time: small batches keep both workers busy to the end whatever else they do
BATCH = 4


def render_release_charts(release_folder: Path, release_id: str, workers: int | None = None,
                          meanwhile: Callable[[], object] | None = None,
                          beside: Callable[[], object] | None = None,
                          then: Callable[[list[ChartFile]], object] | None = None) -> list[ChartFile]:
    """Every chart of a release, written to <release_folder>/charts/ from its public database; one ChartFile per
    PNG, in path order. `workers` processes draw them (default: 2, or COP_CHART_WORKERS; 1 draws in process).

    The rest of the release is done around the drawing, so that neither core waits idle: `beside` (picklable, e.g.
    the SDMX files) runs in a worker first, as the longest single piece, the charts are shared out after it in
    batches; `meanwhile` (e.g. a checksum of the observations) runs in this process while they are drawn, and
    `then(charts)` (e.g. the report, which shows them) in this process once they are, while `beside` may still run.
    Each runs exactly once whatever happens to the workers (a worker that dies: the rest is done here); an error
    of any is raised once the workers have stopped."""
    release_folder = Path(release_folder)
    con = duckdb.connect(str(release_folder / "cop_indicators.duckdb"), read_only=True)
    try:
        jobs = plan_charts(con)
    finally:
        con.close()
    (release_folder / "charts").mkdir(exist_ok=True)
    workers = workers or int(os.environ.get("COP_CHART_WORKERS", "2"))
    if workers <= 1 or len(jobs) < 8:
        for work in (beside, meanwhile):
            if work is not None:
                work()
        charts = sorted(_draw_jobs(jobs, str(release_folder), release_id), key=lambda c: c.path)
        if then is not None:
            then(charts)
        return charts
    return _draw_in_workers(jobs, release_folder, release_id, workers, meanwhile, beside, then)


def _draw_in_workers(jobs: list[ChartJob], release_folder: Path, release_id: str, workers: int,
                     meanwhile: Callable[[], object] | None, beside: Callable[[], object] | None,
                     then: Callable[[list[ChartFile]], object] | None) -> list[ChartFile]:
    # fork: workers start in milliseconds with the modules already imported (a spawned worker would spend seconds
    # importing pandas and matplotlib again)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"))
    try:
        beside_done = pool.submit(beside) if beside is not None else None
        batches = [pool.submit(_draw_jobs, jobs[i:i + BATCH], str(release_folder), release_id)
                   for i in range(0, len(jobs), BATCH)]
        if meanwhile is not None:
            meanwhile()
        try:
            charts = [c for batch in batches for c in batch.result()]
        except BrokenProcessPool:   # a worker died (killed, out of memory): draw them all here instead
            charts = _draw_jobs(jobs, str(release_folder), release_id)
        charts.sort(key=lambda c: c.path)
        if then is not None:
            then(charts)
        if beside_done is not None:
            try:
                beside_done.result()
            except BrokenProcessPool:
                beside()
        return charts
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
