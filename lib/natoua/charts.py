"""House chart style and the figure helper.

    fig, ax = charts.new()
    ax.plot(...)
    charts.show(fig, title="Poland's spending doubled", caption="...", source=df, alt="...")

`show` draws the figure once, as an SVG, makes the PNG from that SVG (natoua.raster: Typst rasterises it, no
second matplotlib draw) and displays one notebook output with

- `text/html`: a <figure> with the title (which states the finding), the PNG embedded as a data URL with
  the alt text, a caption numbered at export ("Figure 7.1") and a "Source:" line linking to the Sources
  appendix;
- `image/png`: the same PNG (the raster fallback for any renderer; opaque, on white, DPI pixels per inch of
  the print size);
- `application/vnd.natoua.figure+json` (`mimes.FIGURE`), everything a renderer needs without reading the
  HTML:

  | key | what |
  |---|---|
  | `svg` | the figure as SVG text (vector; text drawn as outlines in the project's Noto Sans) |
  | `width_cm`, `height_cm` | its print size: `width_cm` is `PRINT_WIDTH_CM`; set it at this width (or wider) |
  | `title` | the figure's title (plain text; states the finding; a number in it is a claim, `claim.ref`) |
  | `caption` | the caption (plain text, without the "Figure N.M" label) |
  | `alt` | alt text (plain text) |
  | `sources` | the source ids cited, in order (`[]` when `source` was given as text) |
  | `source` | the "Source: ..." line as plain text |
  | `source_html` | the same line as HTML, each citation a link to `#src-<source_id>` |
  | `min_font_pt` | the smallest text in the figure at print size (at least `MIN_FONT_PT`) |
  | `min_width_px` | only for `dense=True` figures: the narrowest width (CSS px) the HTML shows it at |

  There is no number in the payload: the exporter numbers figures per section in output order
  ("Figure 7.2"), as it does in the HTML.

Print size: every figure is laid out at `PRINT_WIDTH_CM` (the narrowest A4 text column the report is set in),
so its font sizes are the sizes on paper, and `show` refuses a figure with text smaller than `MIN_FONT_PT`
there. Set in a wider column, the text only grows.

Text: all text is set in the project's Noto Sans (the files in templates/natoua/fonts, registered with
matplotlib's font manager; a system font of the same name is never used, DejaVu never), with Noto Sans Math
for the few symbols Noto Sans lacks (the minus sign). All text is literal: a `$` in a dataset's country name
is a dollar sign, never TeX maths (`text.parse_math` is off; the house style uses no mathtext).

Output is deterministic: the same figure gives the same PNG and SVG bytes on any machine, run and
PYTHONHASHSEED (no dates or software tags, fixed hash salt for the SVG's ids, fonts from the project, the
matplotlib and typst versions pinned in pyproject.toml).
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # rendered to PNG ourselves; no GUI, no inline duplicate
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from . import links, mimes, paths, raster  # noqa: E402
from .labview import caption_label, in_lab  # noqa: E402

MIME = mimes.FIGURE

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
BLUE, ORANGE, GREEN, VERMILION, SKY, PURPLE, YELLOW, BLACK = PALETTE
GREY = "#767676"  # 4.5:1 on white (WCAG AA): it is also the colour of notes and reference labels
LIGHT_GREY = "#D9D9D9"
INK = "#1A1A1A"
DPI = 150

# The report's text column is 16-17.4 cm wide on A4 (the HTML's print stylesheet: 174 mm; the Typst page may
# be narrower). Figures are laid out at the narrowest, so their font sizes hold on paper at any of them.
PRINT_WIDTH_CM = 16.0
PRINT_WIDTH = PRINT_WIDTH_CM / 2.54  # inches, matplotlib's unit
PAD = 0.06  # inches of white around the tight bounding box, inside PRINT_WIDTH
MIN_FONT_PT = 7.0  # smallest legible text on paper
SMALL = 7.0  # house size for direct labels, annotations and dense tick labels
READABLE_PX = 10  # a dense figure's smallest text on screen, in CSS px, at the width the HTML keeps it

FONTS = paths.TEMPLATES / "natoua" / "fonts"
FONT_FILES = ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf", "NotoSans-Italic.ttf", "NotoSansMath-Regular.ttf")
FAMILIES = ["Noto Sans", "Noto Sans Math"]  # Noto Sans Math only for glyphs Noto Sans lacks (U+2212 minus)


def register_fonts() -> None:
    """Make the project's font files the only ones matplotlib knows under the Noto names.

    `addfont` appends to the font list and `findfont` keeps the first best match, so a system copy of Noto
    (another version, other glyphs, other metrics) would win; it is dropped from the list instead."""
    manager = font_manager.fontManager
    ours = [FONTS / name for name in FONT_FILES]
    for path in ours:
        manager.addfont(str(path))
    own = {str(p.resolve()) for p in ours}
    manager.ttflist = [f for f in manager.ttflist
                       if f.name not in FAMILIES or str(Path(f.fname).resolve()) in own]
    manager._findfont_cached.cache_clear()
    _memoise_font_lookup(manager)


def _memoise_font_lookup(manager) -> None:
    """Remember which font files a text's properties resolve to.

    matplotlib resolves them again for every text it measures or draws, through the list of families
    (Noto Sans, then Noto Sans Math), each step building a key from five rcParams lists: about a tenth of a
    figure's CPU. The answer depends only on the properties, the font list (fixed above) and, for a generic
    family ('sans-serif'), those lists, so it is kept under their values. Same files, same bytes."""
    find = getattr(manager._find_fonts_by_props, "__wrapped__", manager._find_fonts_by_props)
    memo: dict = {}
    generic = ("font.serif", "font.sans-serif", "font.cursive", "font.fantasy", "font.monospace")

    def lookup(prop, fontext="ttf", directory=None, fallback_to_default=True, rebuild_if_missing=True):
        families = tuple(prop.get_family())
        lists = (tuple(tuple(plt.rcParams[name]) for name in generic)  # only a generic family reads them
                 if any(f.lower() in font_manager.font_family_aliases for f in families) else None)
        key = (families, prop.get_slant(), prop.get_variant(), prop.get_weight(), prop.get_stretch(),
               prop.get_size(), prop.get_file(), prop.get_math_fontfamily(), fontext, directory,
               fallback_to_default, rebuild_if_missing, lists)
        if key not in memo:
            memo[key] = find(prop, fontext, directory, fallback_to_default, rebuild_if_missing)
        return list(memo[key])

    lookup.__wrapped__ = find
    manager._find_fonts_by_props = lookup


def apply_style() -> None:
    plt.rcParams.update({
        "font.family": FAMILIES,
        "font.size": 8.5,
        "axes.titlesize": 9.5,
        "axes.labelsize": 8.5,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "legend.title_fontsize": 8,
        "text.parse_math": False,  # data text is literal: '$' is a dollar sign (e.g. '$\x' in a name)
        "axes.formatter.use_mathtext": False,
        "axes.unicode_minus": True,  # U+2212 comes from Noto Sans Math
        "axes.edgecolor": GREY,
        "axes.labelcolor": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.axis": "y",
        "axes.axisbelow": True,
        "axes.prop_cycle": plt.cycler(color=PALETTE),
        "grid.color": LIGHT_GREY,
        "grid.linewidth": 0.6,
        "xtick.color": INK,
        "ytick.color": INK,
        "legend.frameon": False,
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "figure.facecolor": "white",
        "figure.constrained_layout.use": True,  # axes fill the print width; labels stay inside it
        # Its margin is the saved files' white border, so a figure of PRINT_WIDTH is usually fitted as drawn.
        "figure.constrained_layout.w_pad": PAD,
        "figure.constrained_layout.h_pad": PAD,
        # SVG: ids (clip paths) hashed with a fixed salt instead of random; no root id.
        "svg.hashsalt": "natoua",
        # Text as outlines, not <text> elements: the SVG then needs no font to show as printed, in a browser
        # or in the PDF engine's SVG library (which would otherwise need Noto handed to it, and would set
        # the text with its own shaping), and every viewer shows it as printed. Cost, measured: about 1.6 times
        # the bytes of <text> (a 30-bar chart 59 KB against 35 KB; the heatmap, figure 7.2, 178 KB against
        # 110 KB with imshow cells); the 22 figures of the default edition about 1.6 MB in all, in the
        # executed notebooks only (the HTML shows the PNG; the PDF engine draws the outlines as vectors).
        "svg.fonttype": "path",
        "path.simplify": True,
    })


register_fonts()
apply_style()


def new(width: float = PRINT_WIDTH, height: float = 3.4, **kwargs):
    """A figure and axes in house style (inches; the default width is the print width)."""
    fig, ax = plt.subplots(figsize=(width, height), **kwargs)
    return fig, ax


def _fit_print_width(fig):
    """Lay the figure out so that what it draws fits PRINT_WIDTH (less the white border PAD on each side): its
    text is then printed at its size. Returns the box (inches) to save: the drawn box, widened evenly to exactly
    that width where it is narrower.

    Usually one layout: at PRINT_WIDTH, constrained layout keeps everything inside the figure, and a box a
    little narrower (a colour bar, a label short of the edge) is only widened, with white, not laid out again.
    Text the layout does not place (a label beyond the axes) can overflow: the figure is then narrowed by the
    overflow and laid out again (a few secant steps at most, to a fortieth of a millimetre)."""
    target = PRINT_WIDTH - 2 * PAD
    width, height = fig.get_size_inches()
    prev = None
    for _ in range(6):
        box = _tight_box(fig)
        got = float(box.width)
        error = got - target
        if error < 1e-3:  # inches: fits (within 0.02% of the width)
            break
        slope = 1.0
        if prev is not None and prev[0] != width and got != prev[1]:
            slope = (got - prev[1]) / (width - prev[0])
            slope = slope if 0.2 < slope < 5 else 1.0
        prev = (width, got)
        width = width - error / slope
        fig.set_size_inches(width, height)
    else:
        box = _tight_box(fig)
    if box.width < target:
        from matplotlib.transforms import Bbox

        extra = target - float(box.width)
        box = Bbox.from_extents(box.x0 - extra / 2, box.y0, box.x1 + extra / 2, box.y1)
    return box


def _tight_box(fig):
    """The box (inches) of what the figure draws, laid out (constrained layout runs on draw). Laid out only,
    not rasterised: the same layout and box as a full draw (the PNG and SVG bytes are unchanged, checked on
    every figure of the report), for about a tenth less CPU per figure; `render` saves the files from it."""
    fig.draw_without_rendering()
    return fig.get_tightbbox(fig.canvas.get_renderer())


def _save(fig, fmt: str, bbox=None, **kwargs) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI, bbox_inches=bbox or "tight", pad_inches=PAD, **kwargs)
    return buf.getvalue()


def png_bytes(fig, close: bool = True, bbox=None) -> bytes:
    """The figure as PNG at DPI, drawn by matplotlib, no software tag (`render` makes its PNG from the SVG)."""
    data = _save(fig, "png", bbox, metadata={"Software": None})
    if close:
        plt.close(fig)
    return data


def svg_text(fig, close: bool = True, bbox=None) -> str:
    """The figure as SVG, text as outlines (no date, no creator, ids from a fixed salt: deterministic)."""
    data = _save(fig, "svg", bbox, metadata={"Date": None, "Creator": None})
    if close:
        plt.close(fig)
    return data.decode("utf-8")


def texts(fig, draw: bool = True) -> list[Text]:
    """Every visible, non-empty text the figure draws (titles, labels, tick labels, annotations, legends)."""
    if draw:
        fig.draw_without_rendering()  # tick labels exist only once drawn
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and _drawn(t)]


def _drawn(text: Text) -> bool:
    """A tick label is drawn only if its tick is within the axis' view (matplotlib keeps spare ones)."""
    axes = text.axes
    if axes is None:
        return True
    for axis in (axes.xaxis, axes.yaxis):
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            if text in (tick.label1, tick.label2):
                return tick.get_visible() and (text is tick.label1 and tick.label1On
                                               or text is tick.label2 and tick.label2On)
    return True


