"""The PDF, typeset by Typst from the report's document form.

The report page (the nbconvert template's HTML, built from the section outputs) is read into a small
document form: headings, paragraphs of inline runs (text, emphasis, code, links), lists, figures (image
bytes, title, caption, alt, source line), tables (columns, widths, alignment, cells with their links,
caption, note, anchor), call-outs, key-figure panels, the title page and the contents. The form is
written as JSON beside the project's Typst template (templates/natoua/report.typ), which places every
text as a string: nothing from the data is ever parsed as Typst markup.

The PDF is PDF/A-3a and PDF/UA-1, carries its attachments (claims.json, the CSVs read, datapackage.json)
as associated files, uses the project's fonts only and is dated from the edition, so its bytes are the
same on any machine, process and hash seed.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote_to_bytes

from . import paths

log = logging.getLogger("natoua.build")
TEMPLATE = paths.TEMPLATES / "natoua" / "report.typ"
FONTS = paths.TEMPLATES / "natoua" / "fonts"
PDF_STANDARDS = ["a-3a", "ua-1"]  # with attachments Typst accepts only PDF/A-3 (a, b, u) with UA-1
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCK_TAGS = {"p", "ul", "ol", "div", "figure", "table", "section", "aside", "blockquote", "pre", "h1", "h2", "h3",
              "h4", "h5", "h6", "hr", "header", "nav", "main", "dl"}
WS = re.compile(r"[ \t\n\r\f]+")


class PdfError(Exception):
    """The document cannot be typeset (a Typst error: e.g. an accessibility rule the form breaks)."""


# --- a small DOM of the page ------------------------------------------------------------------------

class Node:
    __slots__ = ("tag", "attrs", "children", "parent")

    def __init__(self, tag: str, attrs: dict, parent=None):
        self.tag, self.attrs, self.children, self.parent = tag, attrs, [], parent

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find(self, tag: str | None = None, cls: str | None = None):
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (cls is None or cls in c.classes):
                    return c
                found = c.find(tag, cls)
                if found is not None:
                    return found
        return None

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list:
        out = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (cls is None or cls in c.classes):
                    out.append(c)
                out += c.find_all(tag, cls)
        return out


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag):
        node = self.cur
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.cur = node.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(html: str) -> Node:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.root


# --- the document form ---------------------------------------------------------------------------

class _Form:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.tables = 0
        self.level = 0  # the last heading level, so none is skipped (PDF/UA)

    # inline runs
    def inlines(self, node: Node, mode: str = "") -> list:
        out: list = []
        for c in node.children:
            if isinstance(c, str):
                text = WS.sub(" ", c)
                if text:
                    out.append({"t": "ident", "s": text} if mode == "ident" else text)
                continue
            out += self.inline(c, mode)
        return _merge(out)

    def inline(self, n: Node, mode: str = "") -> list:
        tag, cls = n.tag, n.classes
        anchor = [{"t": "anchor", "id": n.attrs["id"]}] if n.attrs.get("id") and tag not in ("a",) else []
        if tag in ("wbr", "script", "style", "col", "colgroup", "img"):
            return []
        if tag == "br":
            return [{"t": "br"}]
        if tag in ("strong", "b"):
            return anchor + [{"t": "b", "c": self.inlines(n, mode)}]
        if tag in ("em", "i", "cite"):
            return anchor + [{"t": "i", "c": self.inlines(n, mode)}]
        if tag in ("code", "kbd", "samp", "tt"):
            return anchor + [{"t": "code", "s": WS.sub(" ", n.text())}]
        if tag in ("sup", "sub"):
            return [{"t": tag, "c": self.inlines(n, mode)}]
        if tag == "a" and cls & {"skip-link", "anchor-link"}:
            return []  # the HTML's skip link: the PDF's structure and bookmarks do that job
        if tag == "a":
            href = n.attrs.get("href") or ""
            inner_mode = "ident" if cls & {"url", "ref-url", "ident"} else mode
            body = self.inlines(n, inner_mode)
            if not _visible(body):
                return []  # a link must never be an empty (zero-area) annotation
            if "download" in n.attrs or href.startswith("data:"):
                return []  # the HTML's CSV downloads: the PDF carries the data as attachments instead
            if href.startswith("#"):
                kind = "ref" if cls & {"claim", "cite"} else "plainref"
                return [{"t": kind, "to": href[1:], "c": body}]  # dropped later if the target is missing
            if re.match(r"https?://", href):
                return [{"t": "link", "url": href, "c": body}]
            return body
        if "figure-number" in cls or "table-number" in cls:
            return [{"t": "b", "c": self.inlines(n, mode)}]
        if tag in BLOCK_TAGS:  # a block inside inline content (e.g. a list in a list item): flatten
            return anchor + self.inlines(n, mode)
        return anchor + self.inlines(n, "ident" if cls & {"url", "ref-url", "ident"} else mode)

    # blocks
    def blocks(self, node: Node) -> list:
        out: list = []
        pending: list = []

        def flush():
            if _visible(pending):
                out.append({"t": "p", "c": _strip(_merge(pending))})
            pending.clear()

        for c in node.children:
            if isinstance(c, str) or (c.tag not in BLOCK_TAGS and c.tag not in ("li", "img", "dt", "dd", "caption")):
                if isinstance(c, str):
                    pending.append(WS.sub(" ", c))
                else:
                    pending.extend(self.inline(c))
                continue
            flush()
            out += self.block(c)
        flush()
        return out

    def block(self, n: Node) -> list:
        tag, cls = n.tag, n.classes
        if tag == "header" and "title-page" in cls:
            return [self.title_page(n)]
        if tag == "nav" and "toc" in cls:
            title = n.find("h2")
            return [{"t": "toc", "title": title.text().strip() if title else "Contents"}]
        if tag == "section":
            self.level = 0
            blocks = self.blocks(n)
            sid = n.attrs.get("id")
            for b in blocks:  # the section's anchor goes on its title
                if b["t"] == "h":
                    b.setdefault("id", sid)
                    break
            return [{"t": "section"}] + blocks
        if re.fullmatch(r"h[1-6]", tag):
            level = 1 if "section-title" in cls else int(tag[1])
            level = max(1, min(level, self.level + 1))
            self.level = level
            no = n.find("span", "secno")
            body = Node(tag, {}, None)
            body.children = [c for c in n.children if c is not no]
            out = {"t": "h", "level": level, "c": _strip(self.inlines(body))}
            if no is not None:
                out["no"] = no.text().strip()
            if n.attrs.get("id"):
                out["id"] = n.attrs["id"]
            return [out]
        if tag == "p":
            if "status-banner" in cls:
                return [{"t": "callout", "kind": "banner", "title": [], "c": [{"t": "p", "c": self.inlines(n)}]}]
            if "running-title" in cls:
                return []
            kind = ("stale" if "stale" in cls else "freshness") if "freshness" in cls else \
                   ("source" if cls & {"source", "table-note"} else ("list-title" if "list-title" in cls else ""))
            body = _strip(self.inlines(n))
            return [{"t": "p", "c": body, "cls": kind}] if _visible(body) else []
        if tag in ("ul", "ol"):
            items = []
            for li in (c for c in n.children if isinstance(c, Node) and c.tag == "li"):
                item = {"c": self.blocks(li)}
                if li.attrs.get("id"):
                    item["id"] = li.attrs["id"]
                items.append(item)
            return [{"t": "list", "ordered": tag == "ol", "items": items,
                     "cls": "references" if "references" in cls else ""}] if items else []
        if tag == "figure":
            return [self.figure(n)]
        if tag == "div" and "report-table" in cls:
            return [self.table(n)]
        if tag == "table":
            wrapper = Node("div", {"class": "report-table"}, None)
            wrapper.children = [n]
            return [self.table(wrapper)]
        if tag == "aside" and "callout" in cls:
            title = n.find("p", "callout-title")
            body = Node("div", {}, None)
            body.children = [c for c in n.children if c is not title]
            kind = next((c.removeprefix("callout-") for c in cls if c.startswith("callout-")), "note")
            return [{"t": "callout", "kind": kind, "title": self.inlines(title) if title else [], "c": self.blocks(body)}]
        if tag == "div" and "key-figures" in cls:
            return [self.key_figures(n)]
        if tag == "blockquote":
            return [{"t": "quote", "c": self.blocks(n)}]
        if tag == "pre":
            return [{"t": "pre", "s": n.text()}]
        if tag == "hr":
            return [{"t": "hr"}]
        if tag == "img":  # images reach the PDF only inside report figures (with their alt text)
            if not (n.attrs.get("src") or "").startswith("data:"):
                raise PdfError(f"an image is not embedded in the page ({n.attrs.get('src', '')[:40]!r}): "
                               "the report is self-contained")
            return []
        if tag == "dl":
            items = []
            for c in n.children:
                if isinstance(c, Node) and c.tag in ("dt", "dd"):
                    items.append({"t": "p", "c": ([{"t": "b", "c": self.inlines(c)}] if c.tag == "dt" else self.inlines(c))})
            return items
        if tag in ("li", "dt", "dd", "caption"):
            return [{"t": "p", "c": self.inlines(n)}]
        return self.blocks(n)

    def title_page(self, n: Node) -> dict:
        def text(tag, cls=None):
            found = n.find(tag, cls)
            return WS.sub(" ", found.text()).strip() if found else ""

        dl = n.find("dl")
        facts, key = [], None
        for c in dl.children if dl else []:
            if isinstance(c, Node) and c.tag == "dt":
                key = WS.sub(" ", c.text()).strip()
            elif isinstance(c, Node) and c.tag == "dd" and key is not None:
                facts.append([key, WS.sub(" ", c.text()).strip()])
        return {"t": "titlepage", "kicker": text("p", "kicker"), "title": text("h1"), "subtitle": text("p", "subtitle"),
                "banner": text("p", "status-banner"), "facts": facts, "abstract": text("p", "abstract")}

    def figure(self, n: Node) -> dict:
        img = n.find("img")
        src = img.attrs.get("src", "") if img else ""
        data, fmt = _data_url(src)
        if data is None:
            raise PdfError(f"a figure's image is not embedded in the page ({src[:40]!r}): the report is self-contained")
        name = f"img/{len(self.files)}.{fmt}"
        self.files[name] = data
        title = n.find("p", "figure-title")
        cap = n.find("figcaption")
        label, caption, source = "", [], []
        if cap is not None:
            for c in cap.children:
                if isinstance(c, Node) and "figure-number" in c.classes:
                    label = WS.sub(" ", c.text()).strip()
                elif isinstance(c, Node) and "source" in c.classes:
                    source = _strip(self.inlines(c))
                else:
                    caption += [WS.sub(" ", c)] if isinstance(c, str) else self.inline(c)
        alt = (img.attrs.get("alt") or "").strip() or (title.text().strip() if title else "") or label or "Figure"
        return {"t": "figure", "img": name, "fmt": fmt, "alt": alt, "title": _strip(self.inlines(title)) if title else [],
                "label": label, "caption": _strip(_merge(caption)), "source": source}

    def table(self, n: Node) -> dict:
        self.tables += 1
        tbl = n.find("table")
        cap = tbl.find("caption") if tbl else None
        label, caption = "", []
        if cap is not None:
            for c in cap.children:
                if isinstance(c, Node) and "table-number" in c.classes:
                    label = WS.sub(" ", c.text()).strip()
                else:
                    caption += [WS.sub(" ", c)] if isinstance(c, str) else self.inline(c)
        widths = []
        for col in tbl.find_all("col") if tbl else []:
            m = re.search(r"width:\s*([0-9.]+)%", col.attrs.get("style", ""))
            widths.append(float(m.group(1)) if m else None)
        head_row = tbl.find("thead") if tbl else None
        head_cells = head_row.find_all("th") if head_row else []
        if not head_cells and tbl is not None:
            first = tbl.find("tr")
            head_cells = first.find_all("th") if first else []
        head = [_strip(self.inlines(th)) for th in head_cells]
        aligns = ["right" if "num" in th.classes or "right" in (th.attrs.get("style") or "") else "left" for th in head_cells]
        rows = []
        body_rows = [tr for tr in (tbl.find_all("tr") if tbl else []) if tr.find("td") is not None]
        for tr in body_rows:
            cells = []
            for td in (c for c in tr.children if isinstance(c, Node) and c.tag in ("td", "th")):
                align = "right" if "num" in td.classes or "text-align: right" in (td.attrs.get("style") or "") else "left"
                cells.append({"c": _strip(self.inlines(td)), "align": align})
            row = {"cells": cells}
            if tr.attrs.get("id"):
                row["id"] = tr.attrs["id"]
            rows.append(row)
        ncols = max([len(head)] + [len(r["cells"]) for r in rows] or [1])
        head += [[] for _ in range(ncols - len(head))]
        aligns += ["left"] * (ncols - len(aligns))
        for r in rows:
            r["cells"] += [{"c": [], "align": "left"} for _ in range(ncols - len(r["cells"]))]
        if len(widths) != ncols or any(w is None for w in widths):
            widths = [100 / ncols] * ncols
        total = sum(widths) or 100
        source = n.find("p", "source")
        note = n.find("p", "table-note")
        return {"t": "table", "key": str(self.tables), "label": label, "caption": _strip(_merge(caption)),
                "cols": [{"w": round(w * 100 / total, 3), "align": a} for w, a in zip(widths, aligns)],
                "head": head, "rows": rows, "source": _strip(self.inlines(source)) if source else [],
                "note": _strip(self.inlines(note)) if note else [], "id": n.attrs.get("id") or (tbl.attrs.get("id") if tbl else None),
                "compact": "compact" in n.classes, "keep": "keep-together" in n.classes}

    def key_figures(self, n: Node) -> dict:
        items = []
        for kf in n.find_all("div", "kf"):
            def text(cls):
                found = kf.find("span", cls)
                return WS.sub(" ", found.text()).strip() if found else ""
            items.append({"value": text("kf-value"), "label": text("kf-label"), "note": text("kf-note")})
        m = re.search(r"repeat\((\d+)", n.attrs.get("style", ""))
        cols = int(m.group(1)) if m else min(3, max(1, len(items)))
        return {"t": "kf", "items": items, "cols": cols}


    # --- from the outputs' data (the section form) -------------------------------------------------

    def output(self, data: dict) -> list:
        """One report output: from its natoua payload when that carries the whole form, else from its HTML."""
        from . import mimes

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
        return _strip(self.inlines(node))

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
        if p.get("width_cm"):
            out["width_cm"] = min(float(p["width_cm"]), TEXT_WIDTH_CM)
        return out

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


TEXT_WIDTH_CM = 17.4  # A4 less the 18 mm side margins of the template


def _payload(data: dict, mime: str):
    payload = data.get(mime)
    if isinstance(payload, str):
        payload = json.loads(payload)
    return payload if isinstance(payload, dict) else None


def _labels(x, found: set) -> set:
    if isinstance(x, list):
        for y in x:
            _labels(y, found)
    elif isinstance(x, dict):
        for key in ("id",):
            if isinstance(x.get(key), str):
                found.add(x[key])
        for v in x.values():
            if isinstance(v, (list, dict)):
                _labels(v, found)
    return found


def _drop_dangling_refs(blocks: list) -> None:
    """An internal link whose target the PDF does not carry keeps only its text (Typst refuses a link to a
    label that does not exist; a reader must never meet a link that leads nowhere)."""
    labels = _labels(blocks, set())

    def fix(x):
        if isinstance(x, list):
            out = []
            for y in x:
                if isinstance(y, dict) and y.get("t") in ("ref", "plainref") and y["to"] not in labels:
                    out += fix(y["c"])
                else:
                    out.append(fix(y))
            return out
        if isinstance(x, dict):
            return {k: fix(v) if isinstance(v, (list, dict)) else v for k, v in x.items()}
        return x

    blocks[:] = fix(blocks)


def _data_url(src: str):
    m = re.match(r"data:image/(png|svg\+xml|jpeg)(;base64)?,(.*)", src, re.S)
    if not m:
        return None, ""
    fmt = {"png": "png", "svg+xml": "svg", "jpeg": "jpg"}[m.group(1)]
    payload = m.group(3)
    data = base64.b64decode(payload) if m.group(2) else unquote_to_bytes(payload)
    return data, fmt


def _visible(runs) -> bool:
    for r in runs:
        if isinstance(r, str):
            if r.strip():
                return True
        elif r.get("t") in ("code", "ident"):
            if r["s"].strip():
                return True
        elif r.get("t") == "br" or _visible(r.get("c", [])):
            return True
    return False


def _merge(runs: list) -> list:
    out: list = []
    for r in runs:
        if isinstance(r, str) and out and isinstance(out[-1], str):
            out[-1] = WS.sub(" ", out[-1] + r)
        else:
            out.append(r)
    return out


def _strip(runs: list) -> list:
    runs = list(runs)
    if runs and isinstance(runs[0], str):
        runs[0] = runs[0].lstrip()
    if runs and isinstance(runs[-1], str):
        runs[-1] = runs[-1].rstrip()
    return [r for r in runs if r != ""]


_META = re.compile(r'<meta name="([^"]+)" content="([^"]*)"')
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def document_form(html: str) -> tuple[dict, dict[str, bytes]]:
    """The document form of a report page, and the image files it refers to."""
    import html as htmlmod

    root = parse(html)
    body = root.find("body") or root
    form = _Form()
    meta = {k: htmlmod.unescape(v) for k, v in _META.findall(html)}
    title_match = _TITLE.search(html)
    title = htmlmod.unescape(title_match.group(1)).strip() if title_match else "Report"
    running = body.find("p", "running-title")
    blocks = form.blocks(body)
    _drop_dangling_refs(blocks)
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
    form = _Form()
    blocks: list = []
    front = [c for c in nb.cells if c.get("metadata", {}).get("natoua", {}).get("front")]
    rest = [c for c in nb.cells if not c.get("metadata", {}).get("natoua", {}).get("front")]
    for cell in front + rest:
        if cell.cell_type == "raw":
            blocks += form.blocks(parse(cell.source))
        elif cell.cell_type == "markdown":
            blocks += form.blocks(parse(markdown2html_mistune(cell.source)))
        elif cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if out.get("output_type") in ("display_data", "execute_result"):
                    blocks += form.output(out.get("data", {}))
    _drop_dangling_refs(blocks)
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


def render(doc: dict, files: dict[str, bytes], attachments=()) -> bytes:
    """Typeset a document form into PDF bytes. `attachments` are (file name, bytes, description)."""
    import typst

    doc = dict(doc, attachments=[])
    with tempfile.TemporaryDirectory(prefix="natoua-pdf-") as tmp:
        root = Path(tmp)
        (root / "img").mkdir()
        (root / "att").mkdir()
        for name, content in files.items():
            (root / name).write_bytes(content)
        for i, (name, content, description) in enumerate(attachments):
            (root / "att" / str(i)).write_bytes(content)
            doc["attachments"].append({"name": name, "file": f"att/{i}", "description": description,
                                       "mime": _mime(name)})
        (root / "form.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        (root / "report.typ").write_bytes(TEMPLATE.read_bytes())
        try:
            pdf, warnings = typst.compile_with_warnings(
                str(root / "report.typ"), root=str(root), font_paths=[str(FONTS)], ignore_system_fonts=True,
                pdf_standards=PDF_STANDARDS)
        except typst.TypstError as exc:
            raise PdfError(f"the PDF could not be typeset: {exc}") from None
    for warning in warnings:  # e.g. a character no project font has: worth fixing, not worth failing over
        log.warning("PDF: %s", str(getattr(warning, "message", warning)).splitlines()[0])
    return pdf


def _mime(name: str) -> str:
    return {"csv": "text/csv", "json": "application/json"}.get(name.rsplit(".", 1)[-1], "application/octet-stream")


def html_to_pdf(html: str, attachments=()) -> bytes:
    """The PDF of a report page; `attachments` are (file name, bytes, description) embedded as associated files."""
    doc, files = document_form(html)
    return render(doc, files, attachments)
