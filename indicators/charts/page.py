"""The page of a chart, laid out in inches: title (with the SYNTHETIC DATA label), subtitle, legend, reference
labels, the plot, the row labels beside it, and under it the notes, the source and the release.

Layout is computed, not left to tight_layout: each block is stacked from measured text widths (text.py), so long
names and many bars never overlap and the figure grows with its rows. Reference labels above the plot are packed
into as few rows as fit without overlapping. `finish_in_axes` is the small equivalent when a chart is drawn into the
caller's axes (a notebook) instead of its own page.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.transforms import ScaledTranslation

from indicators.charts.chart_data import ChartData
from indicators.charts.style import (DPI, INK, LABEL_ROW_IN, MARGIN_IN, MAX_NAME_IN, MUTED, SIZE_LEGEND, SIZE_NOTE,
                                     SIZE_SUBTITLE, SIZE_TICK, SIZE_TITLE, SYNTHETIC_LABEL, SYNTHETIC_NOTE,
                                     SYNTHETIC_RED, WIDTH_IN)
from indicators.charts.text import add_text, fit, line_height_in, plain, text_width_in, wrap


@dataclass
class LegendItem:
    """One entry of a legend: its words and the symbol drawn before them."""

    label: str
    kind: str          # bar, hatched, whisker, line, waves, marker
    color: str = INK
    linestyle: str = "-"
    marker: str = "o"
    filled: bool = True


def _legend_rows(items: list[LegendItem], width_in: float) -> list[list[tuple[LegendItem, float]]]:
    """Legend items left to right, wrapped to rows: [[(item, x offset in inches)]]."""
    rows: list[list[tuple[LegendItem, float]]] = []
    x = width_in
    for item in items:
        w = 0.32 + text_width_in(item.label, SIZE_LEGEND) + 0.25
        if not rows or x + w > width_in:
            rows.append([])
            x = 0.0
        rows[-1].append((item, x))
        x += w
    return rows


class Page:
    """A figure addressed in inches from its top-left corner."""

    def __init__(self, fig: Figure, width_in: float, height_in: float):
        self.fig, self.w, self.h = fig, width_in, height_in

    def fx(self, x_in: float) -> float:
        return x_in / self.w

    def fy(self, y_from_top_in: float) -> float:
        return 1 - y_from_top_in / self.h

    def text(self, x_in, y_in, s, size, color=INK, bold=False, ha="left", va="top", **kw):
        return add_text(self.fig, self.fx(x_in), self.fy(y_in), s, size=size, color=color, bold=bold, ha=ha,
                        va=va, transform=self.fig.transFigure, **kw)

    def line(self, xs_in, ys_in, **kw):
        self.fig.add_artist(Line2D([self.fx(x) for x in xs_in], [self.fy(y) for y in ys_in],
                                   transform=self.fig.transFigure, **kw))

    def handle(self, item: LegendItem, x_in: float, yc_in: float) -> None:
        """The symbol of a legend item, 0.24 in wide, centred vertically on yc_in."""
        half = 0.055
        if item.kind in ("bar", "hatched"):
            self.fig.add_artist(Rectangle((self.fx(x_in), self.fy(yc_in + half)), 0.24 / self.w, 2 * half / self.h,
                                          transform=self.fig.transFigure, linewidth=0.8, edgecolor=item.color,
                                          facecolor=item.color if item.kind == "bar" else "white",
                                          hatch="/////" if item.kind == "hatched" else None))
        elif item.kind == "whisker":
            self.line([x_in, x_in + 0.24], [yc_in, yc_in], color=item.color, linewidth=1)
            for xe in (x_in, x_in + 0.24):
                self.line([xe, xe], [yc_in - half, yc_in + half], color=item.color, linewidth=1)
        elif item.kind == "line":
            self.line([x_in, x_in + 0.24], [yc_in, yc_in], color=item.color, linestyle=item.linestyle,
                      linewidth=1.6)
        elif item.kind == "waves":   # survey waves: markers linked by a thin dashed line
            self.line([x_in, x_in + 0.24], [yc_in, yc_in], color=item.color, linestyle="--", linewidth=0.9)
            self.line([x_in + 0.12], [yc_in], color=item.color, marker="o", markersize=4, linestyle="none")
        else:
            self.line([x_in + 0.12], [yc_in], color=item.color, marker=item.marker, markersize=6,
                      markerfacecolor=item.color if item.filled else "white", markeredgewidth=1.2,
                      linestyle="none")


@dataclass
class Frame:
    """A composed page and where its parts are: the plot's axes, and in inches from the top of the page the
    reference-label rows and the plot."""

    page: Page
    ax: object
    labels_top: float    # inches from the top of the first reference-label row (just above the plot)
    plot_top: float      # inches from the top of the plot


def compose(*, title: str, subtitle: str, legend: list[LegendItem], label_rows: int, plot_h: float,
            left: float, right: float, x_axis_h: float, notes: list[str], source: str, release_id: str,
            synthetic: bool) -> Frame:
    """A page: title (and the SYNTHETIC DATA label), subtitle, legend and `label_rows` rows of reference labels
    from the top; the plot (`left`/`right` inches from the page edges, `plot_h` high); under it the x axis
    (`x_axis_h`), the notes, the source and the release. The height is what these need."""
    text_w = WIDTH_IN - 2 * MARGIN_IN
    badge_w = text_width_in(SYNTHETIC_LABEL, SIZE_SUBTITLE, True) + 0.3 if synthetic else 0
    title_lines = wrap(title, SIZE_TITLE, text_w - badge_w, bold=True)
    sub_lines = wrap(subtitle, SIZE_SUBTITLE, text_w) if subtitle else []
    legend_rows = _legend_rows(legend, text_w)
    footer = [line for note in ([SYNTHETIC_NOTE] if synthetic else []) + notes
              + [f"{source} cop-indicators release {release_id}."] for line in wrap(note, SIZE_NOTE, text_w)]
    legend_row_h = line_height_in(SIZE_LEGEND) + 0.07
    head = (0.14 + len(title_lines) * line_height_in(SIZE_TITLE) + 0.05
            + len(sub_lines) * line_height_in(SIZE_SUBTITLE) + 0.1 + len(legend_rows) * legend_row_h + 0.04)
    labels_h = label_rows * LABEL_ROW_IN + (0.12 if label_rows else 0.08)
    foot = x_axis_h + 0.12 + len(footer) * line_height_in(SIZE_NOTE) + 0.1
    height = head + labels_h + plot_h + foot
    fig = plt.figure(figsize=(WIDTH_IN, height), dpi=DPI)
    page = Page(fig, WIDTH_IN, height)
    y = 0.14
    if synthetic:
        page.text(WIDTH_IN - MARGIN_IN, y - 0.04, SYNTHETIC_LABEL, SIZE_SUBTITLE, color="white", bold=True,
                  ha="right", background=SYNTHETIC_RED, pad=3)
    for line in title_lines:
        page.text(MARGIN_IN, y, line, SIZE_TITLE, bold=True)
        y += line_height_in(SIZE_TITLE)
    y += 0.05
    for line in sub_lines:
        page.text(MARGIN_IN, y, line, SIZE_SUBTITLE, color=MUTED)
        y += line_height_in(SIZE_SUBTITLE)
    y += 0.1
    for row in legend_rows:
        for item, x in row:
            page.handle(item, MARGIN_IN + x, y + legend_row_h / 2)
            page.text(MARGIN_IN + x + 0.32, y + legend_row_h / 2, item.label, SIZE_LEGEND, va="center")
        y += legend_row_h
    y += 0.04
    plot_top = head + labels_h
    ax = fig.add_axes((left / WIDTH_IN, foot / height, (WIDTH_IN - left - right) / WIDTH_IN, plot_h / height))
    y = plot_top + plot_h + x_axis_h + 0.12
    for i, line in enumerate(footer):
        red = synthetic and i == 0
        page.text(MARGIN_IN, y, line, SIZE_NOTE, color=SYNTHETIC_RED if red else MUTED)
        y += line_height_in(SIZE_NOTE)
    return Frame(page, ax, head, plot_top)


def _pack_row(items: list[tuple[float, float]], lo: float, hi: float, pad: float) -> list[float] | None:
    """Left edges for labels (centre, width) sorted by centre, each as near its centre as the others allow, none
    overlapping and all within [lo, hi]; None when they do not fit in one row."""
    if sum(w for _, w in items) + pad * (len(items) - 1) > hi - lo:
        return None
    lefts: list[float] = []
    for i, (centre, width) in enumerate(items):       # push right past the previous label
        floor = lefts[-1] + items[i - 1][1] + pad if lefts else lo
        lefts.append(max(centre - width / 2, floor))
    limit = hi
    for i in reversed(range(len(items))):               # then back left where the row runs past its end
        lefts[i] = min(lefts[i], limit - items[i][1])
        limit = lefts[i] - pad
    return lefts


def place_labels(positions: list[tuple[float, float]], lo: float, hi: float, pad: float = 0.12):
    """Labels (centre x, width) in inches in as few rows as fit: sorted by x, dealt to the rows in turn, each row
    packed so that no two labels overlap. Returns [(row, x left)] in the input order and the number of rows."""
    order = sorted(range(len(positions)), key=lambda k: (positions[k][0], k))
    for n_rows in range(1, len(positions) + 1):
        placed: dict[int, tuple[int, float]] = {}
        for row in range(n_rows):
            members = order[row::n_rows]
            lefts = _pack_row([positions[k] for k in members], lo, hi, pad)
            if lefts is None:
                break
            placed.update({k: (row, left) for k, left in zip(members, lefts)})
        else:
            return [placed[k] for k in range(len(positions))], n_rows
    return [], 0


@dataclass
class RowColumns:
    """The text columns of a chart with one row per country, measured before its page is composed: the names
    (cut with '…' beyond MAX_NAME_IN) left of the plot, each row's year between them and the plot when the rows
    mix periods, and the values ending at the right page margin under their header. `left` and `right` are the
    plot's margins in inches that the columns leave."""

    names: list[str]
    years: list[str]
    values: list[str]
    header: str
    year_w: float
    left: float
    right: float

    @classmethod
    def measure(cls, names: list[str], years: list[str], values: list[str], header: str) -> RowColumns:
        year_w = (max(text_width_in(y, SIZE_TICK) for y in years) + 0.1) if years else 0.0
        names = [fit(n, SIZE_TICK, MAX_NAME_IN) for n in names]
        left = MARGIN_IN + max((text_width_in(n, SIZE_TICK) for n in names), default=0.5) + year_w + 0.1
        right = (MARGIN_IN + max([text_width_in(t, SIZE_TICK) for t in values] + [text_width_in(header, SIZE_NOTE)])
                 + 0.15)
        return cls(names, years, values, header, year_w, left, right)

    def draw(self, frame: Frame, positions) -> None:
        """The columns beside the rows at `positions` (data y) of the frame's plot."""
        # plain texts, not tick labels: matplotlib's Tick objects (two lines and two texts each) cost more to build
        # and lay out than the names themselves
        ax = frame.ax
        ax.set_yticks([])
        fig, rows = frame.page.fig, ax.get_yaxis_transform()
        at_names = rows + ScaledTranslation(-(0.04 + self.year_w), 0, fig.dpi_scale_trans)
        at_years = rows + ScaledTranslation(-0.04, 0, fig.dpi_scale_trans)
        at_values = rows + ScaledTranslation(WIDTH_IN - MARGIN_IN - (WIDTH_IN - self.right), 0, fig.dpi_scale_trans)
        for y, name in zip(positions, self.names):
            add_text(fig, 0, y, name, size=SIZE_TICK, transform=at_names, ha="right", va="center")
        for y, year in zip(positions, self.years):
            add_text(fig, 0, y, year, size=SIZE_TICK, transform=at_years, ha="right", va="center", color=MUTED)
        for y, text in zip(positions, self.values):
            add_text(fig, 1, y, text, size=SIZE_TICK, transform=at_values, ha="right", va="center")
        frame.page.text(WIDTH_IN - MARGIN_IN, frame.plot_top - 0.03, self.header, SIZE_NOTE, color=MUTED, ha="right",
                        va="bottom")


def finish_in_axes(ax, title: str, subtitle: str, synthetic: bool, data: ChartData) -> Figure:
    """A chart drawn into the caller's axes (no page of its own): title, subtitle and SYNTHETIC DATA label above
    them, what it drew attached to the figure; returns the figure."""
    ax.set_title(plain(f"{title}\n{subtitle}"), fontsize=SIZE_SUBTITLE, loc="left")
    if synthetic:
        ax.text(1, 1.01, SYNTHETIC_LABEL, transform=ax.transAxes, ha="right", va="bottom", color="white",
                fontsize=SIZE_NOTE, fontweight="bold", bbox=dict(facecolor=SYNTHETIC_RED, edgecolor="none"))
    ax.figure.chart_data = data
    return ax.figure
