"""The national-capacity charts of the COP national questionnaire (issue 14): drawn from the release tables
capacity_scores, capacity_ranks and roadmap_stage_counts, one round at a time, in the page style of the other
charts (page.py), each returning a Figure with what it drew as `fig.chart_data`.

- `pillar_heatmap`: the five GCA pillar scores and the overall score of every scored country, grouped by ITU region,
  on one fixed 0-100 colour scale (cividis, readable with any colour vision) with the value printed in each cell;
  the countries that responded but fell below the data-availability threshold are named in a note.
- `rank_interval_chart`: each country's median rank over the Monte Carlo draws with its 5-95 % interval and its
  nominal rank, rank 1 on the left.
- `stages_by_region_chart`: one panel per pillar, a 100 % bar per group (World, then the ITU regions) split by the
  roadmap stage reached: shares of the group's responding countries, so that regions of different sizes compare.

The tables carry no SYNTHETIC column: the caller says whether the round rests on generated responses.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.transforms import ScaledTranslation

from indicators.charts.axes import category_axis, style_value_axis
from indicators.charts.chart_data import ChartData
from indicators.charts.page import Frame, LegendItem, RowColumns, compose
from indicators.charts.style import (BAR, FAINT, GRID, INK, LABEL_ROW_IN, MARGIN_IN, MUTED, ROW_IN, SIZE_NOTE,
                                     SIZE_TICK, WIDTH_IN, chart_style)
from indicators.charts.text import add_text, fit, line_height_in, text_width_in, wrap
from indicators.charts.words import format_value, published_decimals
from schemas.national_questionnaire import GCA_PILLARS, ROADMAP_STAGES

PILLAR_NAMES = {"legal": "Legal measures", "technical": "Technical and procedural measures",
                "organizational": "Organizational structures", "capacity_building": "Capacity building",
                "cooperation": "International cooperation"}
COLUMN_HEADERS = {"legal": "Legal", "technical": "Technical", "organizational": "Organizational",
                  "capacity_building": "Capacity building", "cooperation": "Cooperation", "overall": "Overall"}
HEAT_COLUMNS = [*GCA_PILLARS, "overall"]
HEAT_CMAP = "cividis"            # perceptually uniform and designed for colour-vision deficiencies
SCORE_LIMITS = (0.0, 100.0)      # fixed: a colour means the same score on every chart and round
OVERALL_GAP = 0.25               # the Overall column stands apart from the pillars by a quarter cell
HEAT_NAME_IN = 2.3               # names cut beyond this (every ITU member's name fits) so the six columns keep
                                 # room for their headers
COLOURBAR_IN = 0.14
COLOURBAR_MAX_IN = 2.5
NO_SCORE = "#f0f0f0"
INTERVAL = "#56B4E9"             # Okabe-Ito sky blue, behind the median dot in BAR blue
# ColorBrewer YlGnBu, 6 classes: light (none) to dark (improvement), in stage order; safe for colour-blind readers
STAGE_COLOURS = ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"]
WORLD_CODE = "WLD"
OUTSIDE_REGIONS = "Outside the ITU regions"
PANEL_TITLE_IN, PANEL_TICKS_IN = 0.3, 0.3
REPEAT_AXIS_IN = 6.0             # a plot taller than this repeats its column headers (heatmap) or rank axis at
                                 # the other end, so the bottom rows of 80 countries still have them in view


# ------------------------------------------------------------------------------------------------ shared helpers
def _in_round(rows: pd.DataFrame, round_: int, table: str) -> pd.DataFrame:
    """The rows of one round; a chart of a round without rows would be empty, so that is an error."""
    mine = rows[rows["TIME_PERIOD"].astype(int) == int(round_)]
    if mine.empty:
        rounds = sorted({int(r) for r in rows["TIME_PERIOD"].dropna()})
        raise ValueError(f"{table}: no rows for round {round_} (rounds present: "
                         f"{', '.join(map(str, rounds)) or 'none'})")
    return mine


def _areas(areas: pd.DataFrame) -> pd.DataFrame:
    """The release's areas table indexed by its code, whether its columns are spelled ref_area or REF_AREA."""
    return areas.rename(columns=str.lower).drop_duplicates("ref_area").set_index("ref_area")


def _name_of(areas: pd.DataFrame, code) -> str:
    if code in areas.index and isinstance(areas.at[code, "name"], str):
        return areas.at[code, "name"]
    return str(code)


