"""Text on a chart: measured in inches before anything is drawn, and drawn fast.

Layouts are computed, not left to tight_layout, so every label is measured first: `text_width_in` sums cached
per-character advances (Agg measures a whole string in about a millisecond, and a layout measures thousands),
`wrap` and `fit` break or cut a line to a width.

Matplotlib (3.11) lays out and renders text glyph by glyph in Python: about 0.1 ms per glyph, which made text
four fifths of a chart's drawing time (a release draws about 90 charts of about 1,000 glyphs each). `FastText` is
a matplotlib Text whose Agg drawing renders the whole line with Pillow's FreeType binding in the same font files,
cached per string and style, and places it exactly as matplotlib aligns a one-line text (ha, va from matplotlib's
own line metrics). Other renderers (PDF, SVG) draw it as a normal Text. `add_text` puts one on a figure or axes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.colors import to_rgba
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image, ImageDraw, ImageFont

from indicators.charts.style import FONT, INK, chart_style


def _agg_extent(text: str, size: float, bold: bool, dpi: float) -> tuple[float, float, float]:
    """Width, height and descent in pixels of a text as Agg lays it out in the chart style (the hinting setting
    changes them, so they are measured in chart_style(), never in whatever style the process has)."""
    with chart_style():
        return RendererAgg(10, 10, dpi).get_text_width_height_descent(
            text, FontProperties(family=FONT, size=size, weight="bold" if bold else "normal"), ismath=False)


@lru_cache(maxsize=64)
def _xx_in(size: float, bold: bool) -> float:
    return _agg_extent("xx", size, bold, 72)[0] / 72   # at 72 dpi a width in pixels is a width in points


@lru_cache(maxsize=4096)
def _char_in(char: str, size: float, bold: bool) -> float:
    """Advance width of one character in inches, measured once (between two x, so that side bearings count)."""
    return _agg_extent(f"x{char}x", size, bold, 72)[0] / 72 - _xx_in(size, bold)


def text_width_in(text: str, size: float, bold: bool = False) -> float:
    """Width of a line of text in inches: its characters' advances plus 3 % (kerning only tightens a little, so
    this errs on the wide side). Agg measures a string in about a millisecond; layouts measure thousands."""
    return 1.03 * sum(_char_in(c, size, bold) for c in text)


def line_height_in(size: float) -> float:
    return size * 1.32 / 72


def wrap(text: str, size: float, width_in: float, bold: bool = False) -> list[str]:
    """Greedy word wrap on measured widths (a single word longer than the line stays whole)."""
    space = text_width_in(" ", size, bold)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current: list[str] = []
        width = 0.0
        for word in paragraph.split(" "):
            w = text_width_in(word, size, bold)
            if current and width + space + w > width_in:
                lines.append(" ".join(current))
                current, width = [word], w
            else:
                width += (space if current else 0.0) + w
                current.append(word)
        lines.append(" ".join(current))
    return lines


def fit(text: str, size: float, width_in: float) -> str:
    """The text, cut at a word with '…' when it is wider than width_in (a blank cell's reason in a narrow plot;
    the whole reason is in COMMENT_OBS)."""
    if text_width_in(text, size) <= width_in:
        return text
    words = text.split(" ")
    while len(words) > 1 and text_width_in(" ".join(words) + " …", size) > width_in:
        words.pop()
    return " ".join(words).rstrip(";,") + " …"


def plain(text: str) -> str:
    """Text for matplotlib without mathtext: a '$' pair would otherwise be typeset as math."""
    return str(text).replace("$", r"\$")


FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_FONT_FILES = {(False, False): "DejaVuSans.ttf", (True, False): "DejaVuSans-Bold.ttf",
               (False, True): "DejaVuSans-Oblique.ttf", (True, True): "DejaVuSans-BoldOblique.ttf"}


@lru_cache(maxsize=64)
def _pil_font(size_px: float, bold: bool, italic: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / _FONT_FILES[bold, italic]), size_px,
                              layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=64)
def _line_box(size_pt: float, dpi: float, bold: bool) -> tuple[float, float]:
    """Height and descent in pixels of matplotlib's box of a one-line text (its 'lp' minimum)."""
    _, height, descent = _agg_extent("lp", size_pt, bold, dpi)
    return height, descent


