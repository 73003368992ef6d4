"""Figures: the payload a renderer reads (SVG, PNG, title, caption, alt, sources), its bytes, fonts and text.

Sizes and fonts are read back from the SVG itself (the glyph outlines matplotlib writes, named after the font
they come from, scaled to the font size), not from the settings that should produce them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from matplotlib import font_manager

from natoua import charts, mimes, paths

SVG_NS = "{http://www.w3.org/2000/svg}"
HOSTILE_NAME = r"$\undefinedmacro$ Land"  # a country name as a hostile dataset might carry it


def bundle(fig, **kw) -> dict:
    args = dict(title="Spending rose", caption="A caption.", source="Source: NATO.", alt="A line chart.") | kw
    return charts.render(fig, **args)._repr_mimebundle_()


def simple_figure():
    fig, ax = charts.new(height=2.5)
    ax.bar(["Poland", "Estonia", "Germany"], [4.1, 3.4, -2.1])
    ax.set_ylabel("% of GDP")
    ax.set_title("Defence spending")
    return fig


def svg_root(svg: str) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))  # matplotlib names each text in a comment
    root = ET.fromstring(svg.encode("utf-8"), parser=parser)
    assert root.tag == f"{SVG_NS}svg"
    return root


def pt(length: str) -> float:
    assert length.endswith("pt"), length
    return float(length[:-2])


def printed_text_sizes(svg: str) -> list[tuple[str, float]]:
    """(text, size in pt on paper) of every text the SVG draws as glyph outlines: each text is a group
    `scale(s -s)` of glyphs drawn at 100 units per em, so its size is 100 s in the SVG's points, printed at
    PRINT_WIDTH_CM wide."""
    root = svg_root(svg)
    to_paper = charts.PRINT_WIDTH_CM / 2.54 * 72 / pt(root.get("width"))
    sizes = []
    for group in root.iter(f"{SVG_NS}g"):
        if not (group.get("id") or "").startswith("text_"):
            continue
        comments = [c.text for c in group if c.tag is ET.Comment]
        label = comments[0].strip() if comments else ""
        for inner in group.iter(f"{SVG_NS}g"):
            match = re.search(r"scale\(([0-9.]+) -([0-9.]+)\)", inner.get("transform") or "")
            if match:
                sizes.append((label, float(match.group(1)) * 100 * to_paper))
    return sizes


def glyph_fonts(svg: str) -> set[str]:
    """The fonts of the glyph outlines the SVG's texts use (glyph ids are <PostScript name>-<glyph>)."""
    fonts = set()
    for group in svg_root(svg).iter(f"{SVG_NS}g"):
        if (group.get("id") or "").startswith("text_"):
            for use in group.iter(f"{SVG_NS}use"):
                fonts.add(use.get("{http://www.w3.org/1999/xlink}href").lstrip("#").rsplit("-", 1)[0])
    return fonts


def test_dataset_text_with_maths_markers_is_drawn_literally():
    # A '$\macro$' in a country name made matplotlib parse TeX maths and fail the section (issue 19).
    fig, ax = charts.new(height=2.5)
    ax.barh([HOSTILE_NAME, "Poland"], [1.0, 2.0], label="$1 bn ($2 bn)")
    ax.annotate(HOSTILE_NAME, (1.0, 0))
    ax.set_title(f"{HOSTILE_NAME} costs $5")
    ax.legend()
    svg = bundle(fig)[mimes.FIGURE]["svg"]
    drawn = [text for text, _ in printed_text_sizes(svg)]
    # matplotlib names each text in a comment: the literal string, backslash and dollars included
    assert HOSTILE_NAME in drawn and f"{HOSTILE_NAME} costs $5" in drawn and "$1 bn ($2 bn)" in drawn
    # and draws the dollar and backslash glyphs (maths would have drawn neither)
    assert len(re.findall(r"<use xlink:href=\"#NotoSans-Regular-", svg)) >= 3 * len(HOSTILE_NAME)


