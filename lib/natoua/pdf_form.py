"""The PDF's document form of a report notebook (its section form): outputs from their
`application/vnd.natoua.*+json` payloads, Markdown and raw cells through natoua.pdf_html, and the document
around them (title, author, date, running header). natoua.typst_pdf typesets it."""

from __future__ import annotations

import base64
import json
import re

from . import mimes
from .pdf_generated import generated_blocks
from .pdf_dom import WS, finish, merge, parse, strip
from .pdf_html import HtmlForm
from .typst_pdf import render

class SectionForm(HtmlForm):
    """The form of a notebook's cells: HtmlForm for markup, the payloads for figures, tables and blocks."""

    def output(self, data: dict) -> list:
        """One report output: from its natoua payload when that carries the whole form, else from its HTML."""
        figure, table, block = (_payload(data, m) for m in (mimes.FIGURE, mimes.TABLE, mimes.BLOCK))
        if figure is not None and (figure.get("svg") or data.get("image/png")):
            return [self.figure_from(figure, data)]
        if table is not None and "columns" in table:
            return [self.table_from(table)]
        if block is not None:
            made = self.block_from(block)
            if made is not None:
                return made
        return self.blocks(parse(data.get("text/html", "")))

    def runs(self, markup: str) -> list:
        """Inline runs of a line of project HTML (a Source: line with its citation links)."""
        node = parse(markup)
        return strip(self.inlines(node))

    def figure_from(self, p: dict, data: dict) -> dict:
        if p.get("svg"):
            content, fmt = p["svg"].encode("utf-8"), "svg"
        else:
            png = data["image/png"]
            content, fmt = base64.b64decode("".join(png) if isinstance(png, list) else png), "png"
        name = f"img/{len(self.files)}.{fmt}"
        self.files[name] = content
        source = self.runs(p["source_html"]) if p.get("source_html") else ([p["source"]] if p.get("source") else [])
        out = {"t": "figure", "img": name, "fmt": fmt, "alt": p.get("alt") or p.get("title") or "Figure",
               "title": [p.get("title", "")] if p.get("title") else [], "label": p.get("label", ""),
               "caption": [p.get("caption", "")] if p.get("caption") else [], "source": source}
        return out  # set at the text column's width (charts lay out at 16 cm: in the 17.4 cm column text only grows)

    def table_from(self, p: dict) -> dict:
        self.tables += 1
        n = len(p["columns"])
        widths = p.get("widths") or [100 / max(n, 1)] * n
        align = p.get("align") or ["left"] * n
        halign = p.get("header_align") or align
        return {"t": "table", "key": str(self.tables), "label": p.get("label", ""), "caption": [p.get("caption", "")],
                "cols": [{"w": w, "align": a, "halign": h} for w, a, h in zip(widths, align, halign)],
                "head": [[c] for c in p["columns"]],
                "rows": [{"cells": [{"c": [str(v)], "align": a} for v, a in zip(row, align)]} for row in p.get("cells", [])],
                "source": self.runs(p["source_html"]) if p.get("source_html") else ([p["source"]] if p.get("source") else []),
                "note": [p["note"]] if p.get("note") else [], "id": p.get("anchor") or None,
                "compact": bool(p.get("compact")), "keep": bool(p.get("keep_together"))}

    def block_from(self, p: dict) -> list | None:
        kind = p.get("kind")
        if kind == "paragraph" and "text" in p:
            return [{"t": "p", "c": [p["text"]]}]
        if kind == "bullets" and "items" in p:
            items = [{"c": [{"t": "p", "c": ([{"t": "b", "c": [i["lead"]]}, " "] if i.get("lead") else []) + [i["text"]]}]}
                     for i in p["items"]]
            title = [{"t": "p", "c": [p["title"]], "cls": "list-title"}] if p.get("title") else []
            return title + [{"t": "list", "ordered": False, "items": items, "cls": ""}]
        if kind == "callout" and "text" in p:
            return [{"t": "callout", "kind": p.get("callout", "note"), "title": [p.get("title", "")],
                     "c": [{"t": "p", "c": [p["text"]]}]}]
        if kind == "key_figures" and "items" in p:
            return [{"t": "kf", "items": p["items"], "cols": int(p.get("columns") or 3)}]
        return None


