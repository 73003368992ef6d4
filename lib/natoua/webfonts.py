"""The report's own fonts inside the HTML page: @font-face rules with WOFF2 data URLs, still one self-contained file.

The faces are the project's font files (`templates/natoua/fonts/`, which the PDF uses too), each subset to the
characters the page holds (the whole page's characters, a superset of its visible text), so the page carries only
the glyphs it shows.
Subsetting is deterministic (no timestamps are rewritten), so the same page gives the same bytes.
"""

from __future__ import annotations

import base64
import io
import re
from functools import lru_cache

from . import paths

FONTS = paths.TEMPLATES / "natoua" / "fonts"
STYLE_ID = "natoua-webfonts"
#: The faces the stylesheet names (report.css) and the files they come from (the PDF uses the same files).
FACES = [
    ("natoua Serif", "400", "normal", "NotoSerif-Regular.ttf"),
    ("natoua Serif", "700", "normal", "NotoSerif-Bold.ttf"),
    ("natoua Serif", "400", "italic", "NotoSerif-Italic.ttf"),
    ("natoua Sans", "400", "normal", "NotoSans-Regular.ttf"),
    ("natoua Sans", "700", "normal", "NotoSans-Bold.ttf"),
    ("natoua Sans", "400", "italic", "NotoSans-Italic.ttf"),
    ("natoua Mono", "400", "normal", "NotoSansMono-Regular.ttf"),
    ("natoua Math", "400", "normal", "NotoSansMath-Regular.ttf"),
]
# Always kept, so text a reader types into a find box or that differs by a character still renders in the face.
_BASE = "".join(chr(c) for c in range(0x20, 0x7F))


def faces() -> list[tuple[str, str, str, str]]:
    """(family, weight, style, file name) of every face the page embeds."""
    return list(FACES)


@lru_cache(maxsize=32)
def _subset(file_name: str, characters: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(FONTS / file_name), recalcTimestamp=False)
    options = subset.Options()
    options.flavor = "woff2"
    options.hinting = False  # screens hint themselves; hinting is most of a font's size
    options.desubroutinize = True
    options.name_IDs = ["*"]  # keep the licence and copyright names (OFL)
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff2"
    font.save(out, reorderTables=False)
    return out.getvalue()


def font_face_css(page: str) -> str:
    """@font-face rules for every face, subset to the characters in `page`."""
    characters = "".join(sorted(set(page) | set(_BASE)))
    rules = []
    for family, weight, style, file_name in faces():
        data = base64.b64encode(_subset(file_name, characters)).decode("ascii")
        rules.append(f'@font-face {{ font-family: "{family}"; font-weight: {weight}; font-style: {style}; '
                     f'font-display: swap; src: url(data:font/woff2;base64,{data}) format("woff2"); }}')
    return "\n".join(rules)


def embed(page: str) -> str:
    """The page with its fonts embedded (a <style> before </head>)."""
    style = f'<style id="{STYLE_ID}">\n{font_face_css(page)}\n</style>\n'
    return page.replace("</head>", style + "</head>", 1)


def strip(page: str) -> str:
    """The page without the embedded fonts (the PDF renderer brings its own font files)."""
    return re.sub(rf'<style id="{STYLE_ID}">.*?</style>\n?', "", page, count=1, flags=re.S)