def test_figure_output_carries_svg_png_and_what_a_renderer_needs():
    sources = pd.DataFrame({"source_id": ["anews-eu-candidates-2022-06-24", "alarabiya-france-agreement-2024-02-16", "anews-eu-candidates-2022-06-24", None]})
    out = bundle(simple_figure(), source=sources, alt='say "hi"')
    meta = out[mimes.FIGURE]
    json.dumps(meta)  # a notebook output must be JSON
    assert {"svg", "title", "caption", "alt", "sources", "source", "source_html", "width_cm", "height_cm"} <= set(meta)
    assert meta["title"] == "Spending rose" and meta["caption"] == "A caption." and meta["alt"] == 'say "hi"'
    assert meta["sources"] == ["anews-eu-candidates-2022-06-24", "alarabiya-france-agreement-2024-02-16"]
    assert meta["source_html"].count('href="#src-') == 2 and "Source:" in meta["source"]
    root = svg_root(meta["svg"])
    assert abs(pt(root.get("width")) / 72 * 2.54 - charts.PRINT_WIDTH_CM) < 0.01  # laid out at print width
    assert meta["width_cm"] == pytest.approx(charts.PRINT_WIDTH_CM, abs=0.01)
    assert meta["height_cm"] == pytest.approx(pt(root.get("height")) / 72 * 2.54, abs=0.01)
    assert not root.findall(f".//{SVG_NS}image") and not root.findall(f".//{SVG_NS}text")  # vector, outlines
    png = base64.b64decode(out["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert f'src="data:image/png;base64,{out["image/png"]}"' in out["text/html"]  # the HTML shows the same PNG
    assert 'alt="say &quot;hi&quot;"' in out["text/html"]


def test_hostile_text_stays_text_in_the_svg():
    fig = simple_figure()
    fig.axes[0].set_title("a -- b --> <script>alert(1)</script> & é")
    svg = bundle(fig)[mimes.FIGURE]["svg"]
    root = svg_root(svg)  # still well-formed XML
    assert not [e for e in root.iter() if isinstance(e.tag, str) and e.tag.endswith("script")] and "<script" not in svg


DETERMINISM_SCRIPT = """
import hashlib, sys
from natoua import charts, mimes
fig, ax = charts.new(height=2.5)
ax.bar(["Poland", "Estonia", "Germany", "Türkiye"], [4.1, 3.4, 2.1, -1.0])
for name in sorted({"Poland", "Estonia"}):  # set order depends on the hash seed
    ax.annotate(name, (0, 1))
ax.legend(handles=ax.patches[:1], labels=["Allies"])
out = charts.render(fig, title="t", caption="c", source="Source: NATO.", alt="a")._repr_mimebundle_()
print(hashlib.sha256(out[mimes.FIGURE]["svg"].encode()).hexdigest(), hashlib.sha256(out["image/png"].encode()).hexdigest())
"""


def test_figure_bytes_are_the_same_in_other_processes_and_hash_seeds():
    runs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        env.pop("SOURCE_DATE_EPOCH", None)  # matplotlib would date the SVG from it; it must not date it at all
        done = subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT], env=env, capture_output=True, text=True,
                              check=True)
        runs.append(done.stdout.split())
    assert len(runs[0]) == 2 and runs[0] == runs[1]


def test_text_is_set_in_the_projects_noto_and_nothing_else():
    fig = simple_figure()  # has a minus sign on its axis: Noto Sans lacks it, Noto Sans Math has it
    fonts = Path(paths.TEMPLATES / "natoua" / "fonts").resolve()
    for text in charts.texts(fig):
        found = Path(font_manager.findfont(text.get_fontproperties(), fallback_to_default=False)).resolve()
        assert found.parent == fonts, (text.get_text(), found)
    svg = bundle(fig)[mimes.FIGURE]["svg"]
    assert glyph_fonts(svg) == {"NotoSans-Regular", "NotoSansMath-Regular"}
    assert "DejaVu" not in svg


def test_a_system_noto_never_replaces_the_projects(tmp_path):
    # A machine with its own "Noto Sans" (another version): matplotlib keeps the first best match it lists.
    manager = font_manager.fontManager
    system_copy = font_manager.FontEntry(fname=str(tmp_path / "NotoSans-Regular.ttf"), name="Noto Sans")
    saved = list(manager.ttflist)
    try:
        manager.ttflist.insert(0, system_copy)
        manager._findfont_cached.cache_clear()
        charts.register_fonts()
        found = Path(font_manager.findfont(font_manager.FontProperties(family="Noto Sans")))
        assert found.resolve().parent == (paths.TEMPLATES / "natoua" / "fonts").resolve()
    finally:
        manager.ttflist[:] = saved
        manager._findfont_cached.cache_clear()