def print_scale(fig, tight_width: float | None = None) -> float:
    """Printed size over drawn size: PRINT_WIDTH against the saved width (1.0 once fitted)."""
    return PRINT_WIDTH / ((tight_width if tight_width is not None else float(_tight_box(fig).width)) + 2 * PAD)


class Figure:
    """A rendered figure: displays as HTML in JupyterLab and in the report, and carries its SVG."""

    def __init__(self, png: bytes, *, title: str, caption: str, source: str, alt: str, wide: bool = False,
                 source_html: str | None = None, svg: str | None = None, sources: list[str] | None = None,
                 size_cm: tuple[float, float] | None = None, min_font_pt: float | None = None,
                 min_width_px: int | None = None):
        self.png, self.title, self.caption, self.source, self.alt = png, title, caption, source, alt
        self.wide = wide
        self.source_html = source_html if source_html is not None else html.escape(source)  # citations as links
        self.svg, self.sources, self.size_cm, self.min_font_pt = svg, list(sources or []), size_cm, min_font_pt
        self.min_width_px = min_width_px

    def html(self) -> str:
        b64 = base64.b64encode(self.png).decode("ascii")
        e = html.escape
        image = f'<img src="data:image/png;base64,{b64}" alt="{e(self.alt, quote=True)}"/>'
        if self.min_width_px:  # a dense figure keeps a readable width and scrolls inside its own box
            image = (f'<div class="figure-scroll" role="region" tabindex="0" style="overflow-x: auto" '
                     f'aria-label="{e(self.title, quote=True)} (scrolls sideways on a narrow screen)">'
                     f'{image[:-2]} style="min-width: {int(self.min_width_px)}px"/></div>')
        return (
            f'<figure class="report-figure">'
            f'<p class="figure-title">{e(self.title)}</p>'
            f'{image}'
            f"<figcaption>{caption_label('Figure')}{e(self.caption)}{' ' if in_lab() else ''}"
            f'<span class="source">{self.source_html}</span></figcaption>'
            f"</figure>"
        )

    def payload(self) -> dict:
        """The figure+json output (keys documented in the module docstring)."""
        meta = {"title": self.title, "caption": self.caption, "alt": self.alt, "sources": self.sources,
                "source": self.source, "source_html": self.source_html}
        if self.svg is not None:
            meta["svg"] = self.svg
        if self.size_cm is not None:
            meta["width_cm"], meta["height_cm"] = self.size_cm
        if self.min_font_pt is not None:
            meta["min_font_pt"] = self.min_font_pt
        if self.min_width_px:
            meta["min_width_px"] = self.min_width_px
        return meta

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html(), "image/png": base64.b64encode(self.png).decode("ascii"),
                MIME: self.payload(), "text/plain": f"Figure: {self.title}"}


