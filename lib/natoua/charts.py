"""House chart style and the figure helper.

    fig, ax = charts.new()
    ax.plot(...)
    charts.show(fig, title="Poland's spending doubled", caption="...", source=df, alt="...")

`show` renders the figure once as an embedded PNG inside a <figure> with the
title (which states the finding), a caption numbered at export
("Figure 7.1"), a "Source:" line and alt text. Output is deterministic: no
timestamps or software tags in the PNG, fixed hash salt.
"""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")  # rendered to PNG ourselves; no GUI, no inline duplicate
import matplotlib.pyplot as plt  # noqa: E402

from . import links, mimes  # noqa: E402
from .labview import in_lab  # noqa: E402

MIME = mimes.FIGURE

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
BLUE, ORANGE, GREEN, VERMILION, SKY, PURPLE, YELLOW, BLACK = PALETTE
GREY = "#8C8C8C"
LIGHT_GREY = "#D9D9D9"
INK = "#1A1A1A"
DPI = 150


def apply_style() -> None:
    plt.rcParams.update({
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
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
        "legend.fontsize": 8,
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "figure.facecolor": "white",
        "svg.hashsalt": "natoua",
        "path.simplify": True,
    })


apply_style()


def new(width: float = 6.8, height: float = 3.4, **kwargs):
    """A figure and axes in house style (inches; 6.8 in fills the A4 text width)."""
    fig, ax = plt.subplots(figsize=(width, height), **kwargs)
    return fig, ax


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.08,
                metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


class Figure:
    """A rendered figure: displays as HTML in JupyterLab and in the report."""

    def __init__(self, png: bytes, *, title: str, caption: str, source: str, alt: str, wide: bool = False,
                 source_html: str | None = None):
        self.png, self.title, self.caption, self.source, self.alt = png, title, caption, source, alt
        self.wide = wide
        self.source_html = source_html if source_html is not None else html.escape(source)  # citations as links

    def html(self) -> str:
        b64 = base64.b64encode(self.png).decode("ascii")
        e = html.escape
        return (
            f'<figure class="report-figure">'
            f'<p class="figure-title">{e(self.title)}</p>'
            f'<img src="data:image/png;base64,{b64}" alt="{e(self.alt, quote=True)}"/>'
            f"<figcaption>{_label()}{e(self.caption)}{' ' if in_lab() else ''}"
            f'<span class="source">{self.source_html}</span></figcaption>'
            f"</figure>"
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        meta = {"title": self.title, "caption": self.caption, "source": self.source, "alt": self.alt}
        return {"text/html": self.html(), MIME: meta, "text/plain": f"Figure: {self.title}"}


def _label() -> str:
    """The caption's label, numbered at export ("Figure 7.2"); JupyterLab has no number, so it shows none."""
    return "" if in_lab() else '<span class="figure-number">Figure</span> '


def show(fig, *, title: str, caption: str, source, alt: str) -> None:
    """Render and display a figure with its title, caption, source line and alt text."""
    for name, text in (("title", title), ("caption", caption), ("alt", alt)):
        if not str(text).strip():
            raise ValueError(f"figure {name} is required")
    text, markup = links.source_line(source)
    out = Figure(png_bytes(fig), title=title, caption=caption, source=text, alt=alt, source_html=markup)
    from IPython.display import display

    display(out)


def reference_line(ax, level: float, label: str, x, above: bool = True) -> None:
    """A dashed grey target line (e.g. the 2% guideline) with its label just above or below it at x."""
    ax.axhline(level, color=GREY, lw=0.9, ls="--")
    ax.text(x, level + 0.06 if above else level - 0.07, label, fontsize=7, color=GREY,
            va="bottom" if above else "top")


def label_end(ax, x, y, text, color, **kwargs):
    """Direct label at the end of a line (instead of a legend)."""
    ax.annotate(text, (x, y), xytext=(4, 0), textcoords="offset points", va="center",
                color=color, fontsize=8, **kwargs)
