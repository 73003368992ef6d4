"""A grid of values as an annotated heatmap, in house style (section 12's sensitivity grid, `natoua sweep`).

    heatmap.draw(ax, frame, fmt=lambda v: f"{v:.0%}", xlabel="Yearly chance of consensus",
                 ylabel="Ceasefire year")

`frame`'s index runs down the rows (first at the top), its columns across; every cell is labelled with its
formatted value, so the figure is read by its numbers and the colour only guides the eye (sequential
'cividis', readable with the common colour-vision deficiencies and in greyscale). A missing value (NaN)
is a blank, labelled cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CMAP = "cividis"


INK = "#1A1A1A"


def _luminance(rgb) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour given as 0-1 floats."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a, b) -> float:
    """WCAG contrast ratio of two colours (0-1 sRGB floats or any matplotlib colour)."""
    from matplotlib.colors import to_rgb

    la, lb = sorted((_luminance(to_rgb(a)), _luminance(to_rgb(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour(cell) -> str:
    """White or ink, whichever reads better on a cell of colour `cell` (WCAG contrast, not a guessed cut-off:
    white on a mid orange is only 3.7:1, ink 4.7:1)."""
    return "white" if contrast("white", cell) >= contrast(INK, cell) else INK


def draw(ax, frame: pd.DataFrame, *, fmt=lambda v: f"{v:.0%}", vmin: float | None = None,
         vmax: float | None = None, xlabel: str = "", ylabel: str = "", fontsize: float = 7.5,
         missing: str = "–", highlight: tuple | None = None, labels: pd.DataFrame | None = None):
    """Draw `frame` (numbers) on `ax` as a labelled heatmap; returns the mesh (for a colour bar).
    `labels` (same shape) gives each cell's text instead of `fmt(value)` (e.g. a claim as the report prints
    it); `highlight` (row label, column label) outlines that cell (e.g. the default assumptions), if present."""
    values = frame.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    low = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    high = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    if high <= low:
        high = low + 1.0  # a flat grid: one colour, still labelled
    from matplotlib import colormaps

    from . import charts

    cmap = colormaps[CMAP].with_extremes(bad="white")  # a missing value: a blank cell
    image = charts.cells(ax, values, cmap=cmap, vmin=low, vmax=high)  # vector cells, not a raster image
    colours = image.cmap(image.norm(np.nan_to_num(values, nan=low)))
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            text = str(labels.iat[i, j]) if labels is not None else fmt(v) if np.isfinite(v) else missing
            # clip_on: the label is inside its cell, so the layout need not measure it
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, clip_on=True,
                    color=text_colour(colours[i, j, :3]) if np.isfinite(v) else INK)
    if highlight is not None:
        rows, cols = [str(r) for r in frame.index], [str(c) for c in frame.columns]
        row, col = (str(x) for x in highlight)
        if row in rows and col in cols:
            from matplotlib.patches import Rectangle

            ax.add_patch(Rectangle((cols.index(col) - 0.5, rows.index(row) - 0.5), 1, 1, fill=False,
                                   edgecolor="#D55E00", linewidth=2.0))
    ax.set_xticks(range(values.shape[1]), [str(c) for c in frame.columns])
    ax.set_yticks(range(values.shape[0]), [str(r) for r in frame.index])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0)
    return image