def _region_of(areas: pd.DataFrame, code) -> tuple[str | None, str]:
    """(ITU region code, its name) of a country; (None, OUTSIDE_REGIONS) when the areas table gives none."""
    region = areas.at[code, "itu_region"] if code in areas.index and "itu_region" in areas else None
    if not isinstance(region, str) or not region:
        return None, OUTSIDE_REGIONS
    # the region's own group row names it; else the country row's itu_region_name
    if region in areas.index and isinstance(areas.at[region, "name"], str):
        return region, areas.at[region, "name"]
    name = areas.at[code, "itu_region_name"] if "itu_region_name" in areas else None
    return region, name if isinstance(name, str) else region


def _ink_on(rgba) -> str:
    """White or near-black text, whichever contrasts more with the cell colour (WCAG relative luminance: white
    wins below 0.179)."""
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.179 else INK


def _row_translation(fig, x_in: float, ax_left_in: float):
    """A transform placing x at `x_in` inches from the page's left edge and y in the axes' data (a row)."""
    return ScaledTranslation(x_in - ax_left_in, 0, fig.dpi_scale_trans)


# ------------------------------------------------------------------------------------------------ pillar heatmap
def pillar_heatmap(scores: pd.DataFrame, areas: pd.DataFrame, *, round: int, synthetic: bool, source: str,
                   release_id: str) -> Figure:
    """The five pillar scores and the overall score (0-100) of each country with an overall score in the round:
    rows grouped by ITU region under the region's name, sorted by overall score within it; one fixed 0-100
    colour scale with its colour bar, the value in each cell. scores: capacity_scores rows (REF_AREA,
    TIME_PERIOD, PILLAR, SCORE); areas: the release's areas table (ref_area, name, itu_region, itu_region_name).
    The countries of the round without an overall score are named in a note."""
    area = _areas(areas)
    rows = _in_round(scores, round, "capacity_scores")
    wide = rows.pivot(index="REF_AREA", columns="PILLAR", values="SCORE").reindex(columns=HEAT_COLUMNS)
    wide = wide.rename_axis(columns=None).reset_index()
    wide["area_name"] = [_name_of(area, c) for c in wide["REF_AREA"]]
    regions = [_region_of(area, c) for c in wide["REF_AREA"]]
    wide["itu_region"] = [r for r, _ in regions]
    wide["itu_region_name"] = [n for _, n in regions]
    scored = wide[wide["overall"].notna()]
    unscored = wide[wide["overall"].isna()].sort_values("area_name")
    # regions in code order (outside the regions last), countries by overall score, highest first
    scored = scored.assign(_outside=scored["itu_region"].isna()).sort_values(
        ["_outside", "itu_region", "overall", "area_name"], ascending=[True, True, False, True], na_position="last")
    scored = scored.drop(columns="_outside").reset_index(drop=True)

    headings: list[tuple[float, str, int]] = []      # (slot, region name, countries)
    positions: list[float] = []
    slot = 0
    for name, members in scored.groupby("itu_region_name", sort=False):
        headings.append((slot, str(name), len(members)))
        positions.extend(float(slot + 1 + i) for i in range(len(members)))
        slot += 1 + len(members)
    n_slots = slot
    drawn = scored.assign(y=positions)[["REF_AREA", "area_name", "itu_region", "itu_region_name", *HEAT_COLUMNS,
                                        "y"]]

    decimals = 0      # whole points: the colour carries the rest, and six 0-100 numbers a row stay legible
    sub = (f"Round {round} · pillar and overall scores (0-100) of the {len(drawn)} responding countries with an "
           f"overall score, grouped by ITU region, highest overall score first")
    notes = ["Each cell is coloured on one fixed scale from 0 to 100 and shows the score rounded to whole points. "
             "A country gets an overall score only when all five pillars have one."]
    if len(unscored):
        notes.append(f"{len(unscored)} {'country' if len(unscored) == 1 else 'countries'} responded but answered "
                     f"too few items to be scored: {', '.join(unscored['area_name'])}.")
    cmap = matplotlib.colormaps[HEAT_CMAP]
    norm = Normalize(*SCORE_LIMITS)
    data = ChartData("pillar_heatmap", drawn, drawn.iloc[0:0], unscored[["REF_AREA", "area_name"]].reset_index(
        drop=True), sub, notes, source, synthetic, [f"colour bar: score 0-100 ({HEAT_CMAP})"],
        {"round": int(round), "countries": len(drawn), "unscored": list(unscored["REF_AREA"]),
         "regions": [(name, count) for _, name, count in headings], "columns": HEAT_COLUMNS,
         "limits": SCORE_LIMITS, "cmap": HEAT_CMAP, "decimals": decimals})

    columns = RowColumns.measure([fit(n, SIZE_TICK, HEAT_NAME_IN) for n in drawn["area_name"]], [], [], "")
    colourbar_w = 0.2 + COLOURBAR_IN + 0.1 + text_width_in("100", SIZE_NOTE) + 0.1 + line_height_in(SIZE_NOTE)
    left, right = columns.left, columns.right + colourbar_w
    plot_w = WIDTH_IN - left - right
    x_span = len(HEAT_COLUMNS) + OVERALL_GAP
    cell_w = plot_w / x_span
    header_lines = {c: wrap(COLUMN_HEADERS[c], SIZE_NOTE, cell_w - 0.06, bold=c == "overall")
                    for c in HEAT_COLUMNS}
    header_h = max(len(lines) for lines in header_lines.values()) * line_height_in(SIZE_NOTE)
    plot_h = n_slots * ROW_IN + 0.1
    headers_below = plot_h > REPEAT_AXIS_IN
    with chart_style():
        frame = compose(title="NC.11 COP national capacity score: GCA pillars and overall score by country",
                        subtitle=sub, legend=[], label_rows=math.ceil(header_h / LABEL_ROW_IN), plot_h=plot_h,
                        left=left, right=right, x_axis_h=header_h + 0.1 if headers_below else 0.05, notes=notes,
                        source=source, release_id=release_id, synthetic=synthetic)
        ax, page, fig = frame.ax, frame.page, frame.page.fig
        ax.set_xlim(0, x_span)
        category_axis(ax, n_slots)
        ax.spines["bottom"].set_visible(False)
        ax.set_xticks([])
        x_of = {c: i + (OVERALL_GAP if c == "overall" else 0.0) for i, c in enumerate(HEAT_COLUMNS)}
        _draw_cells(ax, drawn, x_of, cmap, norm, decimals)
        columns.draw(frame, positions)
        rows_at = ax.get_yaxis_transform()
        for k, (at, name, count) in enumerate(headings):
            add_text(fig, 0, at, f"{name} · {count} {'country' if count == 1 else 'countries'}", size=SIZE_TICK,
                     bold=True, transform=rows_at + _row_translation(fig, MARGIN_IN, left), va="center")
            if k:   # a rule above every region but the first
                ax.plot([(MARGIN_IN - left) / plot_w, 1], [at - 0.5, at - 0.5], transform=rows_at, color=FAINT,
                        linewidth=0.7, clip_on=False)
        for c in HEAT_COLUMNS:
            centre = left + (x_of[c] + 0.5) * cell_w
            lines = header_lines[c]
            for i, line in enumerate(lines):
                page.text(centre, frame.plot_top - 0.04 - (len(lines) - 1 - i) * line_height_in(SIZE_NOTE), line,
                          SIZE_NOTE, bold=c == "overall", ha="center", va="bottom")
                if headers_below:
                    page.text(centre, frame.plot_top + plot_h + 0.06 + i * line_height_in(SIZE_NOTE), line,
                              SIZE_NOTE, bold=c == "overall", ha="center", va="top")
        bar_h = min(plot_h, COLOURBAR_MAX_IN)
        cax = fig.add_axes((page.fx(WIDTH_IN - right + 0.2), page.fy(frame.plot_top + bar_h),
                            COLOURBAR_IN / WIDTH_IN, bar_h / page.h))
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, ticks=np.linspace(*SCORE_LIMITS, 6))
        bar.outline.set_linewidth(0.5)
        bar.ax.tick_params(labelsize=SIZE_NOTE, length=2.5, width=0.6, colors=MUTED)
        bar.set_label("score (0-100)", size=SIZE_NOTE, color=MUTED)
    fig.chart_data = data
    return fig