def test_every_text_is_at_least_the_minimum_size_on_paper():
    svg = bundle(simple_figure())[mimes.FIGURE]["svg"]
    sizes = printed_text_sizes(svg)
    assert len(sizes) >= 8  # title, label, tick labels
    assert min(size for _, size in sizes) >= charts.MIN_FONT_PT - 0.01


def test_a_figure_wider_than_the_column_is_laid_out_at_print_width():
    fig, ax = charts.new(width=12, height=3)  # would be shrunk to fit the column, its text with it
    ax.plot([1, 2], [3, 4])
    ax.set_xlabel("Year")
    meta = bundle(fig)[mimes.FIGURE]
    assert meta["width_cm"] == pytest.approx(charts.PRINT_WIDTH_CM, abs=0.01)
    assert min(size for _, size in printed_text_sizes(meta["svg"])) >= charts.MIN_FONT_PT - 0.01


def test_text_below_the_minimum_on_paper_is_refused():
    fig, ax = charts.new(height=2)
    ax.plot([1, 2], [3, 4])
    ax.text(1.5, 3.5, "tiny cell label", fontsize=5)
    with pytest.raises(ValueError, match=r"'tiny cell label' at 5 pt.*7 pt|7 pt.*'tiny cell label' at 5 pt"):
        bundle(fig)