def _source_ids(source) -> list[str]:
    from .data import source_ids

    return [] if isinstance(source, str) else [str(i) for i in source_ids(source)]


def render(fig, *, title: str, caption: str, source, alt: str, dense: bool = False) -> Figure:
    """The Figure `show` displays (closes `fig`). Refuses a figure with text under MIN_FONT_PT on paper.

    `dense`: a figure read by its numbers (a heatmap's cells). On paper its text is as large as any figure's,
    but shrunk to a phone's width (390 px) it is about 5 px: the HTML keeps it wide enough for its smallest
    text to be READABLE_PX and lets it scroll sideways inside its own box on a narrower screen."""
    for name, text in (("title", title), ("caption", caption), ("alt", alt)):
        if not str(text).strip():
            raise ValueError(f"figure {name} is required")
    tight = _fit_print_width(fig)  # leaves the figure laid out at its final size
    width, height = float(tight.width), float(tight.height)
    scale = print_scale(fig, width)
    sizes = [(t.get_text(), round(t.get_fontsize() * scale, 2)) for t in texts(fig, draw=False)]
    small = [(t, size) for t, size in sizes if size < MIN_FONT_PT - 0.01]
    if small:
        plt.close(fig)
        listed = "; ".join(f"{t!r} at {size:g} pt" for t, size in small[:5])
        raise ValueError(f"figure {title!r}: text smaller than {MIN_FONT_PT:g} pt on paper "
                         f"({len(small)}: {listed}); use charts.SMALL or larger")
    line, markup = links.source_line(source)
    # One save (the SVG, from the layout measured; a second save would be laid out again: savefig puts a layout
    # engine back from rcParams) and the PNG made from the SVG: one matplotlib draw per figure.
    box = tight.padded(PAD)
    with plt.rc_context({"figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)  # keep the layout as measured; savefig then skips its dry-run draw
    svg = svg_text(fig, close=False, bbox=box)
    plt.close(fig)
    png = raster.png_from_svg(svg, float(box.width), float(box.height), DPI)
    width, height = width + 2 * PAD, height + 2 * PAD
    smallest = min(size for _, size in sizes) if sizes else None
    # shown W px wide, text of s pt (of a figure PRINT_WIDTH * 72 pt wide) is s * W / (PRINT_WIDTH * 72) px
    readable = math.ceil(PRINT_WIDTH * 72 * READABLE_PX / smallest) if dense and smallest else None
    return Figure(png, title=title, caption=caption, source=line, alt=alt, source_html=markup, svg=svg,
                  sources=_source_ids(source), size_cm=(round(width * 2.54, 2), round(height * 2.54, 2)),
                  min_font_pt=smallest, min_width_px=readable)


def show(fig, *, title: str, caption: str, source, alt: str, dense: bool = False) -> None:
    """Render and display a figure with its title, caption, source line and alt text (`dense`: see render)."""
    out = render(fig, title=title, caption=caption, source=source, alt=alt, dense=dense)
    from IPython.display import display

    display(out)


def cells(ax, values, **kwargs):
    """A heatmap's coloured cells as vector rectangles, on imshow's grid (cell (row r, column c) centred at
    x=c, y=r, first row at the top): `ax.imshow` would put a raster image inside the SVG and the PDF.
    `kwargs` go to pcolormesh (cmap, norm, vmin, vmax); returns the mesh (for a colour bar)."""
    import numpy as np

    grid = np.ma.masked_invalid(np.asarray(values, dtype=float))
    rows, cols = grid.shape
    # Each cell's edge in its own colour, a hair wide: neighbours overlap, so no viewer shows seams.
    mesh = ax.pcolormesh(np.arange(cols + 1) - 0.5, np.arange(rows + 1) - 0.5, grid, edgecolors="face",
                         linewidth=0.3, **kwargs)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    return mesh


def reference_line(ax, level: float, label: str, x, above: bool = True) -> None:
    """A dashed grey target line (e.g. the 2% guideline) with its label just above or below it at x."""
    ax.axhline(level, color=GREY, lw=0.9, ls="--")
    ax.text(x, level + 0.06 if above else level - 0.07, label, fontsize=SMALL, color=GREY,
            va="bottom" if above else "top")


def label_end(ax, x, y, text, color, **kwargs):
    """Direct label at the end of a line (instead of a legend)."""
    ax.annotate(text, (x, y), xytext=(4, 0), textcoords="offset points", va="center",
                color=color, fontsize=8, **kwargs)
