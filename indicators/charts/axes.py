"""The axes of a chart: the value axis (its limits from 0, a percent share on 0-100, short tick numbers, the unit
as its label) and the category axis of a ranked or sex-gap chart (one row per country, first at the top).

Bars start at 0, so the value axis always includes 0; a percent share is drawn on 0-100 so that two charts of
shares compare by eye, and anything else (a count, a rate, a growth rate) is fitted so it is never clipped.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator

from indicators.charts.style import FAINT, GRID, MUTED, SIZE_TICK


def value_limits(lo: float, hi: float, share: bool) -> tuple[float, float]:
    """Value-axis limits from 0 (bars start at 0): 0-100 for a share in percent; else the data's range widened to
    include 0, plus 4 % headroom."""
    if share:
        return 0.0, 100.0
    span = (max(0.0, hi) - min(0.0, lo)) or 1.0
    lower = min(0.0, lo) - (0.04 * span if lo < 0 else 0.0)
    upper = max(0.0, hi) + (0.04 * span if hi > 0 else 0.0)
    # every value 0 (a count of 0 in a small survey): an axis of 0-1 rather than one without width
    return lower, upper if upper > lower else lower + span


def tick_text(value: float, top: float) -> str:
    """Axis numbers short enough not to collide: 2.5M and 250k on an axis running into millions or tens of
    thousands, 1,500 with a separator, else as short as exact."""
    if value == 0:
        return "0"
    if top >= 1e6:
        return f"{value / 1e6:g}M"
    if top >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def style_value_axis(ax, axis: str, unit: str, limits: tuple[float, float]) -> None:
    top = max(abs(limits[0]), abs(limits[1]))
    label = unit + (" (M = million)" if top >= 1e6 else " (k = thousand)" if top >= 1e4 else "")
    (ax.set_xlim if axis == "x" else ax.set_ylim)(*limits)
    (ax.set_xlabel if axis == "x" else ax.set_ylabel)(label, fontsize=SIZE_TICK, color=MUTED)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(nbins=6 if axis == "x" else 7, steps=[1, 2, 2.5, 5, 10]))
    target.set_major_formatter(FuncFormatter(lambda v, _: tick_text(v, top)))
    ax.grid(axis=axis, color=GRID, linewidth=0.7)
    ax.set_axisbelow(True)
    if limits[0] < 0:
        (ax.axvline if axis == "x" else ax.axhline)(0, color=FAINT, linewidth=0.8)


def category_axis(ax, n_slots: float) -> None:
    """One row per category, the first at the top; no y axis line or ticks (the names label the rows)."""
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(n_slots - 0.45, -0.55)


def is_share(rows: pd.DataFrame, share: bool | None) -> bool:
    """Whether the value axis runs 0-100: a percent share, i.e. UNIT_MEASURE percent and every value and bound
    within [0, 100]. share=False (e.g. a growth rate in percent, or to fit small percentages) says no; True or
    None leave it to the rows, so that a count or a rate can never be clipped to 0-100."""
    if share is False:
        return False
    values = pd.concat([rows[c] for c in ("OBS_VALUE", "CI_LOWER", "CI_UPPER") if c in rows]).dropna()
    return bool(len(rows) and (rows["UNIT_MEASURE"] == "percent").all() and values.between(0, 100).all())