def _draw_cells(ax, drawn: pd.DataFrame, x_of: dict[str, float], cmap, norm, decimals: int) -> None:
    """One coloured cell per country and column, with its value; a cell without a score is pale grey with '–'."""
    y = drawn["y"].to_numpy(dtype=float)
    for column, x in x_of.items():
        values = drawn[column].to_numpy(dtype=float)
        ok = ~np.isnan(values)
        colours = cmap(norm(np.where(ok, values, 0.0)))
        colours[~ok] = matplotlib.colors.to_rgba(NO_SCORE)
        ax.barh(y, 1.0, left=x, height=1.0, color=colours, edgecolor="white", linewidth=1.0)
        for yi, value, colour, has in zip(y, values, colours, ok):
            add_text(ax, x + 0.5, yi, format_value(value, decimals) if has else "–", size=SIZE_TICK,
                     transform=ax.transData, ha="center", va="center", color=_ink_on(colour) if has else MUTED,
                     zorder=4)


# ------------------------------------------------------------------------------------------- rank intervals
def rank_interval_chart(ranks: pd.DataFrame, areas: pd.DataFrame, *, round: int, synthetic: bool, source: str,
                        release_id: str) -> Figure:
    """Each country's rank on the overall score: a dot at its median rank over the Monte Carlo draws, a bar from
    the 5th to the 95th percentile rank, a tick at its nominal rank; rank 1 (highest score) on the left, countries
    sorted by median rank. ranks: capacity_ranks rows (REF_AREA, TIME_PERIOD, RANK, RANK_MEDIAN, RANK_P05,
    RANK_P95, COUNTRIES_RANKED, DRAWS); areas: the release's areas table (ref_area, name)."""
    area = _areas(areas)
    rows = _in_round(ranks, round, "capacity_ranks")
    drawn = rows.assign(area_name=[_name_of(area, c) for c in rows["REF_AREA"]]).sort_values(
        ["RANK_MEDIAN", "RANK", "area_name"]).reset_index(drop=True)
    positions = [float(i) for i in range(len(drawn))]
    drawn = drawn.assign(y=positions)
    draws = int(drawn["DRAWS"].max())
    ranked = int(max(drawn["COUNTRIES_RANKED"].max(), drawn["RANK_P95"].max(), len(drawn)))
    # each with the decimals it carries: a median of ranks can fall between two, the percentiles rarely do
    median_decimals = published_decimals(drawn["RANK_MEDIAN"])
    interval_decimals = published_decimals(pd.concat([drawn["RANK_P05"], drawn["RANK_P95"]]))

    sub = (f"Round {round} · {len(drawn)} countries sorted by median rank · median and 5-95 % range of each "
           f"country's rank over {draws:,} Monte Carlo draws that vary the weights, aggregation method, treatment "
           f"of don't-know and unanswered items")
    notes = ["Rank 1 = highest capacity score; countries with equal scores share the same (best) rank. The nominal "
             "rank uses the default weights, aggregation and treatment of missing answers. Countries whose bars "
             "overlap cannot be ranked apart with confidence."]
    legend = [LegendItem(f"median rank over the {draws:,} draws", "marker", BAR),
              LegendItem("5th to 95th percentile rank", "bar", INTERVAL),
              LegendItem("nominal rank", "marker", INK, marker="|")]
    data = ChartData("rank_interval", drawn, drawn.iloc[0:0], drawn.iloc[0:0], sub, notes, source, synthetic,
                     [i.label for i in legend], {"round": int(round), "countries": len(drawn), "draws": draws,
                                                 "countries_ranked": ranked})

    values = [f"{format_value(r.RANK, 0)} · {format_value(r.RANK_MEDIAN, median_decimals)} "
              f"({format_value(r.RANK_P05, interval_decimals)}–{format_value(r.RANK_P95, interval_decimals)})"
              for r in drawn.itertuples()]
    columns = RowColumns.measure([str(n) for n in drawn["area_name"]], [], values, "nominal · median (5–95 %)")
    plot_h = len(drawn) * ROW_IN + 0.1
    axis_on_top = plot_h > REPEAT_AXIS_IN
    with chart_style():
        frame = compose(title="NC.11 COP national capacity score: each country's rank and its uncertainty",
                        subtitle=sub, legend=legend, label_rows=1 if axis_on_top else 0, plot_h=plot_h,
                        left=columns.left, right=columns.right, x_axis_h=0.42, notes=notes, source=source,
                        release_id=release_id, synthetic=synthetic)
        ax = frame.ax
        style_value_axis(ax, "x", "Rank (1 = highest capacity score)", (0.5, ranked + 0.5))
        ax.set_xticks(_rank_ticks(ranked))
        ax.tick_params(axis="x", top=axis_on_top, labeltop=axis_on_top)
        y = np.asarray(positions)
        low, high = drawn["RANK_P05"].to_numpy(dtype=float), drawn["RANK_P95"].to_numpy(dtype=float)
        ax.barh(y, high - low, left=low, height=0.38, color=INTERVAL, linewidth=0, zorder=2)
        ax.plot(drawn["RANK_MEDIAN"].to_numpy(dtype=float), y, "o", color=BAR, markersize=5,
                markeredgecolor="white", markeredgewidth=0.6, zorder=3)
        ax.plot(drawn["RANK"].to_numpy(dtype=float), y, "|", color=INK, markersize=9, markeredgewidth=1.3,
                zorder=4)
        category_axis(ax, len(drawn))
        columns.draw(frame, positions)
    frame.page.fig.chart_data = data
    return frame.page.fig


