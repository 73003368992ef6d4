"""The table helper: a captioned, sourced HTML table with every cell escaped.

    tables.show(frame, caption="Summits and Ukraine decisions", source=summits,
                formats={"pct_gdp": "{:.2f}"})

The caption is numbered at export ("Table 11.1"). The table also carries a
CSV copy for download (HTML only), with formula-like cells neutralised
(OWASP CSV injection).
"""

from __future__ import annotations

import base64
import html
import re

import pandas as pd

from . import links, mimes
from .labview import caption_label

MIME = mimes.TABLE
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """A text cell that a spreadsheet will not evaluate: formula-like starts get a leading quote."""
    text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    if text.startswith(FORMULA_START) or text.lstrip()[:1] in FORMULA_START:  # " =1+1" is a formula too
        return "'" + text
    return text


def to_csv(frame: pd.DataFrame) -> str:
    """CSV for download; text columns are neutralised, numeric columns stay numbers."""
    safe = frame.copy()
    safe.columns = [csv_safe(c) for c in safe.columns]
    for col in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[col]):
            safe[col] = safe[col].map(csv_safe)
    return safe.to_csv(index=False, lineterminator="\n")


class Table:
    def __init__(self, frame: pd.DataFrame, *, caption: str, source: str, formats: dict | None = None,
                 align: dict | None = None, download: str | None = None, note: str = "",
                 widths: dict | None = None, compact: bool = False, source_html: str | None = None,
                 anchor: str = ""):
        self.frame, self.caption, self.source = frame, caption, source
        self.source_html = source_html if source_html is not None else html.escape(source)  # citations as links
        self.anchor = anchor  # id of the table, for links to it (e.g. a dataset in the data dictionary)
        self.compact = compact
        self.widths = widths or {}
        self.formats, self.align = formats or {}, align or {}
        self.download = download or _slug(caption)
        self.note = note

    def _cell(self, col, value) -> str:
        if value is None or (not isinstance(value, (str, list)) and pd.isna(value)):
            return "–"
        fmt = self.formats.get(col)
        if callable(fmt):
            return str(fmt(value))
        if isinstance(fmt, str):
            return fmt.format(value)
        if isinstance(value, pd.Timestamp):
            return value.strftime("%Y-%m-%d")
        if isinstance(value, float):
            return f"{value:,.2f}"
        return str(value)

    def html(self) -> str:
        e = html.escape
        numeric = {c for c in self.frame.columns if pd.api.types.is_numeric_dtype(self.frame[c])
                   and not pd.api.types.is_bool_dtype(self.frame[c])}
        head = "".join(
            f'<th class="{"num" if c in numeric else "txt"}" scope="col">{e(str(c))}</th>' for c in self.frame.columns
        )
        rows = []
        for _, row in self.frame.iterrows():
            cells = "".join(
                f'<td class="{self.align.get(c, "num" if c in numeric else "txt")}">{e(self._cell(c, row[c]))}</td>'
                for c in self.frame.columns
            )
            rows.append(f"<tr>{cells}</tr>")
        cols = "".join(f'<col style="width:{w:.1f}%"/>' for w in self._widths())
        csv_b64 = base64.b64encode(to_csv(self.frame).encode("utf-8")).decode("ascii")
        note = f'<p class="table-note">{e(self.note)}</p>' if self.note else ""
        keep = " keep-together" if len(self.frame) <= 12 else ""  # short tables never split across pages
        keep += " compact" if self.compact else ""
        anchor = f' id="{e(self.anchor, quote=True)}"' if self.anchor else ""
        return (
            f'<div class="report-table{keep}"{anchor}>'
            # a table wider than a phone scrolls inside its own box, which a keyboard can reach and which says so
            f'<div class="table-scroll" tabindex="0" role="region" aria-label="Table: {e(self.caption, quote=True)}">'
            f"<table><caption>{caption_label('Table')}{e(self.caption)}</caption>"
            f"<colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            f'<p class="source">{self.source_html}'
            f' <a class="download" download="{e(self.download)}.csv" aria-label="Download CSV: {e(self.caption, quote=True)}" '
            f'href="data:text/csv;charset=utf-8;base64,{csv_b64}">Download CSV</a></p>{note}'
            "</div>"
        )

    def _widths(self) -> list[float]:
        """Column widths (%) from content length unless given, so the table can use the fixed layout
        algorithm (auto layout measures every word of every cell, which makes long tables slow to print)."""
        weights = []
        for col in self.frame.columns:
            if col in self.widths:
                weights.append(None)
                continue
            texts = [self._cell(col, v) for v in self.frame[col]] + [str(col)]
            longest = max(len(t) for t in texts)
            longest_word = max((len(w) for t in texts for w in t.split()), default=1)
            weights.append(min(max(longest, longest_word, 4), 34) + 2)
        fixed = sum(self.widths.values())
        total = sum(w for w in weights if w is not None) or 1
        return [self.widths[c] if w is None else (100 - fixed) * w / total for c, w in zip(self.frame.columns, weights)]

    def payload(self) -> dict:
        """The table+json output: everything a renderer needs without reading the HTML (the PDF is typeset
        from it): columns, per-column alignment and width (%), the formatted cells (plain text), caption,
        source line (text, and as HTML with its citation links), note, anchor and layout hints."""
        numeric = {c for c in self.frame.columns if pd.api.types.is_numeric_dtype(self.frame[c])
                   and not pd.api.types.is_bool_dtype(self.frame[c])}
        return {
            "caption": self.caption, "source": self.source, "source_html": self.source_html,
            "rows": len(self.frame),
            "columns": [str(c) for c in self.frame.columns],
            "header_align": ["right" if c in numeric else "left" for c in self.frame.columns],
            "align": ["right" if self.align.get(c, "num" if c in numeric else "txt") == "num" else "left"
                      for c in self.frame.columns],
            "widths": [round(w, 3) for w in self._widths()],
            "cells": [[self._cell(c, row[c]) for c in self.frame.columns] for _, row in self.frame.iterrows()],
            "note": self.note, "anchor": self.anchor, "compact": self.compact,
            "keep_together": len(self.frame) <= 12,
        }

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html(), MIME: self.payload(), "text/plain": f"Table: {self.caption}"}


def show(frame: pd.DataFrame, *, caption: str, source, formats: dict | None = None,
         align: dict | None = None, note: str = "", widths: dict | None = None, compact: bool = False,
         anchor: str = "") -> None:
    """Display a captioned, sourced table; cells are escaped, CSV download is injection-safe.
    `compact` sets it in smaller type (reference tables in appendices); `anchor` gives it an id to link to."""
    if not caption.strip():
        raise ValueError("table caption is required")
    text, markup = links.source_line(source)
    out = Table(frame.reset_index(drop=True), caption=caption, source=text, source_html=markup,
                formats=formats, align=align, note=note, widths=widths, compact=compact, anchor=anchor)
    from IPython.display import display

    display(out)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "table"