def _payload(data: dict, mime: str):
    payload = data.get(mime)
    if isinstance(payload, str):
        payload = json.loads(payload)
    return payload if isinstance(payload, dict) else None


_META = re.compile(r'<meta name="([^"]+)" content="([^"]*)"')
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def document_form(html: str) -> tuple[dict, dict[str, bytes]]:
    """The document form of a report page, and the image files it refers to."""
    import html as htmlmod

    root = parse(html)
    body = root.find("body") or root
    form = SectionForm()
    meta = {k: htmlmod.unescape(v) for k, v in _META.findall(html)}
    title_match = _TITLE.search(html)
    title = htmlmod.unescape(title_match.group(1)).strip() if title_match else "Report"
    running = body.find("p", "running-title")
    blocks = form.blocks(body)
    blocks = finish(blocks)
    has_title_page = any(b["t"] == "titlepage" for b in blocks)
    doc = {
        "title": title,
        "author": meta.get("author", "natoua report system"),
        "date": (meta.get("dcterms.created") or "2026-01-01")[:10],
        "running": WS.sub(" ", running.text()).strip() if running else title,
        "header-from": 2 if has_title_page else 0,
        "footer-from": 1 if has_title_page else 0,
        "blocks": blocks,
        "attachments": [],
    }
    return doc, form.files


def notebook_form(nb, name: str = "report") -> tuple[dict, dict[str, bytes]]:
    """The document form of a report notebook whose claims are already in its prose and whose figures and
    tables are numbered (export.ReportPreprocessor): raw cells (title page, contents, section headings, the
    generated appendices) and Markdown (rendered by nbconvert's mistune) through the HTML reader, outputs from
    their payloads. Same order and landmarks as the HTML template: front cells first."""
    from nbconvert.filters.markdown import markdown2html_mistune

    meta = nb.metadata.get("natoua", {})
    form = SectionForm()
    blocks: list = []
    front = [c for c in nb.cells if c.get("metadata", {}).get("natoua", {}).get("front")]
    rest = [c for c in nb.cells if not c.get("metadata", {}).get("natoua", {}).get("front")]
    for cell in front + rest:
        data = cell.get("metadata", {}).get("natoua", {}).get("data")
        if cell.cell_type == "raw" and data:  # a generated page: from its data (natoua.pdf_generated)
            if data["kind"] == "ledger" or (data["kind"] == "changes" and data["moved"]):
                form.tables += 1
            blocks += generated_blocks(data, str(form.tables))
        elif cell.cell_type == "raw":
            blocks += form.blocks(parse(cell.source))
        elif cell.cell_type == "markdown":
            blocks += form.blocks(parse(markdown2html_mistune(cell.source)))
        elif cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if out.get("output_type") in ("display_data", "execute_result"):
                    blocks += form.output(out.get("data", {}))
    blocks = finish(blocks)
    title = meta.get("title") or name
    has_title_page = any(b["t"] == "titlepage" for b in blocks)
    doc = {
        "title": title,
        "author": meta.get("author", "natoua report system"),
        "date": str(meta.get("created") or meta.get("as_of") or "2026-01-01")[:10],
        "running": title,
        "header-from": 2 if has_title_page else 0,
        "footer-from": 1 if has_title_page else 0,
        "blocks": blocks,
        "attachments": [],
    }
    return doc, form.files


def html_to_pdf(html: str, attachments=()) -> bytes:
    """The PDF of a report page; `attachments` are (file name, bytes, description) embedded as associated files."""
    doc, files = document_form(html)
    return render(doc, files, attachments)
