"""The report's own fonts inside the HTML page: @font-face rules with WOFF2 data URLs, still one self-contained file.

The faces are the project's font files (`templates/natoua/fonts/`, which the PDF uses too), each subset to the
characters the page holds (the whole page's characters, a superset of its visible text), so the page carries only
the glyphs it shows.
Subsetting is deterministic (no timestamps are rewritten), so the same page gives the same bytes.

Subsetting costs about 2 s of CPU per page (fontTools parses each font's layout tables), and its result
depends only on the font file and the page's character set: with a cache folder set (`use_cache`; the runner
sets `reports/.cache/webfonts/`), each subset is kept on disk under a key of the font file's digest, the
fontTools version, the subsetting options and the characters, so a build whose text uses the same characters
reads the subsets instead of making them. An entry carries the digest of its bytes; one that does not match
(truncated, tampered) is made again and rewritten, never used.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from functools import lru_cache
from html import unescape
from pathlib import Path

from . import paths
from .files import write_atomic

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


# fontTools' subsetting options; part of each cache entry's key (change them and every entry is made again).
# No hinting: screens hint themselves, and hinting is most of a font's size. All name records: the licence and
# copyright names (OFL) stay with the font.
_OPTIONS = {"flavor": "woff2", "hinting": False, "desubroutinize": True, "name_IDs": ["*"], "notdef_outline": True}
_CACHE: Path | None = None


def use_cache(folder: Path | None) -> None:
    """Keep font subsets in `folder` (created when first written); None: in this process only."""
    global _CACHE
    _CACHE = Path(folder) if folder is not None else None


@lru_cache(maxsize=None)
def _font_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cache_key(path: Path, characters: str) -> str:
    import json

    import fontTools

    spec = json.dumps([_font_digest(path), fontTools.version, _OPTIONS, characters], ensure_ascii=True)
    return hashlib.sha256(spec.encode("ascii")).hexdigest()


def _read_entry(entry: Path) -> bytes | None:
    """An entry's font bytes, or None if it is missing or fails its digest (the first 32 bytes)."""
    try:
        raw = entry.read_bytes()
    except OSError:
        return None
    digest, data = raw[:32], raw[32:]
    return data if len(raw) > 32 and hashlib.sha256(data).digest() == digest else None


@lru_cache(maxsize=32)
def _subset(file_name: str, characters: str) -> bytes:
    path = FONTS / file_name
    entry = _CACHE / f"{_cache_key(path, characters)}.woff2" if _CACHE is not None else None
    if entry is not None:
        cached = _read_entry(entry)
        if cached is not None:
            return cached
    data = _make_subset(path, characters)
    if entry is not None:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(entry, hashlib.sha256(data).digest() + data)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return data


def _make_subset(path: Path, characters: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), recalcTimestamp=False)
    options = subset.Options(**_OPTIONS)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff2"
    font.save(out, reorderTables=False)
    return out.getvalue()


def font_face_css(page: str) -> str:
    """@font-face rules for every face, subset to the characters in `page`."""
    # the characters the page shows: a character reference ("&#182;") stands for its character
    characters = "".join(sorted(set(unescape(page)) | set(_BASE)))
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
