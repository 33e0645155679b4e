"""The trend chart: one line per area (countries and/or groups) over time.

A year without a published value breaks the line, never bridged: a line through a withheld year would show a
value the release does not publish. Survey estimates (rows with a 95 % CI, waves years apart) are drawn as what
they are: each wave a marker with its interval, an area's waves linked by a thin dashed line (nothing is measured
between waves, and a solid line would suggest it), the markers of one year set slightly apart so that their
intervals stay readable. The legend, right of the plot, names each area with its latest value, World first, then
highest to lowest; each area keeps one colour in every trend chart (by code, not by rank), and black is the
World's alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from indicators.charts.axes import is_share, style_value_axis, tick_text, value_limits
from indicators.charts.chart_data import ChartData, any_synthetic
from indicators.charts.page import LegendItem, compose, finish_in_axes
from indicators.charts.style import (AREA_COLOURS, INK, MARGIN_IN, MUTED, SIZE_LEGEND, SIZE_NOTE, SIZE_TICK,
                                     WIDTH_IN, WORLD, chart_style)
from indicators.charts.text import line_height_in, plain, text_width_in
from indicators.charts.words import format_value, published_decimals, unit_label, year_ranges


def trend_chart(rows: pd.DataFrame, *, title: str, unit: str, source: str, release_id: str, ax=None,
                subtitle: str = "", notes: list[str] | None = None, share: bool | None = None) -> Figure:
    """One line per area over time. rows: `observations_labelled` rows of one indicator and one disaggregation
    cell (countries and/or groups). A year without a published value breaks the line (never bridged); an isolated
    value is a dot; an estimated partial total (E) or low-reliability value (U) is a hollow marker. Rows with a
    95 % CI (survey waves): a marker per wave with its interval, the waves linked by a dashed line that breaks at
    a wave without a published value. The legend, right of the plot, names each area with its latest value, World
    first, then highest to lowest."""
    rows = rows.sort_values(["REF_AREA", "TIME_PERIOD"])
    unit = unit_label(unit)
    decimals = published_decimals(rows["OBS_VALUE"])
    share = is_share(rows, share)
    valued = rows[rows["OBS_VALUE"].notna()]
    survey = "CI_LOWER" in rows and bool(valued["CI_LOWER"].notna().any())
    last = valued.groupby("REF_AREA").tail(1).set_index("REF_AREA")
    areas = sorted(last.index, key=lambda a: (a != "WLD", -float(last.loc[a, "OBS_VALUE"]), a))
    names = rows.drop_duplicates("REF_AREA").set_index("REF_AREA")["area_name"].astype(str)
    missing = sorted(set(rows["REF_AREA"]) - set(areas))
    # the years with a published value (blank years before the first or after the last value of any area would
    # only stretch the axis)
    span = valued if len(valued) else rows
    first, final = (int(span["TIME_PERIOD"].min()), int(span["TIME_PERIOD"].max())) if len(span) else (0, 0)
    sub = " · ".join(([subtitle] if subtitle else []) + [f"{'survey waves ' if survey else ''}{first}-{final}"])
    notes = list(notes or [])
    if survey:
        notes.append("Each marker is a survey wave with its 95 % confidence interval; the dashed line only links an "
                     "area's waves (nothing is measured between them). Markers of the same year are set slightly "
                     "apart so that their intervals do not overlap.")
    blank = rows[rows["OBS_VALUE"].isna() & rows["REF_AREA"].isin(areas) & rows["TIME_PERIOD"].between(first, final)]
    if len(blank):   # name the withheld years: a line that stops early is otherwise read as missing data
        why = {"L": "coverage too low", "Q": "suppressed", "O": "not computed"}
        by_reason: dict[str, list[str]] = {}
        for a in areas:
            for status, cells in blank[blank["REF_AREA"] == a].groupby("OBS_STATUS"):
                by_reason.setdefault(why.get(status, "no value"), []).append(
                    f"{names[a]} {year_ranges(sorted(int(y) for y in cells['TIME_PERIOD']))}")
        notes.append(f"A line breaks where a {'wave' if survey else 'year'} has no published value: "
                     + "; ".join(f"{', '.join(items)} ({reason})" for reason, items in by_reason.items()) + ".")
    if missing:
        notes.append(f"No published value in any year: {', '.join(names[m] for m in missing)}.")
    synthetic = any_synthetic(valued)
    # one colour per area in every trend chart (the areas in code order), not per rank; black is the World's alone
    others = sorted(set(rows["REF_AREA"]) - {"WLD"})
    colours = {a: AREA_COLOURS[i % len(AREA_COLOURS)] for i, a in enumerate(others)} | {"WLD": WORLD}
    flagged = sorted(set(valued.loc[valued["OBS_STATUS"].isin(["E", "U"]), "OBS_STATUS"]))
    words = {"E": "estimated partial total (E)", "U": "low reliability (U)"}
    legend = ([LegendItem("95 % confidence interval", "whisker", INK)] if survey else [])
    legend += ([LegendItem("hollow: " + ", ".join(words[k] for k in flagged), "marker", MUTED, filled=False)]
               if flagged else [])
    labels = [f"{names[a]} {format_value(last.loc[a, 'OBS_VALUE'], decimals)}"
              + (f" ({int(last.loc[a, 'TIME_PERIOD'])})" if int(last.loc[a, "TIME_PERIOD"]) != final else "")
              for a in areas]
    order = {a: i for i, a in enumerate(areas)}
    data = ChartData("trend", valued.assign(order=valued["REF_AREA"].map(order)).sort_values(
        ["order", "TIME_PERIOD"]).reset_index(drop=True), rows.iloc[0:0], rows[rows["REF_AREA"].isin(missing)],
        sub, notes, source, synthetic, [i.label for i in legend] + labels,
        {"areas": areas, "years": (first, final), "survey": survey})
    bounds = valued[[c for c in ("OBS_VALUE", "CI_LOWER", "CI_UPPER") if c in valued]].to_numpy(dtype=float)
    bounds = bounds[~np.isnan(bounds)]
    limits = value_limits(float(bounds.min()) if bounds.size else 0.0, float(bounds.max()) if bounds.size else 1.0,
                          share)
    # survey markers of one year side by side, in the colours' order, within 0.3 years of the year
    step = min(0.08, 0.6 / max(len(areas) - 1, 1)) if survey else 0.0
    shift = {a: (k - (len(areas) - 1) / 2) * step for k, a in enumerate(sorted(areas, key=lambda a: (a != "WLD", a)))}

    def draw_waves(ax, a: str) -> None:
        cells = rows[rows["REF_AREA"] == a].drop_duplicates("TIME_PERIOD")
        x = cells["TIME_PERIOD"].to_numpy(dtype=float) + shift[a]
        v, low, high = (cells[c].to_numpy(dtype=float) for c in ("OBS_VALUE", "CI_LOWER", "CI_UPPER"))
        # a blank wave is NaN: the link breaks there
        ax.plot(x, v, color=colours[a], linestyle="--", linewidth=0.9, zorder=2)
        with_ci = ~np.isnan(v) & ~np.isnan(low)
        if with_ci.any():
            ax.errorbar(x[with_ci], v[with_ci], yerr=[v[with_ci] - low[with_ci], high[with_ci] - v[with_ci]],
                        fmt="none", ecolor=colours[a], elinewidth=0.9, capsize=2, capthick=0.9, zorder=3)
        odd = cells["OBS_STATUS"].isin(["E", "U"]).to_numpy()
        ax.plot(x[~odd], v[~odd], "o", color=colours[a], markersize=4, zorder=4)
        ax.plot(x[odd], v[odd], "o", color=colours[a], markerfacecolor="white", markersize=4, markeredgewidth=1.1,
                zorder=4)

    def draw(ax) -> None:
        for a in areas:
            if survey:
                draw_waves(ax, a)
                continue
            series = rows[rows["REF_AREA"] == a].set_index("TIME_PERIOD")["OBS_VALUE"]
            series = series[~series.index.duplicated()].reindex(range(first, final + 1))
            x, v = series.index.to_numpy(), series.to_numpy(dtype=float)
            ax.plot(x, v, color=colours[a], linewidth=2.2 if a == "WLD" else 1.5, zorder=3 if a == "WLD" else 2)
            alone = ~np.isnan(v) & np.isnan(np.r_[np.nan, v[:-1]]) & np.isnan(np.r_[v[1:], np.nan])
            ax.plot(x[alone], v[alone], "o", color=colours[a], markersize=3.5, zorder=3)
            odd = valued[(valued["REF_AREA"] == a) & valued["OBS_STATUS"].isin(["E", "U"])]
            ax.plot(odd["TIME_PERIOD"], odd["OBS_VALUE"], "o", color=colours[a], markerfacecolor="white",
                    markersize=4, markeredgewidth=1.1, zorder=4)
        style_value_axis(ax, "y", unit, limits)
        ax.set_xlim(first - 0.5, final + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=10))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

    if ax is not None:
        draw(ax)
        for a, label in zip(areas, labels):
            ax.plot([], [], "o--" if survey else "-", color=colours[a], label=plain(label),
                    **(dict(linewidth=0.9, markersize=4) if survey else {}))
        ax.legend(fontsize=SIZE_NOTE, frameon=False)
        return finish_in_axes(ax, title, sub, synthetic, data)

    right = MARGIN_IN + 0.15 + 0.32 + max((text_width_in(t, SIZE_LEGEND) for t in labels), default=0.5)
    tick_w = max(text_width_in(tick_text(v, max(abs(limits[0]), abs(limits[1]))), SIZE_TICK) for v in limits)
    left = MARGIN_IN + 0.3 + tick_w + 0.1
    with chart_style():
        frame = compose(title=title, subtitle=sub, legend=legend, label_rows=0, plot_h=3.3, left=left,
                        right=right, x_axis_h=0.3, notes=notes, source=source, release_id=release_id,
                        synthetic=synthetic)
        draw(frame.ax)
        row_h = line_height_in(SIZE_LEGEND) + 0.08
        x0 = WIDTH_IN - right + 0.15
        for i, (a, label) in enumerate(zip(areas, labels)):
            y = frame.plot_top + 0.05 + i * row_h
            frame.page.handle(LegendItem(label, "waves" if survey else "line", colours[a]), x0, y)
            frame.page.text(x0 + 0.32, y, label, SIZE_LEGEND, va="center")
    frame.page.fig.chart_data = data
    return frame.page.fig