def _rank_ticks(ranked: int) -> list[int]:
    """Rank 1 and round ranks up to the number ranked, at most about eight ticks."""
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 250, 500) if ranked / s <= 8)
    if step <= 2:
        return list(range(1, ranked + 1, step))
    return [1, *range(step, ranked + 1, step)]


# --------------------------------------------------------------------------------------- stages by region
def stages_by_region_chart(counts: pd.DataFrame, areas: pd.DataFrame, *, round: int, synthetic: bool,
                           source: str, release_id: str) -> Figure:
    """One panel per GCA pillar; in each, a 100 % bar per group (World on top, then the ITU regions) split into
    the share of the group's responding countries at each roadmap stage (0 none .. 5 improvement), with the
    number of countries n at the bar's end. counts: roadmap_stage_counts rows (REF_AREA group code, TIME_PERIOD,
    PILLAR, STAGE, COUNTRIES); groups other than WLD and ITU_* are not drawn. areas: the release's areas table
    (ref_area, name) naming the groups."""
    area = _areas(areas)
    rows = _in_round(counts, round, "roadmap_stage_counts")
    # the World and the ITU regions: other classifications (income, development) are not this chart's groups
    rows = rows[(rows["REF_AREA"] == WORLD_CODE) | rows["REF_AREA"].astype(str).str.startswith("ITU_")]
    if rows.empty:
        raise ValueError(f"roadmap_stage_counts: no World or ITU-region rows for round {round}")
    groups = sorted(set(rows["REF_AREA"]), key=lambda g: (g != WORLD_CODE, g))
    group_y = {g: (0.0 if g == WORLD_CODE else float(i) + (0.6 if WORLD_CODE in groups else 0.0))
               for i, g in enumerate(groups)}
    n_slots = max(group_y.values()) + 1
    # every group x pillar x stage, a stage no country reached counting 0, so each bar's shares sum to 1
    full = pd.MultiIndex.from_product([groups, list(GCA_PILLARS), list(ROADMAP_STAGES)],
                                      names=["REF_AREA", "PILLAR", "STAGE"])
    counted = rows.assign(STAGE=rows["STAGE"].astype(int)).groupby(["REF_AREA", "PILLAR", "STAGE"])["COUNTRIES"].sum()
    drawn = counted.reindex(full, fill_value=0).reset_index()
    drawn["COUNTRIES"] = drawn["COUNTRIES"].astype(int)
    drawn["STAGE_NAME"] = drawn["STAGE"].map(ROADMAP_STAGES)
    drawn["group_name"] = [_name_of(area, g) for g in drawn["REF_AREA"]]
    drawn["n"] = drawn.groupby(["REF_AREA", "PILLAR"])["COUNTRIES"].transform("sum")
    drawn["SHARE"] = (drawn["COUNTRIES"] / drawn["n"].where(drawn["n"] > 0)).astype(float)
    drawn["y"] = drawn["REF_AREA"].map(group_y)
    drawn = drawn[["PILLAR", "REF_AREA", "group_name", "STAGE", "STAGE_NAME", "COUNTRIES", "n", "SHARE", "y"]]

    sub = (f"Round {round} · per GCA pillar, the share of each group's responding countries at each COP roadmap "
           f"stage; shares, not counts, so that regions with different numbers of respondents compare")
    notes = ["n = responding countries of the group with a stage on the pillar."]
    if (drawn["n"] == 0).any():
        notes.append("A row without a bar: no responding country of the group has a stage on that pillar.")
    legend = [LegendItem(f"{stage} {name}", "bar", STAGE_COLOURS[stage]) for stage, name in ROADMAP_STAGES.items()]
    data = ChartData("stages_by_region", drawn, drawn.iloc[0:0], drawn.iloc[0:0], sub, notes, source, synthetic,
                     [i.label for i in legend], {"round": int(round), "groups": groups, "pillars": list(GCA_PILLARS)})

    names = [_name_of(area, g) for g in groups]
    n_of = drawn.drop_duplicates(["PILLAR", "REF_AREA"]).set_index(["PILLAR", "REF_AREA"])["n"]
    columns = RowColumns.measure(names, [], [str(int(n)) for n in n_of], "n")
    panel_h = n_slots * ROW_IN + 0.1
    block = PANEL_TITLE_IN + panel_h + PANEL_TICKS_IN
    with chart_style():
        frame = compose(title="COP roadmap: stage reached on each GCA pillar, World and ITU regions",
                        subtitle=sub, legend=legend, label_rows=0, plot_h=len(GCA_PILLARS) * block - PANEL_TICKS_IN,
                        left=columns.left, right=columns.right, x_axis_h=0.42, notes=notes, source=source,
                        release_id=release_id, synthetic=synthetic)
        page, fig = frame.page, frame.page.fig
        plot_w = WIDTH_IN - columns.left - columns.right
        for k, pillar in enumerate(GCA_PILLARS):
            top = frame.plot_top + k * block + PANEL_TITLE_IN
            ax = frame.ax if k == 0 else fig.add_axes((0, 0, 1, 1))
            ax.set_position((page.fx(columns.left), page.fy(top + panel_h), plot_w / WIDTH_IN, panel_h / page.h))
            page.text(MARGIN_IN, top - PANEL_TITLE_IN + 0.06, PILLAR_NAMES[pillar], SIZE_TICK, bold=True)
            panel = drawn[drawn["PILLAR"] == pillar]
            style_value_axis(ax, "x", "%", (0.0, 100.0))
            ax.set_xlabel("share of the group's responding countries (%)" if k == len(GCA_PILLARS) - 1 else "",
                          fontsize=SIZE_TICK, color=MUTED)
            _draw_stage_bars(ax, panel, plot_w)
            if WORLD_CODE in groups and len(groups) > 1:   # the World set apart from its regions
                ax.axhline(0.8, color=GRID, linewidth=0.8, zorder=0)
            category_axis(ax, n_slots)
            RowColumns(columns.names, [], [str(int(n_of[pillar, g])) for g in groups], "n", columns.year_w,
                       columns.left, columns.right).draw(Frame(page, ax, frame.labels_top, top),
                                                          [group_y[g] for g in groups])
    fig.chart_data = data
    return fig


