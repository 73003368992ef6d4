"""Quotation marks in one house style, in the HTML page and in the PDF: a straight double quote in the text
(prose written with ") becomes “ after a space, an opening bracket or a dash (or at the start of a block) and ”
otherwise. Apostrophes stay as written. Markup, attributes, code and style sheets are left as they are."""

from __future__ import annotations

import re

_PIECES = re.compile(r"(<[^>]*>)")
_VERBATIM = re.compile(r"<(style|script|code|pre)\b", re.I)
_BLOCK = re.compile(r"</?(p|li|td|th|h[1-6]|div|br|dd|dt|caption|figcaption)\b", re.I)
_QUOTE = re.compile(r'"|&quot;')
BEFORE_OPENING = set(" \t\n([{—–/\u00a0")


def curl(text: str, prev: str = " ") -> str:
    """`text` with its straight double quotes (or &quot;) curled; `prev` is the character read before it."""
    if '"' not in text and "&quot;" not in text:
        return text
    chunks, pos = [], 0
    for m in _QUOTE.finditer(text):
        before = text[pos:m.start()]
        prev = before[-1] if before else prev
        chunks.append(before + ("“" if prev in BEFORE_OPENING else "”"))
        prev = chunks[-1][-1]
        pos = m.end()
    chunks.append(text[pos:])
    return "".join(chunks)


def house_quotes(html: str) -> str:
    """An HTML page with the quotes of its text curled, read across inline tags; a block boundary opens again."""
    out, verbatim, last = [], None, " "
    for i, piece in enumerate(_PIECES.split(html)):
        if i % 2:  # a tag
            opening = _VERBATIM.match(piece)
            if verbatim is None and opening:
                verbatim = opening.group(1).lower()
            elif verbatim and piece.lower().startswith(f"</{verbatim}"):
                verbatim = None
            elif _BLOCK.match(piece):
                last = " "  # a block boundary: the next quote opens
        elif verbatim is None and piece:
            piece = curl(piece, last)
            last = piece[-1]
        out.append(piece)
    return "".join(out)
