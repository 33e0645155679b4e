"""The look every chart shares: page width and resolution, font and sizes, colours, the SYNTHETIC DATA label, and
the matplotlib settings a chart is drawn in.

Everything is drawn inside `chart_style()`, which starts from matplotlib's defaults, so that a chart and its PNG
bytes depend on its rows only, never on the style a notebook or another module set before.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib

DPI = 100
WIDTH_IN = 8.5
FONT = "DejaVu Sans"          # ships with matplotlib: the same glyphs (and PNG bytes) on every machine
SIZE_TITLE, SIZE_SUBTITLE, SIZE_TICK, SIZE_LEGEND, SIZE_NOTE = 11.5, 8.5, 8, 7.5, 7
INK, MUTED, FAINT, GRID = "#1a1a1a", "#555555", "#8c8c8c", "#e3e3e3"
BAR = "#0072B2"               # Okabe-Ito colours throughout (safe for colour-blind readers)
GIRLS, BOYS = "#D55E00", "#0072B2"
WORLD, REGION, MEDIAN, MEDIAN_TEXT = "#000000", "#7a7a7a", "#E69F00", "#9a6700"
SYNTHETIC_RED = "#b00020"
# the lines of a trend chart other than the World's (black is the World's alone): twelve, so that the twelve
# survey countries of a release never share a colour
AREA_COLOURS = ["#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#7f7f7f", "#8c564b", "#17becf",
                "#332288", "#882255", "#999933"]
MARGIN_IN = 0.25              # left and right page margin
ROW_IN = 0.24                 # one country of a ranked chart
GAP_ROW_IN = 0.34             # one country of a sex-gap chart (two markers)
MAX_NAME_IN = 3.4             # a longer area name is cut with '…' (the longest UN name, 52 characters, fits)
LABEL_ROW_IN = SIZE_NOTE * 1.32 / 72 + 0.05
RC = {"font.family": FONT, "font.size": SIZE_TICK, "axes.edgecolor": FAINT, "axes.linewidth": 0.8,
      "xtick.color": MUTED, "ytick.color": INK, "xtick.labelsize": SIZE_TICK, "ytick.labelsize": SIZE_TICK,
      "hatch.linewidth": 0.8, "path.simplify": True,
      # unhinted glyphs: FreeType's autohinter doubles the time per glyph, and glyphs are most of a chart's
      # drawing time (at 100 dpi the difference in sharpness is slight)
      "text.hinting": "none"}

SYNTHETIC_LABEL = "SYNTHETIC DATA"
SYNTHETIC_NOTE = "Synthetic data (generated inputs): not official statistics."


_inside = 0   # how many chart_style blocks enclose the running code


@contextmanager
def chart_style():
    """Matplotlib's default style plus RC, whatever the process set before (a notebook's style, another
    module's rcParams): a chart, and its PNG bytes, depend on its rows only.

    Inside another chart_style block the style is already set (no chart changes rcParams), so a nested block
    does nothing: a chart enters it about six times (drawing, measuring text, saving), and each full reset
    copies and validates matplotlib's 300-odd settings twice."""
    global _inside
    if _inside:
        yield
        return
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(RC)
        _inside += 1
        try:
            yield
        finally:
            _inside -= 1