@lru_cache(maxsize=32768)
def _bitmap(text: str, size_px: float, bold: bool, italic: bool, rgba: tuple, background: tuple | None,
            pad_px: int):
    """(image rows bottom-up as Agg takes them, x of its left edge and y of its top edge relative to the pen
    origin on the baseline, advance width) of one line of text."""
    font = _pil_font(size_px, bold, italic)
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    width, height = max(right - left, 1) + 2 * pad_px, max(bottom - top, 1) + 2 * pad_px
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).text((pad_px - left, pad_px - top), text, font=font, fill=255, anchor="ls")
    alpha = np.asarray(mask, dtype=np.float32) / 255.0
    colour = np.asarray(rgba[:3], dtype=np.float32)
    image = np.empty((height, width, 4), dtype=np.uint8)
    if background is None:
        image[..., :3] = np.round(colour * 255)
        image[..., 3] = np.round(alpha * rgba[3] * 255)
    else:   # text over an opaque box: blend the two colours by the glyph coverage
        back = np.asarray(background[:3], dtype=np.float32)
        image[..., :3] = np.round((back + (colour - back) * alpha[..., None]) * 255)
        image[..., 3] = 255
    return image[::-1].copy(), left - pad_px, -top + pad_px, font.getlength(text)


class FastText(Text):
    """A one-line text drawn by Pillow on Agg (see the module docstring); `background` (RGBA) and `pad` (points)
    give it an opaque box, as a bbox would."""

    background: tuple | None = None
    pad: float = 0.0

    def _placed(self, renderer):
        dpi = renderer.dpi if renderer is not None else self.figure.dpi
        bold = self.get_fontweight() in ("bold", 700, "heavy")
        image, dx, dy, advance = _bitmap(self.get_text(), round(self.get_fontsize() * dpi / 72, 2), bold,
                                         self.get_fontstyle() == "italic", to_rgba(self.get_color()),
                                         self.background, round(self.pad * dpi / 72))
        x, y = self.get_transform().transform(self.get_unitless_position())
        origin = x - advance * {"left": 0.0, "center": 0.5, "right": 1.0}[self.get_horizontalalignment()]
        height, descent = _line_box(self.get_fontsize(), dpi, bold)
        baseline = {"top": y - (height - descent), "center": y - height / 2 + descent, "bottom": y + descent,
                    "baseline": y, "center_baseline": y}[self.get_verticalalignment()]
        x0, top = round(origin + dx), round(baseline + dy)
        return image, x0, top - image.shape[0]

    def _fast(self, renderer) -> bool:
        return type(renderer) is RendererAgg and "\n" not in self.get_text() and not self.get_rotation()

    def draw(self, renderer) -> None:
        if not self.get_visible() or not self.get_text():
            return
        if not self._fast(renderer):
            return super().draw(renderer)
        image, x0, y0 = self._placed(renderer)
        gc = renderer.new_gc()
        renderer.draw_image(gc, x0, y0, image)
        gc.restore()
        self.stale = False

    def get_window_extent(self, renderer=None, dpi=None):
        renderer = renderer or (self.figure.canvas.get_renderer() if self.figure else None)
        if renderer is None or not self.get_text() or not self._fast(renderer):
            return super().get_window_extent(renderer, dpi)
        image, x0, y0 = self._placed(renderer)
        return Bbox.from_bounds(x0, y0, image.shape[1], image.shape[0])


def add_text(parent, x, y, s, *, size: float, transform, color=INK, bold=False, italic=False, ha="left", va="top",
          background: str | None = None, pad: float = 0.0, zorder: float = 3) -> FastText:
    """Add one line of text to a figure or axes (`parent`) at (x, y) in `transform`, never clipped."""
    text = FastText(x, y, str(s), fontsize=size, color=color, fontweight="bold" if bold else "normal",
                     fontstyle="italic" if italic else "normal", ha=ha, va=va, transform=transform, clip_on=False,
                     zorder=zorder, parse_math=False)
    text.background, text.pad = (to_rgba(background) if background else None), pad
    if background:   # what another renderer (PDF, SVG) draws; Agg draws `background` itself
        text.set_bbox(dict(boxstyle=f"square,pad={pad / size:.3f}", facecolor=background, edgecolor="none"))
    parent.add_artist(text)
    return text
