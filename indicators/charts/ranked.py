"""The ranked chart: countries ranked by value, highest first, one bar each.

Bars start at 0 with 95 % CI whiskers where the value has one; low-reliability values (U) are hatched; blank cells
stay as rows with the reason written in them (a ranking that silently drops suppressed countries would read as
complete). Group values (the world, ITU regions) and the median are labelled reference lines. A long ranking
shows its highest and lowest countries and states the count and median of all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from indicators.charts.axes import category_axis, is_share, style_value_axis, value_limits
from indicators.charts.chart_data import ChartData, any_synthetic, latest_per_area
from indicators.charts.page import LegendItem, RowColumns, compose, finish_in_axes, place_labels
from indicators.charts.style import (BAR, INK, LABEL_ROW_IN, MEDIAN, MEDIAN_TEXT, MUTED, REGION, ROW_IN, SIZE_NOTE,
                                     WIDTH_IN, WORLD, chart_style)
from indicators.charts.text import add_text, fit, line_height_in, plain, text_width_in
from indicators.charts.words import (blank_reason, format_value, omitted_note, period_words, published_decimals,
                                     unit_label, with_unit)

TOP_BOTTOM = 15                # a ranking of more than 2 x 15 + 4 countries shows the 15 highest and 15 lowest


def ranked_chart(rows: pd.DataFrame, *, title: str, unit: str, source: str, release_id: str,
                 references: pd.DataFrame | None = None, ax=None, subtitle: str = "",
                 notes: list[str] | None = None, share: bool | None = None, median: bool | None = None,
                 show: int = TOP_BOTTOM) -> Figure:
    """Countries ranked by value, highest first.

    rows: `compare` view rows of one indicator and one disaggregation cell; with several periods each country's
    latest is drawn and its year printed beside its name. Bars start at 0 (a percent share on 0-100), with 95 %
    CI whiskers where the rows have them; OBS_STATUS U bars are hatched; blank cells (Q, L, O) stay as rows with
    the reason written in them. More than 2 x `show` + 4 countries: the `show` highest and lowest are drawn, the
    count and median of all are stated. references: `regional` view rows (e.g. WLD and the ITU regions) drawn as
    labelled reference lines; blank ones are named in a note. unit: a readable label or a UNIT_MEASURE code;
    share: draw on 0-100 (default: when the rows are percent within 0-100); median: draw and state the median of
    the countries (default: when the rows are one period)."""
    rows = latest_per_area(rows)
    periods = [int(p) for p in sorted(rows["TIME_PERIOD"].unique())]
    mixed = len(periods) > 1
    median = (not mixed) if median is None else median
    unit = unit_label(unit)
    decimals = published_decimals(rows["OBS_VALUE"])
    share = is_share(rows, share)
    valued = rows[rows["OBS_VALUE"].notna()].sort_values(["OBS_VALUE", "area_name"], ascending=[False, True])
    blank = rows[rows["OBS_VALUE"].isna()].sort_values("area_name")
    count = len(valued)
    med = float(valued["OBS_VALUE"].median()) if count else float("nan")
    cut = count > 2 * show + 4
    drawn = pd.concat([valued.head(show), valued.tail(show), blank] if cut else [valued, blank], ignore_index=True)
    has_ci = "CI_LOWER" in drawn and bool(drawn["CI_LOWER"].notna().any())
    median = bool(median and count)

    references = references if references is not None else rows.iloc[0:0]
    ref_drawn = references[references["OBS_VALUE"].notna()]
    ref_blank = references[references["OBS_VALUE"].isna()]

    # y positions, highest first; one empty slot between the highest and the lowest when cut
    positions = [float(i + (1 if cut and i >= show else 0)) for i in range(len(drawn))]
    n_slots = len(drawn) + (1 if cut else 0)

    parts = [subtitle] if subtitle else []
    parts.append(period_words(periods))
    parts.append(f"{count} countries with a value")
    if median:
        parts.append(f"median {with_unit(med, decimals, unit)}")
    if cut:
        parts.append(f"the {show} highest and {show} lowest shown")
    sub = " · ".join(parts)
    notes = list(notes or [])
    if len(blank):
        notes.append("A row without a bar is a cell without a published value; the reason is written in the row.")
    if len(ref_blank):
        notes.append(omitted_note(ref_blank))
    synthetic = any_synthetic(drawn, ref_drawn)

    legend = [LegendItem("value", "bar", BAR)]
    if (drawn["OBS_STATUS"] == "U").any():
        legend.append(LegendItem("low reliability (U): use with caution", "hatched", BAR))
    if has_ci:
        legend.append(LegendItem("95 % confidence interval", "whisker", INK))
    if median:
        legend.append(LegendItem(f"median of the {count} countries", "line", MEDIAN, linestyle=":"))
    if (ref_drawn["REF_AREA"] == "WLD").any():
        legend.append(LegendItem("World", "line", WORLD, linestyle="--"))
    if (ref_drawn["REF_AREA"] != "WLD").any():
        legend.append(LegendItem("regions", "line", REGION, linestyle="--"))

    bounds = [*drawn["OBS_VALUE"].dropna(), *ref_drawn["OBS_VALUE"]]
    if has_ci:
        bounds += [*drawn["CI_LOWER"].dropna(), *drawn["CI_UPPER"].dropna()]
    limits = value_limits(min(bounds, default=0.0), max(bounds, default=1.0), share)
    names = [str(n) for n in drawn["area_name"]]
    data = ChartData("ranked", drawn.assign(y=positions), ref_drawn, ref_blank, sub, notes, source, synthetic,
                     [i.label for i in legend], {"year": None if mixed else (periods[0] if periods else None),
                                                 "periods": periods, "count": count, "median": med, "cut": cut})

    if ax is not None:   # into the caller's axes: no page, references labelled in the axes' legend
        style_value_axis(ax, "x", unit, limits)
        _draw_bars(ax, drawn, positions, has_ci, limits)
        if median:
            ax.axvline(med, color=MEDIAN, linestyle=":", linewidth=1.1, label=f"median {format_value(med, decimals)}")
        for r in ref_drawn.itertuples():
            ax.axvline(r.OBS_VALUE, color=WORLD if r.REF_AREA == "WLD" else REGION, linestyle="--", linewidth=1,
                       label=plain(f"{r.area_name} {format_value(r.OBS_VALUE, decimals)}"))
        ax.set_yticks(positions, [plain(n) for n in names])
        category_axis(ax, n_slots)
        if median or len(ref_drawn):
            ax.legend(fontsize=SIZE_NOTE, frameon=False)
        return finish_in_axes(ax, title, sub, synthetic, data)

    columns = RowColumns.measure(names, [str(int(p)) for p in drawn["TIME_PERIOD"]] if mixed else [],
                                 [_value_text(r, decimals, has_ci) for r in drawn.itertuples()],
                                 "value (95 % CI)" if has_ci else "value")
    left, right = columns.left, columns.right
    plot_w = WIDTH_IN - left - right

    def x_in(v: float) -> float:
        return left + (v - limits[0]) / (limits[1] - limits[0]) * plot_w

    # the median and the reference values: lines through the plot, labels above it placed so none overlaps
    marks = ([(med, f"median {format_value(med, decimals)}", MEDIAN)] if median else [])
    marks += [(float(r.OBS_VALUE), f"{r.area_name} {format_value(r.OBS_VALUE, decimals)}"
               + (f" ({int(r.TIME_PERIOD)})" if mixed else ""), WORLD if r.REF_AREA == "WLD" else REGION)
              for r in ref_drawn.itertuples()]
    placed, label_rows = place_labels([(x_in(v), text_width_in(t, SIZE_NOTE)) for v, t, _ in marks], left,
                                      WIDTH_IN - right)
    with chart_style():
        frame = compose(title=title, subtitle=sub, legend=legend, label_rows=label_rows,
                        plot_h=n_slots * ROW_IN + 0.1, left=left, right=right, x_axis_h=0.42, notes=notes,
                        source=source, release_id=release_id, synthetic=synthetic)
        ax, page = frame.ax, frame.page
        style_value_axis(ax, "x", unit, limits)
        _draw_bars(ax, drawn, positions, has_ci, limits)
        category_axis(ax, n_slots)
        columns.draw(frame, positions)
        if cut:
            add_text(ax, 0.5, show, f"… {count - 2 * show} countries between …", size=SIZE_NOTE, italic=True,
                     transform=ax.get_yaxis_transform(), ha="center", va="center", color=MUTED,
                     background="white", pad=1, zorder=5)
        for (value, text, colour), (row, x_left) in zip(marks, placed):
            style = ":" if colour == MEDIAN else "--"
            ax.axvline(value, color=colour, linestyle=style, linewidth=0.9 if colour == REGION else 1.2, zorder=3)
            y_text = frame.labels_top + row * LABEL_ROW_IN
            page.text(x_left, y_text, text, SIZE_NOTE, color=MEDIAN_TEXT if colour == MEDIAN else colour,
                      background="white", pad=0.5, zorder=4)
            # a leader from under the label to the line's top, so each label points at its line
            page.line([x_left + text_width_in(text, SIZE_NOTE) / 2, x_in(value)],
                      [y_text + line_height_in(SIZE_NOTE) - 0.01, frame.plot_top], color=colour, linewidth=0.6,
                      linestyle=style, zorder=2)
    page.fig.chart_data = data
    return page.fig


def _value_text(r, decimals: int, has_ci: bool) -> str:
    if pd.isna(r.OBS_VALUE):
        return "–"
    text = format_value(r.OBS_VALUE, decimals)
    if has_ci and not pd.isna(r.CI_LOWER):
        text += f" ({format_value(r.CI_LOWER, decimals)}–{format_value(r.CI_UPPER, decimals)})"
    return text


def _draw_bars(ax, drawn: pd.DataFrame, positions: list[float], has_ci: bool, limits) -> None:
    y = np.asarray(positions, dtype=float)
    values = drawn["OBS_VALUE"].to_numpy(dtype=float)
    ok = ~np.isnan(values)
    low = ok & (drawn["OBS_STATUS"] == "U").to_numpy()
    ax.barh(y[ok & ~low], values[ok & ~low], height=0.68, color=BAR, linewidth=0)
    if low.any():
        ax.barh(y[low], values[low], height=0.68, facecolor="white", edgecolor=BAR, hatch="/////", linewidth=0.8)
    if has_ci:
        lo, hi = drawn["CI_LOWER"].to_numpy(dtype=float), drawn["CI_UPPER"].to_numpy(dtype=float)
        w = ok & ~np.isnan(lo)
        ax.errorbar(values[w], y[w], xerr=[values[w] - lo[w], hi[w] - values[w]], fmt="none", ecolor=INK,
                    elinewidth=0.9, capsize=2.2, capthick=0.9, zorder=4)
    x_text = max(limits[0], 0.0) + 0.01 * (limits[1] - limits[0])
    room = (ax.get_position().width * ax.figure.get_figwidth()) * (limits[1] - x_text) / (limits[1] - limits[0])
    for pos, r in zip(y[~ok], drawn[~ok].itertuples()):
        reason = fit(blank_reason(r.OBS_STATUS, r.CONF_STATUS, r.COMMENT_OBS), SIZE_NOTE, room - 0.05)
        add_text(ax, x_text, pos, reason, size=SIZE_NOTE, transform=ax.transData, va="center", color=MUTED,
                 italic=True, zorder=5, background="white", pad=1)