def built_figures(edition_dir: Path) -> list[tuple[str, dict]]:
    import nbformat

    found = []
    for path in sorted((edition_dir / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if mimes.FIGURE in out.get("data", {}):
                    found.append((path.stem, out["data"][mimes.FIGURE]))
    return found


def invisible_hatches(svg: str) -> list[str]:
    """The hatch patterns whose lines are drawn in the colour of their own ground: a hatch that shows in
    matplotlib's own raster can vanish in the SVG (which the PDF sets and the HTML's PNG is made from), where the
    ground is opaque under the lines and the patch's opacity applies to both."""
    found = []
    for pattern in svg_root(svg).iter(f"{SVG_NS}pattern"):
        ground = [r.get("fill") for r in pattern.iter(f"{SVG_NS}rect")]
        lines = [re.search(r"stroke: *(#[0-9a-fA-F]{6})", p.get("style") or "") for p in pattern.iter(f"{SVG_NS}path")]
        if ground and any(m and m.group(1).lower() == ground[0].lower() for m in lines):
            found.append(pattern.get("id"))
    return found


def test_a_hatch_in_its_own_ground_colour_is_found():
    fig, ax = charts.new(height=2)
    ax.barh(0, 3, color=charts.SKY, alpha=0.45, hatch="////", edgecolor=charts.SKY)  # lines vanish in the SVG
    ax.barh(1, 3, color=charts.SKY, alpha=0.45, hatch="////", edgecolor=charts.SKY, hatchcolor=charts.INK)
    svg = bundle(fig)[mimes.FIGURE]["svg"]
    assert len(invisible_hatches(svg)) == 1 and len(svg_root(svg).findall(f".//{SVG_NS}pattern")) == 2


def check_built_figures(edition_dir: Path) -> dict[str, int]:
    """Every figure of a built edition: a valid SVG at print width in the project's Noto, text ≥ 7 pt."""
    figures = built_figures(edition_dir)
    assert figures, "no figures found"
    sizes = {}
    for notebook, meta in figures:
        where = f"{notebook}: {meta['title']}"
        svg = meta["svg"]
        root = svg_root(svg)
        assert abs(pt(root.get("width")) / 72 * 2.54 - charts.PRINT_WIDTH_CM) < 0.01, where
        assert glyph_fonts(svg) <= {"NotoSans-Regular", "NotoSans-Bold", "NotoSans-Italic", "NotoSansMath-Regular"}, where
        small = [(t, round(s, 2)) for t, s in printed_text_sizes(svg) if s < charts.MIN_FONT_PT - 0.01]
        assert not small, (where, small)
        assert not invisible_hatches(svg), where  # what the legend calls hatched shows hatched
        assert meta["alt"].strip() and meta["title"].strip() and meta["caption"].strip(), where
        sizes[where] = len(svg.encode("utf-8"))
    return sizes


def test_heatmap_cells_are_vector_rectangles_on_imshows_grid():
    import numpy as np

    values = np.array([[0.4, 1.2, np.nan], [2.1, 3.3, 4.0]])
    fig, ax = charts.new(height=2)
    charts.cells(ax, values, cmap="viridis", vmin=0, vmax=5)
    ax.text(2, 1, "4.0", ha="center")  # cell labels keep imshow's coordinates: column 2, row 1
    assert ax.get_xlim() == (-0.5, 2.5) and ax.get_ylim() == (1.5, -0.5)  # first row at the top
    svg = bundle(fig)[mimes.FIGURE]["svg"]
    assert "<image" not in svg  # imshow would embed a raster


def test_a_dense_figure_keeps_a_readable_width_in_the_html_and_scrolls_in_its_own_box():
    fig = simple_figure()
    fig.axes[0].text(0, 1, "0.4", fontsize=charts.SMALL)  # a cell label at the house minimum
    out = bundle(fig, dense=True)
    width = out[mimes.FIGURE]["min_width_px"]
    # shown `width` px wide, its smallest text (7 pt of a 16 cm figure) is at least 10 px high
    assert charts.MIN_FONT_PT * width / (charts.PRINT_WIDTH_CM / 2.54 * 72) >= 10
    html = out["text/html"]
    assert f'style="min-width: {width}px"' in html and 'style="overflow-x: auto"' in html and 'tabindex="0"' in html
    assert "min-width" not in bundle(simple_figure())["text/html"]  # ordinary figures fit the screen


def test_grey_for_notes_and_reference_labels_reads_at_aa_contrast_on_white():
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for colour in (charts.GREY, charts.INK):  # the colours notebooks and helpers give to text
        assert 1.05 / (luminance(colour) + 0.05) >= 4.5, colour


def test_a_figure_narrower_than_the_column_is_widened_with_white_in_one_layout(monkeypatch):
    """The print-width fit lays a figure out once when it fits: a drawn box short of the print width is
    widened evenly to it (white), not laid out again; its text stays at its size."""
    fig, ax = charts.new(height=2.5)
    fig.set_layout_engine("none")
    ax.set_position([0.3, 0.25, 0.4, 0.6])  # leaves a wide margin: the drawn box is far narrower than the column
    ax.plot([1, 2], [3, 4])
    layouts = []
    measure = charts._tight_box
    monkeypatch.setattr(charts, "_tight_box", lambda f: layouts.append(1) or measure(f))
    meta = bundle(fig)[mimes.FIGURE]
    assert len(layouts) == 1
    root = svg_root(meta["svg"])
    assert abs(pt(root.get("width")) / 72 * 2.54 - charts.PRINT_WIDTH_CM) < 0.01
    assert meta["width_cm"] == pytest.approx(charts.PRINT_WIDTH_CM, abs=0.01)
    sizes = printed_text_sizes(meta["svg"])
    assert min(s for _, s in sizes) >= charts.MIN_FONT_PT - 0.01 and max(s for _, s in sizes) <= 9.5 + 0.01


def test_text_beyond_the_axes_is_brought_inside_the_print_width():
    fig, ax = charts.new(height=2.5)
    ax.plot([2020, 2025], [1, 2])
    ax.annotate("a long direct label past the end of the line", (2025, 2), xytext=(4, 0), textcoords="offset points",
                fontsize=8)  # constrained layout does not make room for it: the drawn box overflows
    meta = bundle(fig)[mimes.FIGURE]
    assert pt(svg_root(meta["svg"]).get("width")) / 72 * 2.54 == pytest.approx(charts.PRINT_WIDTH_CM, abs=0.01)
    assert min(s for _, s in printed_text_sizes(meta["svg"])) >= charts.MIN_FONT_PT - 0.01
    assert any(t.startswith("a long direct label") for t, _ in printed_text_sizes(meta["svg"]))


def test_remembered_font_lookup_gives_matplotlibs_answer_and_follows_generic_families():
    import matplotlib.pyplot as plt

    manager = font_manager.fontManager
    original = manager._find_fonts_by_props.__wrapped__
    props = [font_manager.FontProperties(family=charts.FAMILIES, weight=w, style=s, size=z)
             for w in ("normal", "bold") for s in ("normal", "italic") for z in (7, 9.5)]
    for prop in props:
        assert manager._find_fonts_by_props(prop) == original(prop) == manager._find_fonts_by_props(prop)
    generic = font_manager.FontProperties(family=["sans-serif"])
    with plt.rc_context({"font.sans-serif": ["Noto Sans"]}):
        ours = manager._find_fonts_by_props(generic)
    with plt.rc_context({"font.sans-serif": ["DejaVu Sans"]}):
        dejavu = manager._find_fonts_by_props(generic)
        assert dejavu == original(generic)
    assert "NotoSans-Regular" in ours[0] and ours != dejavu


def test_heatmap_labels_take_the_colour_that_reads_best_on_their_cell():
    from natoua import heatmap

    # WCAG contrast ratios computed by hand from the 2.1 definition: white on #e6550d (figure 7.2's darkest
    # orange) is 3.7:1, below AA's 4.5:1; near-black ink on it is 4.7:1
    assert round(heatmap.contrast("white", "#e6550d"), 1) == 3.7
    assert round(heatmap.contrast("#1A1A1A", "#e6550d"), 1) == 4.7
    assert heatmap.contrast("white", "black") == pytest.approx(21.0)
    assert heatmap.text_colour("#e6550d") == heatmap.INK
    assert heatmap.text_colour("#08519c") == "white"  # dark blue: white reads better
    assert heatmap.text_colour((1.0, 1.0, 1.0)) == heatmap.INK
    # figure 7.2's seven bands: every label reaches AA contrast with the colour chosen
    for band in ["#e6550d", "#fdae6b", "#fee6ce", "#deebf7", "#9ecae1", "#4292c6", "#08519c"]:
        assert heatmap.contrast(heatmap.text_colour(band), band) >= 4.5, band


def test_the_files_are_saved_from_the_layout_the_fit_measured(monkeypatch):
    """One constrained layout per figure that fits: saving a file must not lay it out again (savefig puts a
    layout engine back from rcParams after a save, so a second file was laid out anew, its axes moved by up to
    half a point from the box the fit measured, at the cost of another layout)."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    layouts = []
    execute = ConstrainedLayoutEngine.execute
    monkeypatch.setattr(ConstrainedLayoutEngine, "execute", lambda self, fig: layouts.append(1) or execute(self, fig))
    fig = simple_figure()
    position = None
    fit = charts._fit_print_width

    def measured(f):
        nonlocal position
        box = fit(f)
        position = f.axes[0].get_position().bounds
        return box

    monkeypatch.setattr(charts, "_fit_print_width", measured)
    meta = bundle(fig)[mimes.FIGURE]
    assert len(layouts) == 1
    assert fig.axes[0].get_position().bounds == position
    root = svg_root(meta["svg"])
    assert abs(pt(root.get("width")) / 72 * 2.54 - charts.PRINT_WIDTH_CM) < 0.01


def png_pixels(png: bytes):
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    return image.mode, np.asarray(image.convert("RGB"))


def test_the_png_is_the_svg_rasterised_at_the_print_size():
    import numpy as np

    fig, ax = charts.new(height=2.5)
    ax.bar(["Poland", "Estonia"], [4.0, 2.0], color=charts.BLUE)
    ax.axhline(3.0, color=charts.VERMILION, ls="--")
    out = bundle(fig)
    meta, png = out[mimes.FIGURE], base64.b64decode(out["image/png"])
    root = svg_root(meta["svg"])
    mode, pixels = png_pixels(png)
    # DPI pixels per inch of the SVG's size (whole pixels, as matplotlib counts them)
    assert pixels.shape[:2] == (int(pt(root.get("height")) / 72 * charts.DPI + 1e-6),
                                int(pt(root.get("width")) / 72 * charts.DPI + 1e-6))
    assert mode in ("RGB", "RGBA") and tuple(pixels[0, 0]) == (255, 255, 255)  # opaque white ground
    colours = {tuple(int(c) for c in p) for p in pixels.reshape(-1, 3)}
    blue, vermilion = (tuple(int(charts.BLUE[i:i + 2], 16) for i in (1, 3, 5)),
                       tuple(int(charts.VERMILION[i:i + 2], 16) for i in (1, 3, 5)))
    assert blue in colours and vermilion in colours  # the bars and the dashed line are drawn
    # the taller bar: a solid block of blue well over a tenth of the picture's height
    columns = (pixels == np.array(blue)).all(axis=2).sum(axis=0)
    assert columns.max() > pixels.shape[0] / 3


def test_the_png_is_the_same_in_other_processes_and_hash_seeds_and_runs():
    script = DETERMINISM_SCRIPT + "\nprint(hashlib.sha256(charts.raster.png_from_svg(out[mimes.FIGURE]['svg'], 6.3, 2.5, 150)).hexdigest())\n"
    runs = []
    for seed in ("1", "2", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        runs.append(done.stdout.split())
    assert len(runs[0]) == 3 and runs[0] == runs[1] == runs[2]