def _draw_stage_bars(ax, panel: pd.DataFrame, plot_w: float) -> None:
    """A 100 % bar per group, one segment per stage in stage order, the share printed where the segment has room;
    a group without a responding country gets a note in its row instead."""
    for (y, n), bar in panel.groupby(["y", "n"], sort=False):
        if n == 0:
            add_text(ax, 1.0, y, "no responding country", size=SIZE_NOTE, italic=True, color=MUTED,
                     transform=ax.transData, va="center")
            continue
        shares = bar.sort_values("STAGE")["SHARE"].to_numpy(dtype=float) * 100
        starts = np.concatenate([[0.0], np.cumsum(shares)[:-1]])
        ax.barh([y] * len(shares), shares, left=starts, height=0.68, color=STAGE_COLOURS, edgecolor="white",
                linewidth=0.6, zorder=2)
        ax.add_patch(Rectangle((0, y - 0.34), 100, 0.68, fill=False, edgecolor=FAINT, linewidth=0.6, zorder=3))
        for start, share, colour in zip(starts, shares, STAGE_COLOURS):
            text = f"{format_value(share, 0)} %"
            if share > 0 and share / 100 * plot_w >= text_width_in(text, SIZE_NOTE) + 0.08:
                add_text(ax, start + share / 2, y, text, size=SIZE_NOTE, transform=ax.transData, ha="center",
                         va="center", color=_ink_on(matplotlib.colors.to_rgba(colour)), zorder=4)
